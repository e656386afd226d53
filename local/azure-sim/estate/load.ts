/** Reads and validates estate and fault files, reporting every problem at once. */
import fs from 'node:fs';
import type { z } from 'zod';
import { type FaultProfile, faultProfileSchema } from '../faults/schema';
import { type Estate, estateSchema } from './schema';

export interface EstateProblem {
  /** Dotted path of the offending field, e.g. `machines.3.disks`; empty for the whole file. */
  path: string;
  message: string;
}

export type Parsed<T> = { ok: true; estate: T } | { ok: false; problems: EstateProblem[] };

export function parseEstate(value: unknown): Parsed<Estate> {
  const result = estateSchema.safeParse(value);
  return result.success
    ? { ok: true, estate: result.data }
    : { ok: false, problems: problemsOf(result.error) };
}

export function parseFaults(
  value: unknown,
): { ok: true; faults: FaultProfile } | { ok: false; problems: EstateProblem[] } {
  const result = faultProfileSchema.safeParse(value);
  return result.success
    ? { ok: true, faults: result.data }
    : { ok: false, problems: problemsOf(result.error) };
}

/** Thrown by the file loaders; `problems` lists every one. */
export class InvalidFileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: EstateProblem[],
  ) {
    super(
      `${file} is invalid (${problems.length} problem(s)):\n${problems
        .map((p) => `  ${p.path === '' ? '(file)' : p.path}: ${p.message}`)
        .join('\n')}`,
    );
  }
}

export function loadEstateFile(file: string): Estate {
  const parsed = parseEstate(readJson(file));
  if (!parsed.ok) throw new InvalidFileError(file, parsed.problems);
  return parsed.estate;
}

export function loadFaultsFile(file: string): FaultProfile {
  const parsed = parseFaults(readJson(file));
  if (!parsed.ok) throw new InvalidFileError(file, parsed.problems);
  return parsed.faults;
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new InvalidFileError(file, [{ path: '', message: `cannot be read: ${(err as Error).message}` }]);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InvalidFileError(file, [{ path: '', message: `is not JSON: ${(err as Error).message}` }]);
  }
}

function problemsOf(error: z.ZodError): EstateProblem[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}

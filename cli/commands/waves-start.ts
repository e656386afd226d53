/**
 * `factory waves start PLAN [--name N] [--cutover auto|approval] [--idempotency-key K]
 *  [--url URL] [--key KEY] [--json]`: submits a plan (the JSON plan, or Microsoft's Input.csv) to
 * the API, which checks it against Azure and starts the wave. A plan with problems starts nothing:
 * every problem is printed (row, column, code, message) and the command exits 1.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CONNECTION_OPTIONS, connectionFrom, FactoryApi, runApiCommand, UsageError } from '../lib/api';

const USAGE = `usage: factory waves start PLAN [--name N] [--cutover auto|approval] [--idempotency-key K]
                          [--url URL] [--key KEY] [--json]`;

export function run(args: string[]): Promise<number> {
  return runApiCommand('waves start', USAGE, args, async (out) => {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        ...CONNECTION_OPTIONS,
        name: { type: 'string' },
        cutover: { type: 'string' },
        'idempotency-key': { type: 'string' },
      },
    });
    if (positionals.length !== 1) throw new UsageError('give exactly one plan file');
    const file = positionals[0]!;
    const cutover = values.cutover;
    if (cutover !== undefined && cutover !== 'auto' && cutover !== 'approval') {
      throw new UsageError(`--cutover must be auto or approval, not '${cutover}'`);
    }
    const api = new FactoryApi(connectionFrom(values));
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new Error(
        `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    const options = values['idempotency-key'] ? { idempotencyKey: values['idempotency-key'] } : {};
    const submitted = isJsonPlan(file, text)
      ? await api.submitWave(
          { type: 'application/json', text: withOverrides(text, values.name, cutover) },
          undefined,
          options,
        )
      : await api.submitWave(
          { type: 'text/csv', text },
          values.name ?? path.basename(file, path.extname(file)),
          { ...options, ...(cutover ? { cutover } : {}) },
        );
    const { counts: _counts, machines: _machines, ...wave } = submitted;
    out.result(
      wave,
      `Wave ${wave.id} (${wave.name}) started: ${wave.machineCount} machine(s), cut-over ${wave.cutover}\n` +
        `Follow it with: factory waves watch ${wave.id}`,
    );
    return 0;
  });
}

/** `.json` files, or any file whose text starts with `{`, are JSON plans; the rest are Input.csv. */
function isJsonPlan(file: string, text: string): boolean {
  return path.extname(file).toLowerCase() === '.json' || text.trimStart().startsWith('{');
}

/**
 * A JSON plan with --name and --cutover applied. Text that is not a JSON object goes as it is: the
 * API answers with what is wrong with it.
 */
function withOverrides(text: string, name: string | undefined, cutover: string | undefined): string {
  if (name === undefined && cutover === undefined) return text;
  let plan: unknown;
  try {
    plan = JSON.parse(text);
  } catch {
    return text;
  }
  if (typeof plan !== 'object' || plan === null || Array.isArray(plan)) return text;
  const value = plan as { name?: unknown; settings?: unknown };
  if (name !== undefined) value.name = name;
  if (cutover !== undefined) {
    const settings = typeof value.settings === 'object' && value.settings !== null ? value.settings : {};
    value.settings = { ...settings, cutover: { mode: cutover } };
  }
  return JSON.stringify(value);
}

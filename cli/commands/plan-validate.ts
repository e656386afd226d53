/**
 * `factory plan validate FILE [--estate FILE] [--json]` (contracts.md section 4): checks a plan,
 * CSV in Microsoft's Input.csv format or JSON, prints every problem and exits 1 if there is any.
 * With --estate the plan is also checked against that estate's inventory and landing zone.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  checkPlanCsv,
  checkPlanJson,
  type EstateLike,
  formatProblem,
  type Inventory,
  inventoryFromEstate,
  type PlanCheck,
} from '../../src/domain';

const USAGE = 'usage: factory plan validate FILE [--estate FILE] [--json]';

/** Exit codes: 0 no problem, 1 problems found, 2 the command could not run. */
export async function run(args: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(args);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { file, estate, json } = parsed;
  const fail = (message: string): number => {
    if (json) process.stdout.write(`${JSON.stringify({ error: message })}\n`);
    process.stderr.write(`factory plan validate: ${message}\n`);
    return 2;
  };

  let inventory: Inventory | undefined;
  if (estate !== undefined) {
    try {
      inventory = inventoryFromEstate(JSON.parse(await readFile(estate, 'utf8')) as EstateLike);
    } catch (err) {
      return fail(`cannot read the estate ${estate}: ${(err as Error).message}`);
    }
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return fail(`cannot read ${file}: ${(err as Error).message}`);
  }

  let check: PlanCheck;
  if (isJson(file, text)) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return fail(`${file} is not valid JSON: ${(err as Error).message}`);
    }
    check = checkPlanJson(value, { ...(inventory ? { inventory } : {}) });
  } else {
    const name = path.basename(file, path.extname(file));
    check = checkPlanCsv(text, { name }, { ...(inventory ? { inventory } : {}) });
  }

  if (json) {
    process.stdout.write(`${JSON.stringify(check.problems)}\n`);
  } else if (check.problems.length === 0) {
    process.stdout.write(`${file}: no problems (${check.plan?.machines.length ?? 0} machines)\n`);
  } else {
    for (const problem of check.problems) process.stdout.write(`${formatProblem(problem)}\n`);
    process.stdout.write(`${file}: ${check.problems.length} problem(s)\n`);
  }
  return check.problems.length === 0 ? 0 : 1;
}

function parseOptions(args: string[]): { file: string; estate?: string; json: boolean } {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { estate: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  if (positionals.length !== 1) throw new Error('give exactly one plan file');
  return {
    file: positionals[0]!,
    ...(values.estate !== undefined ? { estate: values.estate } : {}),
    json: values.json === true,
  };
}

/** `.json` files, or any file whose text starts with `{`, are JSON plans; the rest are Input.csv. */
function isJson(file: string, text: string): boolean {
  return path.extname(file).toLowerCase() === '.json' || text.trimStart().startsWith('{');
}

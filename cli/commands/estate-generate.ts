/** `factory estate generate N [--seed S]`: a realistic estate of N machines as JSON on stdout. */
import { parseArgs } from 'node:util';
import { generateEstate } from '../../local/azure-sim/estate/generate';
import { estateSchema } from '../../local/azure-sim/estate/schema';

export async function run(args: string[]): Promise<number> {
  let values: { seed?: string; json?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      options: { seed: { type: 'string' }, json: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`estate generate: ${(err as Error).message}\n`);
    return 2;
  }
  const n = Number(positionals[0]);
  const seed = values.seed === undefined ? 1 : Number(values.seed);
  if (positionals.length !== 1 || !Number.isInteger(n) || n < 0) {
    process.stderr.write('usage: factory estate generate N [--seed S] [--json]\n');
    return 2;
  }
  if (!Number.isInteger(seed)) {
    process.stderr.write(`estate generate: --seed must be a whole number, got '${values.seed}'\n`);
    return 2;
  }
  // The generator's output goes through the same validation as a hand-written estate file.
  const estate = estateSchema.parse(generateEstate(n, seed));
  process.stdout.write(`${JSON.stringify(estate, null, 2)}\n`);
  return 0;
}

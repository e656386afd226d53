/**
 * `npm run demo`: a rehearsal of a generated 25-machine estate on the simulated Azure, with
 * progress bars, ending in a table of machines and their final stage.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateEstate } from '../../local/azure-sim/estate/generate';
import { machineTable } from '../lib/progress';
import { rehearse } from '../lib/rehearsal';
import { summaryText } from './rehearse';

const MACHINES = 25;
const SEED = 7;

export async function run(args: string[]): Promise<number> {
  if (args.length > 0) {
    process.stderr.write(
      'usage: npm run demo (no options; see factory rehearse for a configurable rehearsal)\n',
    );
    return 2;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'factory-demo-'));
  const estateFile = path.join(dir, 'estate.json');
  writeFileSync(estateFile, JSON.stringify(generateEstate(MACHINES, SEED), null, 2));
  process.stderr.write(`Generated a ${MACHINES}-machine estate (seed ${SEED}) in ${estateFile}\n`);
  const outcome = await rehearse({
    estateFile,
    approveAll: false,
    chaosKills: 0,
    seed: SEED,
    progress: true,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  if (outcome.kind === 'invalid') {
    process.stderr.write(`the generated plan has problems:\n${JSON.stringify(outcome.problems, null, 2)}\n`);
    return 1;
  }
  process.stdout.write(`\n${machineTable(outcome.wave)}\n\n${summaryText(outcome.summary)}\n`);
  return outcome.summary.notFinished === 0 ? 0 : 1;
}

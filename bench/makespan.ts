/**
 * Makespan of a generated estate's wave with automatic cut-over, rehearsed on the whole local stack:
 * virtual makespan against the lower bound of contracts.md section 3, wall time, the ledger, and
 * the virtual hours each stage took (p50/p90/max beside the timing model), which show where a
 * makespan above the lower bound comes from.
 *
 *   npm run build && node dist/bench/makespan.js [--machines 1000] [--seed 1] [--time-scale X] [--json]
 *
 * Prints figures only; it never passes or fails on time.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { rehearse } from '../cli/lib/rehearsal';
import { generateEstate } from '../local/azure-sim/estate/generate';
import { sampleCpu } from './cpu';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      machines: { type: 'string', default: '1000' },
      seed: { type: 'string', default: '1' },
      'time-scale': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const machines = Number(values.machines);
  const seed = Number(values.seed);
  const dir = mkdtempSync(path.join(tmpdir(), 'factory-bench-'));
  const estateFile = path.join(dir, 'estate.json');
  writeFileSync(estateFile, JSON.stringify(generateEstate(machines, seed)));
  const cpu = sampleCpu();
  const outcome = await rehearse({
    estateFile,
    cutover: 'auto',
    approveAll: false,
    chaosKills: 0,
    seed,
    progress: !values.json,
    log: (line) => process.stderr.write(`${line}\n`),
    ...(values['time-scale'] ? { timeScale: Number(values['time-scale']) } : {}),
  });
  const cpuSeconds = cpu.stop();
  if (outcome.kind === 'invalid') {
    process.stderr.write(`the generated plan has problems: ${JSON.stringify(outcome.problems)}\n`);
    return 1;
  }
  const s = outcome.summary;
  const figures = {
    bench: 'makespan',
    machine: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown cpu'}`,
    estateMachines: machines,
    waveMachines: s.machines,
    seed,
    timeScale: s.timeScale,
    virtualMakespanHours: s.virtualMakespanHours,
    lowerBoundHours: s.lowerBoundHours,
    efficiency: s.efficiency,
    wallSeconds: s.wallSeconds,
    onboarded: s.onboarded,
    failed: s.failed,
    notFinished: s.notFinished,
    ledger: s.ledger,
    /** Where the virtual time went, per stage (virtual hours; the timing model's as modelHours). */
    stageHours: s.stageHours,
    /** CPU of the bench with the simulator, the local host and Azurite (Linux only), sampled each second. */
    ...(cpuSeconds === undefined ? {} : { cpuSeconds }),
  };
  if (values.json) process.stdout.write(`${JSON.stringify(figures)}\n`);
  else
    process.stdout.write(
      `${s.machines} machines: virtual makespan ${s.virtualMakespanHours} h, lower bound ${s.lowerBoundHours} h, efficiency ${s.efficiency}, ${s.wallSeconds} s wall at ${s.timeScale}x\n${JSON.stringify(s.ledger)}\n${JSON.stringify(s.stageHours)}\n` +
        (cpuSeconds === undefined ? '' : `CPU seconds: ${JSON.stringify(cpuSeconds)}\n`),
    );
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`makespan: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);

/**
 * The journal's cost per operation against Azurite, by wave size: a wave of N machines is created
 * and every machine is moved through a whole pipeline (12 stage changes, each with its audit row),
 * then the reads operators and activities make are timed on the full wave. One Azurite per size,
 * warmed up on a small wave first; operations one at a time, so each latency is that of one call
 * (client + Azurite). Azurite's own CPU per call (from /proc, Linux only) leaves the client out.
 *
 *   npm run build && node dist/bench/journal.js [--machines 100,1000] [--json]
 *
 * Prints figures only; it never passes or fails on time.
 */
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startAzurite } from '../local/azurite';
import { ACTIVE_STAGES, type Stage } from '../src/domain/lifecycle';
import { createJournal } from '../src/store';
import type { Journal } from '../src/store/types';
import { cpuMsOf, descendants } from './cpu';

/** The stage changes of a machine in a wave with automatic cut-over, Queued to Done: 12. */
const PIPELINE: Stage[] = [
  ...ACTIVE_STAGES.filter((stage) => stage !== 'Queued' && stage !== 'AwaitingApproval'),
  'Done',
];
const COUNT_READS = 50;
const AUDIT_READS = 100;
const WARM_UP_MACHINES = 50;

/** Latencies of one kind of call, in ms, and Azurite's CPU time per call. */
interface Timing {
  calls: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  azuriteCpuMsPerCall?: number;
}

interface Figures {
  machines: number;
  createWave: Timing;
  /** Every stage change of the wave; the first and last rounds show the growth as rows accumulate. */
  recordStage: Timing & { firstRoundMeanMs: number; lastRoundMeanMs: number };
  updateMachine: Timing;
  getMachine: Timing;
  countByStage: Timing;
  listMachinesPage100: Timing;
  listMachinesPage1000: Timing;
  listAuditOfMachine: Timing;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** The CPU time (ms) used so far by the Azurite this process started; undefined off Linux. */
function azuriteCpuReader(): () => number | undefined {
  const azurite = [...(descendants() ?? [])].find(([, kind]) => kind === 'azurite')?.[0];
  return () => (azurite === undefined ? undefined : cpuMsOf(azurite));
}

/** Times each call of a phase, and adds up Azurite's CPU time during its calls (10 ms ticks). */
class Phase {
  readonly samples: number[] = [];
  readonly #azuriteCpu: () => number | undefined;
  #cpuMs = 0;
  #cpuKnown = true;

  constructor(azuriteCpu: () => number | undefined) {
    this.#azuriteCpu = azuriteCpu;
  }

  async time(call: () => Promise<unknown>): Promise<void> {
    const cpuBefore = this.#azuriteCpu();
    const start = performance.now();
    await call();
    this.samples.push(performance.now() - start);
    const cpuAfter = this.#azuriteCpu();
    if (cpuBefore === undefined || cpuAfter === undefined) this.#cpuKnown = false;
    else this.#cpuMs += cpuAfter - cpuBefore;
  }

  timing(): Timing {
    const sorted = [...this.samples].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
    const calls = Math.max(1, sorted.length);
    return {
      calls: sorted.length,
      meanMs: round(sorted.reduce((a, b) => a + b, 0) / calls),
      p50Ms: round(at(0.5)),
      p95Ms: round(at(0.95)),
      ...(this.#cpuKnown ? { azuriteCpuMsPerCall: round(this.#cpuMs / calls) } : {}),
    };
  }
}

/** A fixed shuffle (LCG), so reads do not walk the machines in the order they were written. */
function shuffled<T>(items: T[]): T[] {
  const copy = [...items];
  let seed = 12_345;
  for (let i = copy.length - 1; i > 0; i--) {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    const j = seed % (i + 1);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

async function walkPages(journal: Journal, waveId: string, pageSize: number, phase: Phase): Promise<void> {
  let token: string | undefined;
  do {
    await phase.time(async () => {
      const page = await journal.listMachines(waveId, {
        pageSize,
        ...(token === undefined ? {} : { continuationToken: token }),
      });
      token = page.continuationToken;
    });
  } while (token !== undefined);
}

const at = (minute: number) => new Date(Date.UTC(2026, 10, 21, 10, minute)).toISOString();

async function createWave(journal: Journal, waveId: string, names: string[]): Promise<void> {
  const created = await journal.createWave({
    id: waveId,
    name: waveId,
    cutover: 'auto',
    at: at(0),
    machines: names.map((name) => ({ name, plan: { targetVmSize: 'Standard_D2s_v5' } })),
  });
  if (created.kind !== 'created') throw new Error(`${waveId} not created: ${created.kind}`);
}

/**
 * Moves every machine through the pipeline, a stage at a time across the wave as a wave fills up,
 * with a progress update while seeding. Returns the mean latency of each round of stage changes.
 */
async function runPipeline(
  journal: Journal,
  waveId: string,
  names: string[],
  stages: Phase,
  updates: Phase,
): Promise<number[]> {
  const roundMeans: number[] = [];
  for (const [step, to] of PIPELINE.entries()) {
    const before = stages.samples.length;
    for (const machineName of shuffled(names)) {
      await stages.time(() =>
        journal.recordStage({ waveId, machineName, to, at: at(step + 1), changeId: `${machineName}:${to}` }),
      );
    }
    const latencies = stages.samples.slice(before);
    roundMeans.push(latencies.reduce((a, b) => a + b, 0) / latencies.length);
    if (to === 'InitialSeeding') {
      for (const machineName of shuffled(names)) {
        await updates.time(() =>
          journal.updateMachine(waveId, machineName, { progressPercent: 50 }, at(step + 1)),
        );
      }
    }
  }
  return roundMeans;
}

async function measure(machines: number): Promise<Figures> {
  const azurite = await startAzurite();
  try {
    const azuriteCpu = azuriteCpuReader();
    const phase = () => new Phase(azuriteCpu);
    // Both processes' code is compiled by the JIT on a small wave in tables of its own first.
    const warmUp = await createJournal({ connectionString: azurite.connectionString, tablePrefix: 'warmup' });
    const warmUpNames = Array.from({ length: WARM_UP_MACHINES }, (_, i) => `warm-${i}`);
    await createWave(warmUp, 'warm-up', warmUpNames);
    await runPipeline(warmUp, 'warm-up', warmUpNames, phase(), phase());
    await walkPages(warmUp, 'warm-up', 10, phase());

    const journal = await createJournal({ connectionString: azurite.connectionString, tablePrefix: 'bench' });
    const names = Array.from({ length: machines }, (_, i) => `vm-${String(i).padStart(5, '0')}`);
    const waveId = `wave-${machines}`;
    const create = phase();
    await create.time(() => createWave(journal, waveId, names));
    const stages = phase();
    const updates = phase();
    const roundMeans = await runPipeline(journal, waveId, names, stages, updates);

    const gets = phase();
    for (const name of shuffled(names)) await gets.time(() => journal.getMachine(waveId, name));
    const counts = phase();
    for (let i = 0; i < COUNT_READS; i++) {
      await counts.time(async () => {
        const byStage = await journal.countByStage(waveId);
        if (byStage.Done !== machines) throw new Error(`counted ${byStage.Done} Done of ${machines}`);
      });
    }
    const audits = phase();
    for (const name of shuffled(names).slice(0, AUDIT_READS)) {
      await audits.time(() => journal.listAudit(waveId, { machineName: name }));
    }
    const pages100 = phase();
    await walkPages(journal, waveId, 100, pages100);
    const pages1000 = phase();
    await walkPages(journal, waveId, 1000, pages1000);
    return {
      machines,
      createWave: create.timing(),
      recordStage: {
        ...stages.timing(),
        firstRoundMeanMs: round(roundMeans[0] ?? 0),
        lastRoundMeanMs: round(roundMeans.at(-1) ?? 0),
      },
      updateMachine: updates.timing(),
      getMachine: gets.timing(),
      countByStage: counts.timing(),
      listMachinesPage100: pages100.timing(),
      listMachinesPage1000: pages1000.timing(),
      listAuditOfMachine: audits.timing(),
    };
  } finally {
    await azurite.stop();
  }
}

function line(label: string, t: Timing): string {
  const cpu = t.azuriteCpuMsPerCall === undefined ? '' : `  Azurite CPU ${t.azuriteCpuMsPerCall} ms/call`;
  return `  ${label.padEnd(22)} ${String(t.calls).padStart(6)} calls  mean ${t.meanMs} ms  p50 ${t.p50Ms} ms  p95 ${t.p95Ms} ms${cpu}`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      machines: { type: 'string', default: '100,1000' },
    },
  });
  const sizes = values.machines.split(',').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1))
    throw new Error('--machines takes sizes like 100,1000');
  const results: Figures[] = [];
  for (const size of sizes) {
    if (!values.json) process.stderr.write(`measuring a wave of ${size} machines...\n`);
    results.push(await measure(size));
  }
  if (values.json) {
    // Figures from a busy machine are not comparable: the load average says how busy it was.
    const machine = { cores: availableParallelism(), loadAverage1m: round(loadavg()[0]!) };
    process.stdout.write(`${JSON.stringify({ ...machine, results }, null, 2)}\n`);
    return;
  }
  for (const r of results) {
    process.stdout.write(
      [
        `${r.machines} machines`,
        line('createWave', r.createWave),
        `${line('recordStage', r.recordStage)}  (first round ${r.recordStage.firstRoundMeanMs} ms, last ${r.recordStage.lastRoundMeanMs} ms)`,
        line('updateMachine', r.updateMachine),
        line('getMachine', r.getMachine),
        line('countByStage', r.countByStage),
        line('listMachines page 100', r.listMachinesPage100),
        line('listMachines page 1000', r.listMachinesPage1000),
        line('listAudit of machine', r.listAuditOfMachine),
      ].join('\n') + '\n',
    );
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});

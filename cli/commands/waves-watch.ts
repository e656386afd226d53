/**
 * `factory waves watch WAVE [--interval SECONDS] [--url URL] [--key KEY] [--json]`: progress bars
 * (stderr) until every machine of the wave is in a final stage, then the table of machines (or
 * the wave as JSON). Exits 1 when any machine Failed, 0 when all are Done or Cancelled.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import {
  ApiError,
  CONNECTION_OPTIONS,
  connectionFrom,
  FactoryApi,
  runApiCommand,
  UnreachableError,
  UsageError,
  type WaveView,
} from '../lib/api';
import { finishedCount, machineTable, summaryLine, waveProgress } from '../lib/progress';

const USAGE = 'usage: factory waves watch WAVE [--interval SECONDS] [--url URL] [--key KEY] [--json]';

/** Real seconds between two reads of the wave unless --interval says otherwise. */
const DEFAULT_INTERVAL_S = 2;
/** Real ms the API may be unreachable or failing (a host restarting) before watch gives up. */
const MAX_OUTAGE_MS = 60_000;

/** Every machine is final and the wave orchestration has recorded the end of the wave. */
export function waveFinished(wave: WaveView): boolean {
  return (
    finishedCount(wave) === wave.machineCount && (wave.status === 'Completed' || wave.status === 'Cancelled')
  );
}

export function run(args: string[]): Promise<number> {
  return runApiCommand('waves watch', USAGE, args, async (out) => {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: { ...CONNECTION_OPTIONS, interval: { type: 'string' } },
    });
    if (positionals.length !== 1) throw new UsageError('give exactly one wave id');
    const waveId = positionals[0]!;
    const intervalS = values.interval === undefined ? DEFAULT_INTERVAL_S : Number(values.interval);
    if (!Number.isFinite(intervalS) || intervalS <= 0) {
      throw new UsageError('--interval must be a positive number of seconds');
    }
    const api = new FactoryApi(connectionFrom(values));
    const bars = waveProgress();
    let wave: WaveView | undefined;
    let failingSince: number | undefined;
    try {
      for (;;) {
        try {
          wave = await api.waveCounts(waveId);
          failingSince = undefined;
        } catch (err) {
          // A 404, a refused key or an unreachable API before the first answer is the operator's
          // mistake; after it, a host restarting or a transient 5xx is waited out.
          const passing = err instanceof UnreachableError || (err instanceof ApiError && err.status >= 500);
          if (wave === undefined || !passing) throw err;
          failingSince ??= Date.now();
          if (Date.now() - failingSince > MAX_OUTAGE_MS) throw err;
          bars.update(wave, `(${(err as Error).message})`);
        }
        if (wave !== undefined) {
          bars.update(wave);
          if (waveFinished(wave)) {
            wave = await api.wave(waveId);
            break;
          }
        }
        await sleep(intervalS * 1000);
      }
    } finally {
      bars.stop();
    }
    const failed = wave.counts.Failed ?? 0;
    out.result(wave, `${machineTable(wave)}\n\n${summaryLine(wave)}`);
    if (failed > 0) out.log(`factory waves watch: ${failed} machine(s) failed`);
    return failed > 0 ? 1 : 0;
  });
}

/**
 * Progress of a wave on a terminal: one bar for the wave (machines in a final stage) and one per
 * phase of the pipeline, redrawn in place on a TTY (cli-progress), or one line per change otherwise.
 */
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import { ACTIVE_STAGES, type ActiveStage, FINAL_STAGES, type Stage } from '../../src/domain/lifecycle';
import type { WaveView } from './api';

/** The stages from `first` on in the pipeline's order, and Done: a machine there has reached the phase. */
export function stagesFrom(first: ActiveStage): Stage[] {
  return [...ACTIVE_STAGES.slice(ACTIVE_STAGES.indexOf(first)), 'Done'];
}

/** The bars, each named by the first stage that counts as having reached it. */
const PHASES: { label: string; reached: Stage[] }[] = [
  { label: 'replicated', reached: stagesFrom('ReadyToTest') },
  { label: 'tested', reached: stagesFrom('ReadyForCutover') },
  { label: 'migrated', reached: stagesFrom('Completing') },
  { label: 'onboarded', reached: ['Done'] },
];

export interface WaveProgress {
  update(wave: WaveView, note?: string): void;
  stop(): void;
}

export function finishedCount(wave: WaveView): number {
  return FINAL_STAGES.reduce((sum, stage) => sum + (wave.counts[stage] ?? 0), 0);
}

function countOf(wave: WaveView, stages: Stage[]): number {
  return stages.reduce((sum, stage) => sum + (wave.counts[stage] ?? 0), 0);
}

export function summaryLine(wave: WaveView): string {
  const parts = Object.entries(wave.counts)
    .filter(([, n]) => (n ?? 0) > 0)
    .map(([stage, n]) => `${stage} ${n}`);
  return `${wave.name}: ${finishedCount(wave)}/${wave.machineCount} final (${parts.join(', ')})`;
}

/** Bars go to stderr so that `--json` output on stdout stays one document. */
export function waveProgress(stream: NodeJS.WriteStream = process.stderr): WaveProgress {
  if (!stream.isTTY) {
    let last = '';
    return {
      update(wave, note) {
        const line = `${summaryLine(wave)}${note ? ` ${note}` : ''}`;
        if (line !== last) stream.write(`${line}\n`);
        last = line;
      },
      stop() {},
    };
  }
  const multi = new MultiBar(
    { stream, format: ' {label} |{bar}| {value}/{total} {note}', hideCursor: true, clearOnComplete: false },
    Presets.shades_classic,
  );
  let bars: { wave: SingleBar; phases: SingleBar[] } | undefined;
  return {
    update(wave, note = '') {
      const total = wave.machineCount;
      bars ??= {
        wave: multi.create(total, 0, { label: 'final     ', note: '' }),
        phases: PHASES.map((p) => multi.create(total, 0, { label: p.label.padEnd(10), note: '' })),
      };
      bars.wave.update(finishedCount(wave), { note: `${wave.status}${note ? ` ${note}` : ''}` });
      for (const [i, phase] of PHASES.entries()) {
        bars.phases[i]?.update(countOf(wave, phase.reached), { note: '' });
      }
    },
    stop() {
      multi.stop();
    },
  };
}

/** A plain table of machines and their final stage, for the end of a rehearsal or `waves watch`. */
export function machineTable(wave: WaveView): string {
  const rows = wave.machines
    .slice()
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((m) => [
      m.name,
      m.stage === 'Failed' && m.failedStage ? `Failed (in ${m.failedStage})` : m.stage,
      m.error?.recommendedAction ?? m.error?.message ?? '',
    ]);
  const header = ['MACHINE', 'STAGE', 'NOTE'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/**
 * `factory rehearse --estate FILE [--plan FILE.csv|FILE.json] [--faults FILE] [--cutover auto|approval]
 *  [--approve-all] [--chaos-kills N] [--time-scale X] [--seed S] [--json]` (contracts.md section 4).
 */
import { parseArgs } from 'node:util';
import { formatProblem } from '../../src/domain';
import { machineTable } from '../lib/progress';
import {
  RehearsalInputError,
  type RehearsalOptions,
  type RehearsalSummary,
  rehearse,
} from '../lib/rehearsal';

const USAGE = `usage: factory rehearse --estate FILE [--plan FILE.csv|FILE.json] [--faults FILE]
                        [--cutover auto|approval] [--approve-all] [--chaos-kills N]
                        [--time-scale X] [--seed S] [--host-log FILE] [--json]`;

export function parseRehearseArgs(
  args: string[],
): Omit<RehearsalOptions, 'log' | 'progress'> & { json: boolean } {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      estate: { type: 'string' },
      plan: { type: 'string' },
      faults: { type: 'string' },
      cutover: { type: 'string' },
      'approve-all': { type: 'boolean', default: false },
      'chaos-kills': { type: 'string', default: '0' },
      'time-scale': { type: 'string' },
      seed: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
      'host-log': { type: 'string' },
    },
  });
  if (!values.estate) throw new Error('--estate FILE is required');
  if (values.cutover !== undefined && values.cutover !== 'auto' && values.cutover !== 'approval') {
    throw new Error(`--cutover must be auto or approval, not '${values.cutover}'`);
  }
  const whole = (name: string, text: string, min: number) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min)
      throw new Error(`--${name} must be a whole number of at least ${min}`);
    return n;
  };
  const timeScale = values['time-scale'] === undefined ? undefined : Number(values['time-scale']);
  if (timeScale !== undefined && (!Number.isFinite(timeScale) || timeScale <= 0)) {
    throw new Error('--time-scale must be a positive number');
  }
  return {
    estateFile: values.estate,
    ...(values.plan ? { planFile: values.plan } : {}),
    ...(values.faults ? { faultsFile: values.faults } : {}),
    ...(values.cutover ? { cutover: values.cutover as 'auto' | 'approval' } : {}),
    approveAll: values['approve-all'] === true,
    chaosKills: whole('chaos-kills', values['chaos-kills'], 0),
    ...(timeScale === undefined ? {} : { timeScale }),
    seed: whole('seed', values.seed, 0),
    json: values.json === true,
    ...(values['host-log'] ? { hostLogFile: values['host-log'] } : {}),
  };
}

/** Virtual hours per stage that took any time: p50/p90/max, and the timing model's in brackets. */
function stagesText(summary: RehearsalSummary): string {
  const parts = Object.entries(summary.stageHours)
    .filter(([, h]) => h.max > 0)
    .map(
      ([stage, h]) =>
        `${stage} ${h.p50}/${h.p90}/${h.max}${h.modelHours === undefined ? '' : ` (${h.modelHours})`}`,
    );
  return `virtual hours per stage, p50/p90/max (timing model): ${parts.join(', ') || 'none'}`;
}

export function summaryText(summary: RehearsalSummary): string {
  const l = summary.ledger;
  return [
    `wave ${summary.waveId}: ${summary.onboarded}/${summary.machines} onboarded, ${summary.failed} failed, ${summary.cancelled} cancelled, ${summary.notFinished} not finished`,
    `virtual makespan ${summary.virtualMakespanHours} h (lower bound ${summary.lowerBoundHours} h, efficiency ${summary.efficiency}), ${summary.wallSeconds} s wall at ${summary.timeScale}x, ${summary.chaosKills} host kill(s)`,
    `ledger: ${l.armReads} ARM reads, ${l.armWrites} ARM writes, ${l.functionExecutions} function executions; duplicate migrate calls ${l.duplicateMigrateCalls}, leaked test VMs ${l.leakedTestVms}, undeleted migration items ${l.undeletedMigrationItems}`,
    stagesText(summary),
  ].join('\n');
}

export async function run(args: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseRehearseArgs>;
  try {
    parsed = parseRehearseArgs(args);
  } catch (err) {
    process.stderr.write(`factory rehearse: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { json, ...options } = parsed;
  try {
    const outcome = await rehearse({
      ...options,
      progress: true,
      log: (line) => process.stderr.write(`${line}\n`),
    });
    if (outcome.kind === 'invalid') {
      if (json) process.stdout.write(`${JSON.stringify({ problems: outcome.problems })}\n`);
      else for (const p of outcome.problems) process.stdout.write(`${formatProblem(p)}\n`);
      process.stderr.write(
        `factory rehearse: the plan has ${outcome.problems.length} problem(s); nothing started\n`,
      );
      return 1;
    }
    if (json) {
      process.stdout.write(`${JSON.stringify(outcome.summary)}\n`);
    } else {
      process.stdout.write(`${machineTable(outcome.wave)}\n\n${summaryText(outcome.summary)}\n`);
    }
    const s = outcome.summary;
    const clean =
      s.ledger.duplicateMigrateCalls + s.ledger.leakedTestVms + s.ledger.undeletedMigrationItems === 0;
    return s.notFinished === 0 && clean ? 0 : 1;
  } catch (err) {
    if (err instanceof RehearsalInputError) {
      if (json) process.stdout.write(`${JSON.stringify({ problems: err.problems })}\n`);
      process.stderr.write(`factory rehearse: nothing started.\n${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

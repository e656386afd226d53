/**
 * The decisions of the VM pipeline, as pure functions of what the orchestration has read: whether a
 * started Azure operation is still running, done or failed; when to look again; where a retried
 * machine continues; whether the cut-over gate is open. The orchestration (vmPipeline.ts) only
 * sequences them; the unit tests call them directly.
 */
import type { ItemSnapshot } from '../activities/contract';
import type { AzureErrorInfo } from '../domain/errors';
import type { Stage } from '../domain/lifecycle';
import type { Cutover } from '../domain/plan';
import { cutoverWindowState } from '../domain/scheduling';
import { type Instant, larger, smaller } from './support';

/** The Azure operations the pipeline starts and then waits for. */
export type Phase = 'seeding' | 'testMigrate' | 'testCleanup' | 'migrate' | 'complete';

export type Verdict =
  | { kind: 'wait'; percent?: number }
  | { kind: 'done' }
  | { kind: 'failed'; error: AzureErrorInfo }
  /** Initial seeding failed; a resync recovers it (contracts.md section 2). */
  | { kind: 'resync'; error: AzureErrorInfo };

function failure(item: ItemSnapshot, code: string, fallback: string): AzureErrorInfo {
  if (item.healthError) return item.healthError;
  return { code, message: item.migrationStateDescription ?? fallback };
}

function missing(phase: Phase): Verdict {
  return {
    kind: 'failed',
    error: {
      code: 'MigrationItemNotFound',
      message: `The migration item disappeared while waiting for ${phase}; it was deleted outside the factory.`,
      recommendedAction:
        'Retry the machine: the factory starts replication again from the current state in Azure.',
    },
  };
}

/** Where a started operation stands, judged from the migration item (null: the item does not exist). */
export function judge(phase: Phase, item: ItemSnapshot | null): Verdict {
  if (phase === 'complete') {
    if (item === null) return { kind: 'done' };
    if (item.migrationState === 'DisableMigrationFailed') {
      return {
        kind: 'failed',
        error: failure(item, 'DisableMigrationFailed', 'Completing the migration failed.'),
      };
    }
    return { kind: 'wait' };
  }
  if (item === null) return missing(phase);
  const state = item.migrationState;
  switch (phase) {
    case 'seeding':
      if (state === 'EnableMigrationFailed') {
        return {
          kind: 'failed',
          error: failure(item, 'EnableMigrationFailed', 'Enabling replication failed.'),
        };
      }
      if (state === 'InitialSeedingFailed') {
        return {
          kind: 'resync',
          error: failure(item, 'InitialSeedingFailed', 'Initial replication failed.'),
        };
      }
      // Replicating (or further along, for a machine resumed after an earlier run) means seeding is over.
      if (
        state === 'Replicating' ||
        state === 'MigrationInProgress' ||
        state === 'MigrationSucceeded' ||
        state === 'MigrationFailed'
      ) {
        return { kind: 'done' };
      }
      return { kind: 'wait', ...percentOf(item.initialSeedingProgressPercent) };
    case 'testMigrate':
      if (item.testMigrateState === 'TestMigrationSucceeded') return { kind: 'done' };
      if (item.testMigrateState === 'TestMigrationFailed') {
        return { kind: 'failed', error: failure(item, 'TestMigrationFailed', 'The test migration failed.') };
      }
      return { kind: 'wait' };
    case 'testCleanup':
      if (item.testMigrateState === 'None' && !item.allowedOperations.includes('TestMigrateCleanup')) {
        return { kind: 'done' };
      }
      if (item.testMigrateState === 'TestMigrationCleanupFailed') {
        return {
          kind: 'failed',
          error: failure(item, 'TestMigrationCleanupFailed', 'Cleaning up the test failed.'),
        };
      }
      return { kind: 'wait' };
    case 'migrate':
      if (state === 'MigrationSucceeded') return { kind: 'done' };
      if (state === 'MigrationFailed') {
        return { kind: 'failed', error: failure(item, 'MigrationFailed', 'The migration failed.') };
      }
      return { kind: 'wait', ...percentOf(item.migrationProgressPercent) };
  }
}

function percentOf(value: number | undefined): { percent?: number } {
  return value === undefined ? {} : { percent: value };
}

export interface Progress {
  /** Epoch ms. */
  at: number;
  percent: number;
}

export interface PollTiming {
  minMs: number;
  maxMs: number;
}

/**
 * When to read the item next, in epoch ms. With two progress readings the operation's rate gives
 * a projected completion time. The next read is then, if that is within `maxMs`; further off, it
 * is halfway there (but not sooner than `maxMs`), so a changed rate is noticed while the reads of
 * a long seeding stay few (about log2 of its hours). Never sooner than `minMs`. Without progress,
 * back-off doubles from `minMs` with every read that showed no progress, up to `maxMs`.
 */
export function nextPollAt(
  now: number,
  timing: PollTiming,
  polls: number,
  previous: Progress | undefined,
  current: Progress | undefined,
): number {
  if (previous && current && current.percent > previous.percent && current.at > previous.at) {
    const rate = (current.percent - previous.percent) / (current.at - previous.at);
    const remaining = (100 - current.percent) / rate;
    const delay = remaining <= timing.maxMs ? remaining : larger(timing.maxMs, remaining / 2);
    return now + larger(timing.minMs, delay);
  }
  return now + smaller(timing.maxMs, larger(timing.minMs, timing.minMs * 2 ** larger(0, polls)));
}

/** An Azure operation this run started: when it began (epoch ms), and the step's typical duration. */
export interface Started {
  at: number;
  typicalMs?: number;
}

/**
 * An operation started when Azure says it did, else at `at` (epoch ms, the pipeline's clock when it
 * asked), with the typical duration its start answered, if any. Azure's start leaves out the time
 * the start request waited for the app (for a free activity slot, say): counted in, that wait would
 * delay every read planned from the start and lengthen every duration the wave learns from it.
 */
export function startedAt(at: number, outcome: { typicalMs?: number; startedAt?: number }): Started {
  const when = outcome.startedAt ?? at;
  return outcome.typicalMs === undefined ? { at: when } : { at: when, typicalMs: outcome.typicalMs };
}

/** How far past its typical end a step is first read: Azure's durations vary a little. */
export const TYPICAL_MARGIN = 0.1;

/**
 * The first read of an operation this run started at `startedAt`: just after its typical end when
 * the wave has learned one (but not before `minMs` has passed), else after `minMs`, where back-off
 * begins.
 */
export function firstReadAt(
  now: number,
  startedAt: number,
  timing: PollTiming,
  typicalMs?: number,
  margin = TYPICAL_MARGIN,
): number {
  if (typicalMs === undefined) return nextPollAt(now, timing, 0, undefined, undefined);
  return larger(now, startedAt + larger(timing.minMs, typicalMs * (1 + margin)));
}

/**
 * How far ahead of its typical end a seeding is first read (a negative margin). The wave's figure
 * is a mean over machines whose appliances and disks seed at different rates; a read ahead of the
 * end projects the end from the progress, while a read after it holds the slot for nothing.
 */
export const SEEDING_MARGIN = -0.25;

/** From this progress on, the time since the enable request places the seeding's end within a percent or so. */
export const PROJECT_FROM_PERCENT = 50;

/**
 * A seeding's end as a reading of its progress since the enable request (`startedAt`) projects it,
 * taking the middle of Azure's rounding down of the percentage; undefined below
 * PROJECT_FROM_PERCENT, where the rounding leaves the end too uncertain and `nextPollAt` backs off
 * or halves the way instead.
 */
export function seedingEndAt(startedAt: number, reading: Progress): number | undefined {
  if (reading.percent < PROJECT_FROM_PERCENT || reading.at <= startedAt) return undefined;
  return startedAt + ((reading.at - startedAt) * 100) / smaller(100, reading.percent + 0.5);
}

/** The seeding time per GB of disk a reading implies: what a wave learns for its later machines. */
export function seedingMsPerGB(startedAt: number, reading: Progress, diskGB: number): number | undefined {
  const end = seedingEndAt(startedAt, reading);
  return end === undefined || !(diskGB > 0) ? undefined : (end - startedAt) / diskGB;
}

/** Where a machine's pipeline starts: from the beginning, or, on a retry, from the truth in Azure. */
export type StartPoint =
  | 'Validating'
  | 'InitialSeeding'
  | 'TestMigrating'
  | 'CleaningUpTest'
  | 'ReadyForCutover'
  | 'MigratingCutover'
  | 'Completing'
  | 'Onboarding';

/**
 * Where a retried machine continues. The migration item is the truth; the stage the machine failed
 * in (from the journal) only tells apart what the item cannot: a missing item before enable and
 * after completion, and a finished test before the cut-over gate.
 */
export function startPoint(
  item: ItemSnapshot | null,
  failedStage: Stage | undefined,
  testMigration: boolean,
): StartPoint {
  if (item === null) {
    return failedStage === 'Completing' || failedStage === 'Onboarding' ? 'Onboarding' : 'Validating';
  }
  const state = item.migrationState;
  if (
    state === 'MigrationSucceeded' ||
    state === 'DisableMigrationInProgress' ||
    state === 'DisableMigrationFailed'
  ) {
    return 'Completing';
  }
  if (state === 'MigrationInProgress' || state === 'MigrationFailed') return 'MigratingCutover';
  if (state !== 'Replicating') return 'InitialSeeding';
  if (item.testMigrateState !== 'None' || item.allowedOperations.includes('TestMigrateCleanup')) {
    return 'CleaningUpTest';
  }
  const pastTest =
    failedStage === 'ReadyForCutover' ||
    failedStage === 'AwaitingApproval' ||
    failedStage === 'MigratingCutover';
  return testMigration && !pastTest ? 'TestMigrating' : 'ReadyForCutover';
}

export type Gate =
  | { kind: 'go' }
  | { kind: 'approval' }
  /** Wait for the maintenance window that opens at `at` (epoch ms). */
  | { kind: 'wait'; at: number }
  /** No maintenance window is left. */
  | { kind: 'closed' };

/** The cut-over gate at `now` for the wave's cut-over mode. */
export function cutoverGate(cutover: Cutover, now: Instant): Gate {
  if (cutover.mode === 'auto') return { kind: 'go' };
  if (cutover.mode === 'approval') return { kind: 'approval' };
  const window = cutoverWindowState(cutover, now);
  if (window.open) return { kind: 'go' };
  if (window.opensAt) return { kind: 'wait', at: window.opensAt.getTime() };
  return { kind: 'closed' };
}

/** Who approved, from the `Approve` event's payload (the HTTP route sends `{ approver }`). */
export function approverOf(data: unknown): string {
  if (typeof data === 'object' && data !== null && 'approver' in data) {
    const approver = (data as { approver: unknown }).approver;
    if (typeof approver === 'string' && approver.trim() !== '') return approver.trim();
  }
  return 'unknown';
}

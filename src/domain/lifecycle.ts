/** The stages a machine passes through, as operators see them (DESIGN.md, "The VM pipeline"). */
export const ACTIVE_STAGES = [
  'Queued',
  'Validating',
  'Replicating',
  'InitialSeeding',
  'ReadyToTest',
  'TestMigrating',
  'Testing',
  'CleaningUpTest',
  'ReadyForCutover',
  'AwaitingApproval',
  'MigratingCutover',
  'Completing',
  'Onboarding',
] as const;

export const FINAL_STAGES = ['Done', 'Failed', 'Cancelled'] as const;

export const STAGES = [...ACTIVE_STAGES, ...FINAL_STAGES] as const;

export type ActiveStage = (typeof ACTIVE_STAGES)[number];
export type FinalStage = (typeof FINAL_STAGES)[number];
export type Stage = (typeof STAGES)[number];

export function isFinalStage(stage: Stage): stage is FinalStage {
  return (FINAL_STAGES as readonly string[]).includes(stage);
}

/**
 * Azure operations whose duration a wave learns from Azure's own end times (the test migration's
 * `lastTestMigrationTime`, the migration's `lastMigrationTime`, the Automanage report's `endTime`),
 * so that later machines read them once, near their end, instead of backing off from the start.
 * Initial seeding grows with the disks: `seedingPerGB` is its time per GB, from its progress.
 */
export const TIMED_STEPS = ['testMigrate', 'migrate', 'onboarding', 'seedingPerGB'] as const;
export type TimedStep = (typeof TIMED_STEPS)[number];

/** Azure's end time of a timed step of the migration item (onboarding's is on the Automanage report). */
export function itemStepEnd(
  step: TimedStep,
  item: { lastTestMigrationTime?: string; lastMigrationTime?: string },
): string | undefined {
  if (step === 'testMigrate') return item.lastTestMigrationTime;
  return step === 'migrate' ? item.lastMigrationTime : undefined;
}

/**
 * How long a step took, in ms, from its start (Azure's when it said, else the pipeline's request)
 * to Azure's end time.
 */
export interface StepDuration {
  step: TimedStep;
  ms: number;
}

/** Typical durations of the steps in ms, as learned so far; absent until one was seen. */
export type StepDurations = Partial<Record<TimedStep, number>>;

/** A step's typical duration after one more observation: the mean of the old figure and the new one. */
export function blendDuration(typical: number | undefined, observed: number): number {
  return typical === undefined ? observed : Math.round((typical + observed) / 2);
}

/**
 * How long a step took, from its start (`startedAt`, epoch ms) to the end Azure stamped on it;
 * undefined when Azure gave no end time, or one before the start (an earlier run's operation).
 */
export function tookMs(startedAt: number, finishedAt: string | undefined): number | undefined {
  if (finishedAt === undefined) return undefined;
  const end = Date.parse(finishedAt);
  return Number.isNaN(end) || end < startedAt ? undefined : end - startedAt;
}

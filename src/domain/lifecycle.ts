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

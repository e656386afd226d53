/**
 * What orchestrations know about activities: their names and the shapes they exchange. No code
 * with side effects lives here, so orchestrations can import it (DESIGN.md, "Layout").
 *
 * Every activity answers with an `ActivityResult`: Azure's refusals and failures come back as
 * data (recorded, shown to the operator, sometimes retried after `retryAfterMs`), never as a
 * thrown error whose text the orchestration would have to parse.
 */
import type { EnableReplicationRequest, MigrationOperation, OnboardingProfile } from '../azure/types';
import type { AzureErrorInfo } from '../domain/errors';
import type { Stage, StepDuration, TimedStep } from '../domain/lifecycle';

export const ACTIVITY = {
  validateMachine: 'validateMachine',
  enableReplication: 'enableReplication',
  readMigrationItem: 'readMigrationItem',
  startResync: 'startResync',
  startTestMigrate: 'startTestMigrate',
  checkTestVm: 'checkTestVm',
  startTestCleanup: 'startTestCleanup',
  startMigrate: 'startMigrate',
  completeMigration: 'completeMigration',
  onboard: 'onboard',
  readOnboardingStatus: 'readOnboardingStatus',
  recordStage: 'recordStage',
  recordFailure: 'recordFailure',
  recordApproval: 'recordApproval',
  cleanupOnCancel: 'cleanupOnCancel',
  finishWave: 'finishWave',
  markWave: 'markWave',
  notifyInstances: 'notifyInstances',
  startInstances: 'startInstances',
  instanceOutcomes: 'instanceOutcomes',
} as const;

export type ActivityName = (typeof ACTIVITY)[keyof typeof ACTIVITY];

export type ActivityResult<T> =
  | { ok: true; value: T }
  /** `retryAfterMs` is set when trying again later can help (throttling, transient faults). */
  | { ok: false; error: AzureErrorInfo; retryAfterMs?: number };

/** What every step of a machine's pipeline reads of its job. */
interface MachineBasics {
  waveId: string;
  /** Source machine name (vCenter display name). */
  name: string;
  /** ARM id of the discovered VMware machine. */
  machineId: string;
  appliance: string;
  /** Target resource group name and VM name: where the migrated and the test VM appear. */
  targetResourceGroup: string;
  targetVmName: string;
  /** Shut the source down before the final sync (the plan's TURNOFF_SOURCESERVER; default true). */
  performShutdown: boolean;
  osUpgradeVersion?: string;
  /** Skip the test migration (the plan's OK_TO_TESTMIGRATE = N). */
  skipTestMigration: boolean;
  /** Total size of the machine's disks in GB, which initial seeding copies (absent in older jobs). */
  diskGB?: number;
  /** Onboarding profile; undefined when the plan says not to onboard. */
  onboarding?: OnboardingProfile;
}

/**
 * Everything the pipeline needs to move one machine, resolved from the plan and the inventory when
 * the wave is submitted and stored as the machine's `plan` in the journal.
 */
export interface MachineJob extends MachineBasics {
  /** What `enable` sends (target group, network, size, disks, tags). */
  enable: EnableReplicationRequest;
}

/**
 * What the steps after the enable need of a job: the job without its enable request, which is most
 * of its size and would otherwise be repeated in the pipeline's history by every activity it calls.
 */
export interface MachineSteps extends MachineBasics {
  /** ARM id of the target resource group. */
  targetResourceGroupId: string;
  /** The network test VMs are created in. */
  testNetworkId?: string;
}

/**
 * The steps' part of a job. Also takes a whole job, as activities scheduled before the steps were
 * split from the job still carry one.
 */
export function stepsOf(job: MachineJob | MachineSteps): MachineSteps {
  if (!('enable' in job)) return job;
  const { enable, ...basics } = job;
  return {
    ...basics,
    targetResourceGroupId: enable.targetResourceGroupId,
    ...(enable.testNetworkId === undefined ? {} : { testNetworkId: enable.testNetworkId }),
  };
}

/** The migration item as the orchestration decides on it (a small, serialisable snapshot). */
export interface ItemSnapshot {
  id: string;
  migrationState: string;
  migrationStateDescription?: string;
  testMigrateState: string;
  allowedOperations: MigrationOperation[];
  initialSeedingProgressPercent?: number;
  migrationProgressPercent?: number;
  resyncRequired: boolean;
  /** The most recent health error, with Azure's possible causes and recommended action. */
  healthError?: AzureErrorInfo;
  /** When the last test migration and the migration ended, by Azure's clock (ISO). */
  lastTestMigrationTime?: string;
  /** The test VM, checked with the item when asked (`ReadItemInput.withTestVm`) and the test succeeded. */
  testVm?: CheckTestVmOutput;
  lastMigrationTime?: string;
  /** ISO instant the snapshot was read at (the caller's clock). */
  readAt: string;
}

export interface MachineRef {
  waveId: string;
  name: string;
}

export interface ValidateMachineInput extends MachineRef {
  /** A retry of a failed machine: what an earlier run created in Azure is expected, not a conflict. */
  retry: boolean;
  at: string;
}

export type ValidateMachineOutput =
  | {
      valid: true;
      job: MachineJob;
      /** The migration item when one exists (always checked: a retry continues from it). */
      item?: ItemSnapshot;
      /** The stage an earlier run failed in, from the journal. */
      failedStage?: Stage;
    }
  | { valid: false; problems: string[] };

export interface EnableReplicationInput {
  jobs: MachineJob[];
  at: string;
}

export interface EnableOutcome {
  name: string;
  /** `started`: ARM accepted the enable now; `exists`: the item was already there (a replay). */
  status: 'started' | 'exists' | 'failed';
  migrationItemId?: string;
  error?: AzureErrorInfo;
  retryAfterMs?: number;
  /** How long the initial seeding typically takes, from the wave's time per GB, once that is known. */
  typicalMs?: number;
  /** When Azure started the enable (epoch ms, Azure's clock), when it said. */
  startedAt?: number;
}

export interface ItemInput {
  job: MachineSteps;
  /** ISO instant of the orchestration's clock, recorded with what the activity does. */
  at: string;
}

export interface ReadItemInput extends ItemInput {
  /** Check the test VM too once the test migration succeeded, saving the pipeline a separate call. */
  withTestVm?: boolean;
  /** The next step to start in the same call once the read finds the current one over. */
  andStart?: ChainedStart;
}

/** The steps a read can start: each follows the step the read waits for. */
export type ChainedStep = 'startTestMigrate' | 'startTestCleanup' | 'startMigrate' | 'completeMigration';

/**
 * A start chained to a read, saving the pipeline an activity and an orchestrator episode per step.
 * The start's own checks of the item decide, as when it is called alone (so a re-run of the
 * activity finds the step under way and starts nothing twice); a test clean-up also waits for a
 * healthy test VM. `record` are the stage changes the start brings, recorded only when it
 * started the step or found it under way; the first carries how long the step that ended took:
 * `took` itself, or from `took.startedAt` (epoch ms) to Azure's end time of `took.step`.
 */
export interface ChainedStart {
  step: ChainedStep;
  record: RecordStageInput[];
  took?: { step: TimedStep; startedAt: number } | StepDuration;
}

export interface ReadItemOutput {
  /** Null when the migration item does not exist. */
  item: ItemSnapshot | null;
  /** Present when the chained start ran: it started the next step (`started`) or found it under way. */
  next?: Exclude<StartOutcome, { action: 'notAllowed' }>;
}

/** A start step: `started` when it sent the request now, `skipped` with why it did not need to. */
export type StartOutcome =
  /**
   * `typicalMs`: how long the step typically takes in this part of the wave, once that is known;
   * `startedAt`: when Azure started it (epoch ms, Azure's clock), when it said.
   */
  | { action: 'started'; typicalMs?: number; startedAt?: number }
  | { action: 'skipped'; reason: string }
  /** The item is not in a state that allows the action. */
  | { action: 'notAllowed'; reason: string; item?: ItemSnapshot };

export interface CheckTestVmOutput {
  /** Running, provisioned and with its VM agent Ready. */
  healthy: boolean;
  /** What is missing, for the journal. */
  detail: string;
  vmId?: string;
}

export interface OnboardInput extends ItemInput {}

export interface OnboardOutput {
  vmId: string;
  /** Whether the region supports the onboarding method; when false nothing was assigned. */
  supported: boolean;
  status?: string;
  /** How long onboarding typically takes in this part of the wave, once that is known. */
  typicalMs?: number;
  /** When the VM was assigned (epoch ms, Azure's clock), when Azure said. */
  startedAt?: number;
}

export interface OnboardingStatusOutput {
  vmId: string;
  assignmentStatus?: string;
  reportStatus?: string;
  /** When the latest report ended, by Azure's clock (ISO). */
  finishedAt?: string;
  error?: AzureErrorInfo;
}

export interface RecordStageInput extends MachineRef {
  to: Stage;
  at: string;
  /** Unique per change (instance id + step), so a replayed activity records nothing twice. */
  changeId: string;
  from?: Stage;
  reason?: string;
  actor?: string;
  error?: AzureErrorInfo;
  instanceId?: string;
  migrationItemId?: string;
  targetVmId?: string;
  progressPercent?: number;
  /** How long the step that ended with this change took (see `StageChange.took`). */
  took?: StepDuration;
}

export interface RecordFailureInput extends MachineRef {
  /** Stage the failure happened in. */
  stage: Stage;
  at: string;
  changeId: string;
  error: AzureErrorInfo;
}

export interface RecordApprovalInput extends MachineRef {
  approver: string;
  at: string;
}

export interface CleanupOutput {
  /** Nothing of ours is left in Azure for this machine (no test VM, no migration item). */
  clean: boolean;
  /** What was started now or is still running, for the journal. */
  actions: string[];
}

export interface FinishWaveInput {
  waveId: string;
  status: 'Completed' | 'Cancelled';
  at: string;
  /**
   * Finish only a Running wave none of whose machines is unfinished: a machine retried after its
   * wave had finished finishes it again when it is the last to end.
   */
  ifSettled?: boolean;
}

export interface MarkWaveInput {
  waveId: string;
  /** Whether the wave holds its machines now (`Paused`) or runs them (`Running`). */
  status: 'Running' | 'Paused';
  at: string;
}

export interface NotifyInstancesInput {
  instanceIds: string[];
  event: string;
  data?: unknown;
}

export interface StartInstancesInput {
  /** The orchestration function to start. */
  orchestration: string;
  /**
   * Input fields every instance shares, given once (this input stays in the caller's history);
   * each instance's input is these with its own fields over them.
   */
  shared?: Record<string, unknown>;
  instances: { instanceId: string; input: Record<string, unknown> }[];
}

export interface StartInstancesOutput {
  /** Ids started now; the others existed already (a replayed activity starts nothing twice). */
  started: string[];
}

export interface InstanceOutcomesInput {
  instanceIds: string[];
}

/** The durable runtime statuses of an instance that has ended. */
const FINISHED_STATUSES = ['Completed', 'Failed', 'Terminated'] as const;
export type FinishedStatus = (typeof FINISHED_STATUSES)[number];

export function isFinishedStatus(status: string | undefined): status is FinishedStatus {
  return (FINISHED_STATUSES as readonly (string | undefined)[]).includes(status);
}

/** The instances among those asked that have ended, with how (durable runtime status) and output. */
export interface InstanceOutcome {
  instanceId: string;
  runtimeStatus: FinishedStatus;
  output?: unknown;
}

/** Every activity's input and output, for the factory's typing and the orchestrations' calls. */
export interface ActivityTypes {
  validateMachine: [ValidateMachineInput, ValidateMachineOutput];
  enableReplication: [EnableReplicationInput, EnableOutcome[]];
  readMigrationItem: [ReadItemInput, ReadItemOutput];
  startResync: [ItemInput, StartOutcome];
  startTestMigrate: [ItemInput, StartOutcome];
  checkTestVm: [ItemInput, CheckTestVmOutput];
  startTestCleanup: [ItemInput, StartOutcome];
  startMigrate: [ItemInput, StartOutcome];
  completeMigration: [ItemInput, StartOutcome];
  onboard: [OnboardInput, OnboardOutput];
  readOnboardingStatus: [OnboardInput, OnboardingStatusOutput | null];
  recordStage: [RecordStageInput, null];
  recordFailure: [RecordFailureInput, null];
  recordApproval: [RecordApprovalInput, null];
  cleanupOnCancel: [ItemInput, CleanupOutput];
  finishWave: [FinishWaveInput, null];
  markWave: [MarkWaveInput, null];
  notifyInstances: [NotifyInstancesInput, null];
  startInstances: [StartInstancesInput, StartInstancesOutput];
  instanceOutcomes: [InstanceOutcomesInput, InstanceOutcome[]];
}

/**
 * What an orchestration did since its last activity rides along with the next one: the stage
 * changes it entered, which the activity records (idempotent by `changeId`, in the order given),
 * then the events it raises to other instances (`notify`), before the activity does its own work.
 * This saves an activity and an orchestrator episode for each of them.
 */
export interface Riders {
  record?: RecordStageInput[];
  notify?: NotifyInstancesInput[];
}

export type ActivityInput<N extends ActivityName> = ActivityTypes[N][0] & Riders;
export type ActivityOutput<N extends ActivityName> = ActivityTypes[N][1];

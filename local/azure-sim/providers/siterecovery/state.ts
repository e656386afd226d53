/**
 * The migration item's state machine as pure functions of (record, now).
 *
 * A record holds only what an operator did and when (spans with their predetermined outcomes);
 * everything the service reports (migrationState, progress, recovery points, allowed operations,
 * health) is derived from it at the instant asked, so no background ticking is needed and the
 * same record read at the same virtual time always answers the same.
 */
import { createHash } from 'node:crypto';
import type { EstateTiming } from '../../estate/schema';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/** Durations of the timing model (contracts.md section 3), in virtual minutes. */
export interface SiteRecoveryTiming {
  enableMinutes: number;
  /** A new recovery point every this many minutes once initial seeding is done. */
  deltaCycleMinutes: number;
  testMigrateMinutes: number;
  testCleanupMinutes: number;
  migrateMinutes: number;
  /** DELETE of the item (complete migration). */
  completeMinutes: number;
}

export const DEFAULT_TIMING: SiteRecoveryTiming = {
  enableMinutes: 2,
  deltaCycleMinutes: 60,
  testMigrateMinutes: 15,
  testCleanupMinutes: 5,
  migrateMinutes: 20,
  completeMinutes: 2,
};

export function timingFromEstate(overrides: EstateTiming | undefined): SiteRecoveryTiming {
  return {
    enableMinutes: overrides?.enableReplicationMinutes ?? DEFAULT_TIMING.enableMinutes,
    deltaCycleMinutes: overrides?.deltaCycleMinutes ?? DEFAULT_TIMING.deltaCycleMinutes,
    testMigrateMinutes: overrides?.testMigrateMinutes ?? DEFAULT_TIMING.testMigrateMinutes,
    testCleanupMinutes: overrides?.testCleanupMinutes ?? DEFAULT_TIMING.testCleanupMinutes,
    migrateMinutes: overrides?.migrateMinutes ?? DEFAULT_TIMING.migrateMinutes,
    completeMinutes: overrides?.completeMinutes ?? DEFAULT_TIMING.completeMinutes,
  };
}

export type MigrationState =
  | 'EnableMigrationInProgress'
  | 'InitialSeedingInProgress'
  | 'InitialSeedingFailed'
  | 'Replicating'
  | 'SuspendingProtection'
  | 'ProtectionSuspended'
  | 'ResumeInProgress'
  | 'MigrationInProgress'
  | 'MigrationSucceeded'
  | 'MigrationFailed'
  | 'DisableMigrationInProgress';

export type TestMigrateState =
  | 'None'
  | 'TestMigrationInProgress'
  | 'TestMigrationSucceeded'
  | 'TestMigrationFailed'
  | 'TestMigrationCleanupInProgress';

export type MigrationItemOperation =
  | 'DisableMigration'
  | 'TestMigrate'
  | 'TestMigrateCleanup'
  | 'Migrate'
  | 'StartResync'
  | 'PauseReplication'
  | 'ResumeReplication';

/** One operator action: a Site Recovery job from `startAt` to `doneAt` (virtual ms). */
export interface Span {
  jobName: string;
  startAt: number;
  doneAt: number;
}

export interface SeedingCycle {
  /** Seeding starts when enable (or a resync) finishes. */
  startAt: number;
  doneAt: number;
  /** When the fault profile makes this cycle fail, the instant it fails (between start and done). */
  failAt?: number;
  /** Resyncs before this cycle. */
  retryCount: number;
}

export interface TestMigration extends Span {
  fails: boolean;
  recoveryPointId: string;
  networkId: string;
  testVmName: string;
}

export interface Migration extends Span {
  fails: boolean;
  performShutdown: boolean;
}

/** The VMwareCbt target settings, as sent on enable and changed by update; echoed in provider details. */
export interface TargetSettings {
  vmwareMachineId: string;
  disksToInclude: DiskInput[];
  dataMoverRunAsAccountId: string;
  snapshotRunAsAccountId: string;
  targetResourceGroupId: string;
  targetNetworkId: string;
  targetVmName: string;
  targetVmSize?: string;
  targetSubnetName?: string;
  testNetworkId?: string;
  testSubnetName?: string;
  targetAvailabilitySetId?: string;
  targetAvailabilityZone?: string;
  licenseType?: string;
  sqlServerLicenseType?: string;
  performAutoResync?: string;
  targetVmTags?: Record<string, string>;
  seedDiskTags?: Record<string, string>;
  targetDiskTags?: Record<string, string>;
  targetNicTags?: Record<string, string>;
}

export interface DiskInput {
  diskId: string;
  isOSDisk: string;
  logStorageAccountId: string;
  logStorageAccountSasSecretName: string;
  diskType?: string;
  diskEncryptionSetId?: string;
}

export interface MigrationItemRecord {
  /** ARM id of the migration item. */
  id: string;
  name: string;
  machineName: string;
  appliance: string;
  policyId: string;
  /** Sum of the included disks' sizes, GB; seeding time is this over the appliance's rate. */
  diskGB: number;
  seedingGBPerHour: number;
  settings: TargetSettings;
  enable: Span;
  seeding: SeedingCycle;
  resync?: Span;
  pause?: Span;
  resume?: Span;
  testMigration?: TestMigration;
  testCleanup?: Span;
  migration?: Migration;
  deletion?: Span;
}

export interface HealthError {
  errorCode: string;
  errorMessage: string;
  possibleCauses: string;
  recommendedAction: string;
  creationTimeUtc: string;
  errorLevel: 'Error' | 'Warning';
  errorSource: string;
  customerResolvability: 'Allowed';
}

export interface ItemView {
  /** The DELETE has finished: the item no longer exists. */
  deleted: boolean;
  migrationState: MigrationState;
  migrationStateDescription: string;
  testMigrateState: TestMigrateState;
  testMigrateStateDescription: string;
  allowedOperations: MigrationItemOperation[];
  health: 'Normal' | 'Warning' | 'Critical';
  healthErrors: HealthError[];
  lastTestMigrationTime?: number;
  lastTestMigrationStatus?: string;
  lastMigrationTime?: number;
  lastMigrationStatus?: string;
  initialSeedingProgressPercentage: number;
  migrationProgressPercentage?: number;
  resyncRequired: 'true' | 'false';
  initialSeedingRetryCount: number;
  lastRecoveryPoint?: { id: string; at: number };
  /** The test VM exists from the end of test migrate until the end of its clean-up. */
  testVmExists: boolean;
  targetVmExists: boolean;
  sourceShutDown: boolean;
}

const done = (span: Span | undefined, now: number): boolean => span !== undefined && now >= span.doneAt;
const running = (span: Span | undefined, now: number): boolean =>
  span !== undefined && now >= span.startAt && now < span.doneAt;

/** Seeding duration for `diskGB` at `gbPerHour`, in virtual ms. */
export function seedingDurationMs(diskGB: number, gbPerHour: number): number {
  return Math.ceil((diskGB / gbPerHour) * HOUR_MS);
}

/** A recovery point id that is the same for the same item and instant, shaped like Site Recovery's GUIDs. */
export function recoveryPointId(itemId: string, at: number): string {
  const hex = createHash('sha256').update(`${itemId.toLowerCase()}@${at}`).digest('hex');
  const guid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  return `${itemId}/migrationRecoveryPoints/${guid}`;
}

/**
 * The latest recovery point at `now`: the end of seeding, then one every delta cycle while
 * replication runs (not while paused), and a final one when a migration with shutdown starts.
 */
function lastRecoveryPoint(
  record: MigrationItemRecord,
  now: number,
  timing: SiteRecoveryTiming,
): { id: string; at: number } | undefined {
  const seedingDone = record.seeding.failAt === undefined && now >= record.seeding.doneAt;
  if (!seedingDone) return undefined;
  const cycle = timing.deltaCycleMinutes * MINUTE_MS;
  let cutoff = now;
  if (record.migration && now >= record.migration.startAt) {
    if (record.migration.performShutdown) {
      const at = record.migration.startAt;
      return { id: recoveryPointId(record.id, at), at };
    }
    cutoff = record.migration.startAt;
  }
  const latestFrom = (anchor: number, until: number): number =>
    anchor + Math.floor((until - anchor) / cycle) * cycle;
  let at = latestFrom(record.seeding.doneAt, cutoff);
  if (record.pause && cutoff >= record.pause.startAt) {
    at = latestFrom(record.seeding.doneAt, Math.max(record.seeding.doneAt, record.pause.startAt));
    if (record.resume && cutoff >= record.resume.doneAt) at = latestFrom(record.resume.doneAt, cutoff);
  }
  return { id: recoveryPointId(record.id, at), at };
}

const iso = (ms: number) => new Date(ms).toISOString();

function seedingError(record: MigrationItemRecord, at: number): HealthError {
  return {
    errorCode: 'InitialReplicationFailed',
    errorMessage: `Initial replication of the disks of virtual machine '${record.machineName}' failed.`,
    possibleCauses:
      'The Azure Migrate appliance could not read the VMware snapshot of the disks, or lost its connection to Azure while uploading the data.',
    recommendedAction:
      'Check that the appliance can reach vCenter Server and Azure, then resynchronize the replication (Resync) to restart the initial replication.',
    creationTimeUtc: iso(at),
    errorLevel: 'Error',
    errorSource: 'VMwareCbt',
    customerResolvability: 'Allowed',
  };
}

function testBootError(test: TestMigration): HealthError {
  return {
    errorCode: 'TestMigrationVmBootFailed',
    errorMessage: `The test virtual machine '${test.testVmName}' was created but did not boot.`,
    possibleCauses:
      'The operating system was not prepared for Azure: Hyper-V drivers missing from the boot image (Linux initrd), a SAN policy that keeps the disks offline, or a boot configuration Azure does not support.',
    recommendedAction:
      'Clean up the test migration, prepare the source machine as described in "Prepare VMs for migration", wait for a newer recovery point, and run the test migration again.',
    creationTimeUtc: iso(test.doneAt),
    errorLevel: 'Warning',
    errorSource: 'VMwareCbt',
    customerResolvability: 'Allowed',
  };
}

function migrationError(record: MigrationItemRecord, migration: Migration): HealthError {
  return {
    errorCode: 'MigrationVmCreationFailed',
    errorMessage: `The virtual machine '${record.settings.targetVmName}' could not be created from the replicated disks.`,
    possibleCauses:
      'The target virtual machine size is not available in the region or zone, or a quota of the target subscription was exceeded.',
    recommendedAction:
      'Check the target size, zone and the subscription quotas, update the target settings if needed, and run the migration again.',
    creationTimeUtc: iso(migration.doneAt),
    errorLevel: 'Error',
    errorSource: 'VMwareCbt',
    customerResolvability: 'Allowed',
  };
}

const DESCRIPTIONS: Record<MigrationState, string> = {
  EnableMigrationInProgress: 'Enabling replication',
  InitialSeedingInProgress: 'Initial replication',
  InitialSeedingFailed: 'Initial replication failed',
  Replicating: 'Ready to migrate',
  SuspendingProtection: 'Pausing replication',
  ProtectionSuspended: 'Replication paused',
  ResumeInProgress: 'Resuming replication',
  MigrationInProgress: 'Migration in progress',
  MigrationSucceeded: 'Migration succeeded',
  MigrationFailed: 'Migration failed',
  DisableMigrationInProgress: 'Stopping replication',
};

const TEST_DESCRIPTIONS: Record<TestMigrateState, string> = {
  None: 'None',
  TestMigrationInProgress: 'Test migration in progress',
  TestMigrationSucceeded: 'Test migration succeeded',
  TestMigrationFailed: 'Test migration failed',
  TestMigrationCleanupInProgress: 'Test migration clean-up in progress',
};

/** Everything the service reports about `record` at virtual instant `now`. */
export function viewItem(record: MigrationItemRecord, now: number, timing: SiteRecoveryTiming): ItemView {
  const seeding = record.seeding;
  const seedingFailed = seeding.failAt !== undefined && now >= seeding.failAt;
  const seedingEnd = seeding.failAt ?? seeding.doneAt;
  const seedingPercent =
    now <= seeding.startAt
      ? 0
      : Math.min(
          100,
          Math.floor(
            (100 * (Math.min(now, seedingEnd) - seeding.startAt)) / (seeding.doneAt - seeding.startAt),
          ),
        );

  const test = record.testMigration;
  const cleanup = record.testCleanup;
  let testMigrateState: TestMigrateState = 'None';
  if (test && now >= test.startAt && !done(cleanup, now)) {
    if (running(cleanup, now)) testMigrateState = 'TestMigrationCleanupInProgress';
    else if (now < test.doneAt) testMigrateState = 'TestMigrationInProgress';
    else testMigrateState = test.fails ? 'TestMigrationFailed' : 'TestMigrationSucceeded';
  }
  const testFinished = test !== undefined && now >= test.doneAt;
  const testVmExists = testFinished && !done(cleanup, now);

  const migration = record.migration;
  const migrationStarted = migration !== undefined && now >= migration.startAt;
  const migrationDone = migration !== undefined && now >= migration.doneAt;

  let migrationState: MigrationState;
  let allowedOperations: MigrationItemOperation[];
  const healthErrors: HealthError[] = [];
  if (record.deletion && now >= record.deletion.startAt) {
    migrationState = 'DisableMigrationInProgress';
    allowedOperations = [];
  } else if (migrationStarted && migration) {
    if (!migrationDone) {
      migrationState = 'MigrationInProgress';
      allowedOperations = [];
    } else if (migration.fails) {
      migrationState = 'MigrationFailed';
      allowedOperations = ['Migrate', 'DisableMigration'];
      healthErrors.push(migrationError(record, migration));
    } else {
      migrationState = 'MigrationSucceeded';
      allowedOperations = ['DisableMigration'];
    }
  } else if (now < record.enable.doneAt) {
    migrationState = 'EnableMigrationInProgress';
    allowedOperations = [];
  } else if (running(record.resync, now) || now < seeding.startAt) {
    migrationState = 'InitialSeedingInProgress';
    allowedOperations = ['DisableMigration'];
  } else if (seedingFailed) {
    migrationState = 'InitialSeedingFailed';
    allowedOperations = ['StartResync', 'DisableMigration'];
    healthErrors.push(seedingError(record, seedingEnd));
  } else if (now < seeding.doneAt) {
    migrationState = 'InitialSeedingInProgress';
    allowedOperations = ['DisableMigration'];
  } else if (record.pause && now >= record.pause.startAt && !done(record.resume, now)) {
    if (running(record.resume, now)) {
      migrationState = 'ResumeInProgress';
      allowedOperations = [];
    } else if (now < record.pause.doneAt) {
      migrationState = 'SuspendingProtection';
      allowedOperations = [];
    } else {
      migrationState = 'ProtectionSuspended';
      allowedOperations = ['ResumeReplication', 'DisableMigration'];
    }
  } else {
    migrationState = 'Replicating';
    switch (testMigrateState) {
      case 'None':
        allowedOperations = ['TestMigrate', 'Migrate', 'PauseReplication', 'DisableMigration'];
        break;
      case 'TestMigrationSucceeded':
      case 'TestMigrationFailed':
        // Site Recovery refuses Migrate and DisableMigration until the test VM is cleaned up.
        allowedOperations = ['TestMigrateCleanup'];
        break;
      default:
        allowedOperations = [];
    }
  }
  if (test && testMigrateState === 'TestMigrationFailed') healthErrors.push(testBootError(test));

  let lastTestMigrationStatus: string | undefined;
  if (testFinished && test) lastTestMigrationStatus = test.fails ? 'Failed' : 'Succeeded';
  let lastMigrationStatus: string | undefined;
  if (migrationDone && migration) lastMigrationStatus = migration.fails ? 'Failed' : 'Succeeded';

  const critical = migrationState === 'InitialSeedingFailed' || migrationState === 'MigrationFailed';
  const rp = lastRecoveryPoint(record, now, timing);
  return {
    deleted: done(record.deletion, now),
    migrationState,
    migrationStateDescription: DESCRIPTIONS[migrationState],
    testMigrateState,
    testMigrateStateDescription: TEST_DESCRIPTIONS[testMigrateState],
    allowedOperations,
    health: critical ? 'Critical' : healthErrors.length > 0 ? 'Warning' : 'Normal',
    healthErrors,
    ...(testFinished && test ? { lastTestMigrationTime: test.doneAt, lastTestMigrationStatus } : {}),
    ...(migrationDone && migration ? { lastMigrationTime: migration.doneAt, lastMigrationStatus } : {}),
    initialSeedingProgressPercentage: seedingPercent,
    ...(migrationStarted && migration
      ? {
          migrationProgressPercentage: Math.min(
            100,
            Math.floor((100 * (now - migration.startAt)) / Math.max(1, migration.doneAt - migration.startAt)),
          ),
        }
      : {}),
    resyncRequired: migrationState === 'InitialSeedingFailed' ? 'true' : 'false',
    initialSeedingRetryCount: seeding.retryCount,
    ...(rp ? { lastRecoveryPoint: rp } : {}),
    testVmExists,
    targetVmExists: migrationDone && migration !== undefined && !migration.fails,
    sourceShutDown: migrationStarted && migration?.performShutdown === true,
  };
}

/** The newest job of the item (the one `currentJob` names), if any. */
export function latestSpan(record: MigrationItemRecord): Span {
  const spans: (Span | undefined)[] = [
    record.enable,
    record.resync,
    record.pause,
    record.resume,
    record.testMigration,
    record.testCleanup,
    record.migration,
    record.deletion,
  ];
  let latest = record.enable;
  for (const span of spans) if (span && span.startAt >= latest.startAt) latest = span;
  return latest;
}

/** A number in [0, 1) from the fault streams, one per purpose. */
export type Draws = (
  purpose: 'initialSeeding' | 'initialSeedingPoint' | 'testMigration' | 'migration',
) => number;

export interface FailureRates {
  initialSeedingFailureRate: number;
  testMigrationFailureRate: number;
  migrationFailureRate: number;
}

/** The record for an enable accepted at `now`. */
export function enableItem(
  base: Omit<MigrationItemRecord, 'enable' | 'seeding'>,
  now: number,
  jobName: string,
  timing: SiteRecoveryTiming,
  rates: FailureRates,
  draw: Draws,
): MigrationItemRecord {
  const enable: Span = { jobName, startAt: now, doneAt: now + timing.enableMinutes * MINUTE_MS };
  const startAt = enable.doneAt;
  const doneAt = startAt + seedingDurationMs(base.diskGB, base.seedingGBPerHour);
  const fails = draw('initialSeeding') < rates.initialSeedingFailureRate;
  // A failing cycle fails part-way (between 10 % and 90 % of the data), as a lost snapshot would.
  const failAt = fails
    ? startAt + Math.floor((doneAt - startAt) * (0.1 + 0.8 * draw('initialSeedingPoint')))
    : undefined;
  return {
    ...base,
    enable,
    seeding: { startAt, doneAt, retryCount: 0, ...(failAt !== undefined ? { failAt } : {}) },
  };
}

/** A resync restarts the initial replication from scratch; the fault profile says a resync recovers. */
export function resyncItem(
  record: MigrationItemRecord,
  now: number,
  jobName: string,
  timing: SiteRecoveryTiming,
): MigrationItemRecord {
  const resync: Span = { jobName, startAt: now, doneAt: now + timing.enableMinutes * MINUTE_MS };
  return {
    ...record,
    resync,
    seeding: {
      startAt: resync.doneAt,
      doneAt: resync.doneAt + seedingDurationMs(record.diskGB, record.seedingGBPerHour),
      retryCount: record.seeding.retryCount + 1,
    },
  };
}

export function testMigrateItem(
  record: MigrationItemRecord,
  now: number,
  jobName: string,
  input: { recoveryPointId: string; networkId: string },
  timing: SiteRecoveryTiming,
  rates: FailureRates,
  draw: Draws,
): MigrationItemRecord {
  const { testCleanup: _previousCleanup, ...rest } = record;
  return {
    ...rest,
    testMigration: {
      jobName,
      startAt: now,
      doneAt: now + timing.testMigrateMinutes * MINUTE_MS,
      fails: draw('testMigration') < rates.testMigrationFailureRate,
      recoveryPointId: input.recoveryPointId,
      networkId: input.networkId,
      testVmName: `${record.settings.targetVmName}-test`,
    },
  };
}

export function testCleanupItem(
  record: MigrationItemRecord,
  now: number,
  jobName: string,
  timing: SiteRecoveryTiming,
): MigrationItemRecord {
  return {
    ...record,
    testCleanup: { jobName, startAt: now, doneAt: now + timing.testCleanupMinutes * MINUTE_MS },
  };
}

export function migrateItem(
  record: MigrationItemRecord,
  now: number,
  jobName: string,
  performShutdown: boolean,
  timing: SiteRecoveryTiming,
  rates: FailureRates,
  draw: Draws,
): MigrationItemRecord {
  return {
    ...record,
    migration: {
      jobName,
      startAt: now,
      doneAt: now + timing.migrateMinutes * MINUTE_MS,
      fails: draw('migration') < rates.migrationFailureRate,
      performShutdown,
    },
  };
}

export function deleteItem(
  record: MigrationItemRecord,
  now: number,
  jobName: string,
  timing: SiteRecoveryTiming,
): MigrationItemRecord {
  return { ...record, deletion: { jobName, startAt: now, doneAt: now + timing.completeMinutes * MINUTE_MS } };
}

export function pauseItem(
  record: MigrationItemRecord,
  now: number,
  jobName: string,
  timing: SiteRecoveryTiming,
): MigrationItemRecord {
  const { resume: _previousResume, ...rest } = record;
  return { ...rest, pause: { jobName, startAt: now, doneAt: now + timing.enableMinutes * MINUTE_MS } };
}

export function resumeItem(
  record: MigrationItemRecord,
  now: number,
  jobName: string,
  timing: SiteRecoveryTiming,
): MigrationItemRecord {
  return { ...record, resume: { jobName, startAt: now, doneAt: now + timing.enableMinutes * MINUTE_MS } };
}

import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TIMING,
  deleteItem,
  enableItem,
  type FailureRates,
  type MigrationItemRecord,
  migrateItem,
  pauseItem,
  resumeItem,
  resyncItem,
  seedingDurationMs,
  testCleanupItem,
  testMigrateItem,
  viewItem,
} from '../../local/azure-sim/providers/siterecovery/state';

const MIN = 60_000;
const T0 = Date.parse('2026-01-05T08:00:00Z');
const NO_FAULTS: FailureRates = {
  initialSeedingFailureRate: 0,
  testMigrationFailureRate: 0,
  migrationFailureRate: 0,
};
const ALL_FAIL: FailureRates = {
  initialSeedingFailureRate: 1,
  testMigrationFailureRate: 1,
  migrationFailureRate: 1,
};
const half = () => 0.5;

/** 640 GB at 320 GB/h: two hours of initial seeding after the two-minute enable. */
function enabled(rates = NO_FAULTS): MigrationItemRecord {
  return enableItem(
    {
      id: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v/replicationFabrics/f/replicationProtectionContainers/c/replicationMigrationItems/crm-web-01',
      name: 'crm-web-01',
      machineName: 'crm-web-01',
      appliance: 'app01',
      policyId: 'policy',
      diskGB: 640,
      seedingGBPerHour: 320,
      settings: {
        vmwareMachineId: '/x/VMwareSites/app01site/machines/crm-web-01',
        disksToInclude: [],
        dataMoverRunAsAccountId: 'dm',
        snapshotRunAsAccountId: 'sn',
        targetResourceGroupId: '/subscriptions/s/resourceGroups/rg-prod',
        targetNetworkId: '/net/vnet-prod',
        targetVmName: 'crm-web-01',
      },
    },
    T0,
    'job-enable',
    DEFAULT_TIMING,
    rates,
    half,
  );
}

const seededAt = T0 + 2 * MIN + seedingDurationMs(640, 320);
const view = (record: MigrationItemRecord, at: number) => viewItem(record, at, DEFAULT_TIMING);

describe('Site Recovery migration item state machine', () => {
  it('enables in 2 minutes, seeds at the appliance rate with moving progress, then replicates', () => {
    const record = enabled();
    expect(seedingDurationMs(640, 320)).toBe(120 * MIN);
    const enabling = view(record, T0 + MIN);
    expect(enabling.migrationState).toBe('EnableMigrationInProgress');
    expect(enabling.allowedOperations).toEqual([]);

    const early = view(record, T0 + 2 * MIN);
    expect(early.migrationState).toBe('InitialSeedingInProgress');
    expect(early.initialSeedingProgressPercentage).toBe(0);
    expect(early.allowedOperations).toEqual(['DisableMigration']);
    const halfway = view(record, T0 + 62 * MIN);
    expect(halfway.initialSeedingProgressPercentage).toBe(50);
    expect(halfway.lastRecoveryPoint).toBeUndefined();

    const replicating = view(record, seededAt);
    expect(replicating.migrationState).toBe('Replicating');
    expect(replicating.migrationStateDescription).toBe('Ready to migrate');
    expect(replicating.initialSeedingProgressPercentage).toBe(100);
    expect(replicating.allowedOperations).toEqual([
      'TestMigrate',
      'Migrate',
      'PauseReplication',
      'DisableMigration',
    ]);
    expect(replicating.lastRecoveryPoint?.at).toBe(seededAt);
    expect(replicating.health).toBe('Normal');
  });

  it('takes a new recovery point every delta cycle after seeding', () => {
    const record = enabled();
    const first = view(record, seededAt + 59 * MIN).lastRecoveryPoint;
    const second = view(record, seededAt + 60 * MIN).lastRecoveryPoint;
    expect(first?.at).toBe(seededAt);
    expect(second?.at).toBe(seededAt + 60 * MIN);
    expect(second?.id).not.toBe(first?.id);
    expect(second?.id).toBe(view(record, seededAt + 61 * MIN).lastRecoveryPoint?.id);
  });

  it('runs test migrate (15 min), requires clean-up (5 min) before migrate, then migrates (20 min) and deletes (2 min)', () => {
    let record = enabled();
    const t1 = seededAt + 10 * MIN;
    const rp = view(record, t1).lastRecoveryPoint!.id;
    record = testMigrateItem(
      record,
      t1,
      'job-test',
      { recoveryPointId: rp, networkId: '/net/vnet-test' },
      DEFAULT_TIMING,
      NO_FAULTS,
      half,
    );
    expect(view(record, t1 + MIN).testMigrateState).toBe('TestMigrationInProgress');
    expect(view(record, t1 + MIN).allowedOperations).toEqual([]);
    expect(view(record, t1 + MIN).testVmExists).toBe(false);

    const tested = view(record, t1 + 15 * MIN);
    expect(tested.testMigrateState).toBe('TestMigrationSucceeded');
    expect(tested.allowedOperations).toEqual(['TestMigrateCleanup']);
    expect(tested.testVmExists).toBe(true);
    expect(tested.lastTestMigrationTime).toBe(t1 + 15 * MIN);
    expect(record.testMigration?.testVmName).toBe('crm-web-01-test');

    const t2 = t1 + 30 * MIN;
    record = testCleanupItem(record, t2, 'job-cleanup', DEFAULT_TIMING);
    expect(view(record, t2 + MIN).testMigrateState).toBe('TestMigrationCleanupInProgress');
    expect(view(record, t2 + MIN).testVmExists).toBe(true);
    const cleaned = view(record, t2 + 5 * MIN);
    expect(cleaned.testMigrateState).toBe('None');
    expect(cleaned.testVmExists).toBe(false);
    expect(cleaned.lastTestMigrationStatus).toBe('Succeeded');
    expect(cleaned.allowedOperations).toContain('Migrate');

    const t3 = t2 + 10 * MIN;
    record = migrateItem(record, t3, 'job-migrate', true, DEFAULT_TIMING, NO_FAULTS, half);
    const migrating = view(record, t3 + 10 * MIN);
    expect(migrating.migrationState).toBe('MigrationInProgress');
    expect(migrating.migrationProgressPercentage).toBe(50);
    expect(migrating.sourceShutDown).toBe(true);
    expect(migrating.lastRecoveryPoint?.at).toBe(t3);
    const migrated = view(record, t3 + 20 * MIN);
    expect(migrated.migrationState).toBe('MigrationSucceeded');
    expect(migrated.targetVmExists).toBe(true);
    expect(migrated.allowedOperations).toEqual(['DisableMigration']);
    expect(migrated.lastMigrationTime).toBe(t3 + 20 * MIN);

    const t4 = t3 + 30 * MIN;
    record = deleteItem(record, t4, 'job-delete', DEFAULT_TIMING);
    expect(view(record, t4 + MIN).migrationState).toBe('DisableMigrationInProgress');
    expect(view(record, t4 + MIN).deleted).toBe(false);
    expect(view(record, t4 + 2 * MIN).deleted).toBe(true);
  });

  it('fails initial seeding part-way when the fault draw says so, and a resync recovers', () => {
    let record = enabled(ALL_FAIL);
    // half() places the failure at 10 % + 80 % * 0.5 = 50 % of the two-hour cycle.
    const failAt = T0 + 2 * MIN + 60 * MIN;
    expect(record.seeding.failAt).toBe(failAt);
    expect(view(record, failAt - MIN).migrationState).toBe('InitialSeedingInProgress');
    const failed = view(record, failAt + 30 * MIN);
    expect(failed.migrationState).toBe('InitialSeedingFailed');
    expect(failed.initialSeedingProgressPercentage).toBe(50);
    expect(failed.health).toBe('Critical');
    expect(failed.resyncRequired).toBe('true');
    expect(failed.allowedOperations).toEqual(['StartResync', 'DisableMigration']);
    const error = failed.healthErrors[0]!;
    expect(error.errorCode).toBe('InitialReplicationFailed');
    expect(error.possibleCauses.length).toBeGreaterThan(0);
    expect(error.recommendedAction).toMatch(/Resync/);

    const t = failAt + 60 * MIN;
    record = resyncItem(record, t, 'job-resync', DEFAULT_TIMING);
    const resyncing = view(record, t + MIN);
    expect(resyncing.migrationState).toBe('InitialSeedingInProgress');
    expect(resyncing.initialSeedingRetryCount).toBe(1);
    expect(resyncing.healthErrors).toEqual([]);
    const recovered = view(record, t + 2 * MIN + seedingDurationMs(640, 320));
    expect(recovered.migrationState).toBe('Replicating');
    expect(recovered.resyncRequired).toBe('false');
  });

  it('reports a test VM that does not boot as TestMigrationFailed, still needing clean-up', () => {
    let record = enabled({ ...NO_FAULTS, testMigrationFailureRate: 1 });
    record = testMigrateItem(
      record,
      seededAt,
      'job',
      { recoveryPointId: 'rp', networkId: 'n' },
      DEFAULT_TIMING,
      { ...NO_FAULTS, testMigrationFailureRate: 1 },
      half,
    );
    const failed = view(record, seededAt + 15 * MIN);
    expect(failed.testMigrateState).toBe('TestMigrationFailed');
    expect(failed.health).toBe('Warning');
    expect(failed.healthErrors.map((e) => e.errorCode)).toEqual(['TestMigrationVmBootFailed']);
    expect(failed.allowedOperations).toEqual(['TestMigrateCleanup']);
    expect(failed.testVmExists).toBe(true);
    expect(failed.lastTestMigrationStatus).toBe('Failed');
  });

  it('lets a failed migration be retried or stopped, with no target VM', () => {
    let record = enabled();
    record = migrateItem(record, seededAt, 'job', false, DEFAULT_TIMING, ALL_FAIL, half);
    const failed = view(record, seededAt + 20 * MIN);
    expect(failed.migrationState).toBe('MigrationFailed');
    expect(failed.health).toBe('Critical');
    expect(failed.allowedOperations).toEqual(['Migrate', 'DisableMigration']);
    expect(failed.targetVmExists).toBe(false);
    expect(failed.sourceShutDown).toBe(false);
    expect(failed.healthErrors[0]?.errorCode).toBe('MigrationVmCreationFailed');
  });

  it('pauses and resumes replication, with no recovery points while paused', () => {
    let record = enabled();
    const t = seededAt + 90 * MIN;
    record = pauseItem(record, t, 'job-pause', DEFAULT_TIMING);
    expect(view(record, t + MIN).migrationState).toBe('SuspendingProtection');
    const paused = view(record, t + 5 * 60 * MIN);
    expect(paused.migrationState).toBe('ProtectionSuspended');
    expect(paused.allowedOperations).toEqual(['ResumeReplication', 'DisableMigration']);
    expect(paused.lastRecoveryPoint?.at).toBe(seededAt + 60 * MIN);
    const r = t + 5 * 60 * MIN;
    record = resumeItem(record, r, 'job-resume', DEFAULT_TIMING);
    expect(view(record, r + MIN).migrationState).toBe('ResumeInProgress');
    const resumed = view(record, r + 2 * MIN);
    expect(resumed.migrationState).toBe('Replicating');
    expect(resumed.lastRecoveryPoint?.at).toBe(r + 2 * MIN);
  });

  it('answers the same for the same record and instant', () => {
    const record = enabled();
    expect(view(record, T0 + 77 * MIN)).toEqual(view(record, T0 + 77 * MIN));
  });
});

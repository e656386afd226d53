/**
 * Every fault kind of the profile that Site Recovery and Automanage show, through the real SDK
 * clients: failed initial seeding (a resync recovers), a test VM that does not boot (clean-up
 * still needed), a failed migration (retry or stop), and a failed Automanage onboarding.
 */
import type { MigrationItem } from '@azure/arm-recoveryservices-siterecovery';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONTAINER,
  enableInput,
  FABRIC,
  FAST,
  startTestSim,
  TEST_VNET_ID,
  type TestSim,
  VAULT,
  VAULT_RG,
} from './sim-sr-support';

let t: TestSim;

beforeAll(async () => {
  t = await startTestSim({
    faults: {
      seed: 42,
      initialSeedingFailureRate: 1,
      testMigrationFailureRate: 1,
      migrationFailureRate: 1,
      onboardingFailureRate: 1,
    },
  });
});

afterAll(async () => {
  await t?.stop();
});

const items = () => t.sr.replicationMigrationItems;
const get = (name: string) => items().get(VAULT, VAULT_RG, FABRIC, CONTAINER, name);
const untilState = (name: string, state: string) =>
  expect
    .poll(async () => (await get(name)).properties?.migrationState, { timeout: 20_000, interval: 100 })
    .toBe(state);
const lastRecoveryPoint = (item: MigrationItem): string =>
  String(
    (item.properties?.providerSpecificDetails as { lastRecoveryPointId?: string } | undefined)
      ?.lastRecoveryPointId,
  );

describe('simulated faults', () => {
  it('fails initial seeding with health errors, and a resync recovers', async () => {
    await items().beginCreateAndWait(
      VAULT,
      VAULT_RG,
      FABRIC,
      CONTAINER,
      'crm-web-01',
      enableInput('crm-web-01', 1),
      FAST,
    );
    await untilState('crm-web-01', 'InitialSeedingFailed');
    const failed = await get('crm-web-01');
    expect(failed.properties?.health).toBe('Critical');
    expect(failed.properties?.allowedOperations).toEqual(['StartResync', 'DisableMigration']);
    expect(failed.properties?.healthErrors?.[0]).toMatchObject({
      errorCode: 'InitialReplicationFailed',
      possibleCauses: expect.any(String),
      recommendedAction: expect.stringContaining('Resync'),
    });
    expect(failed.properties?.providerSpecificDetails).toMatchObject({ resyncRequired: 'true' });
    await expect(
      items().beginTestMigrate(VAULT, VAULT_RG, FABRIC, CONTAINER, 'crm-web-01', {
        properties: {
          providerSpecificDetails: {
            instanceType: 'VMwareCbt',
            recoveryPointId: 'rp',
            networkId: TEST_VNET_ID,
          },
        },
      }),
    ).rejects.toMatchObject({ statusCode: 409, code: 'MigrationItemOperationNotAllowed' });

    await items().beginResyncAndWait(
      VAULT,
      VAULT_RG,
      FABRIC,
      CONTAINER,
      'crm-web-01',
      { properties: { providerSpecificDetails: { instanceType: 'VMwareCbt', skipCbtReset: 'true' } } },
      FAST,
    );
    await untilState('crm-web-01', 'Replicating');
    const recovered = await get('crm-web-01');
    expect(recovered.properties?.health).toBe('Normal');
    expect(recovered.properties?.providerSpecificDetails).toMatchObject({
      initialSeedingRetryCount: 1,
      resyncRequired: 'false',
    });
  });

  it('reports a test VM that does not boot; the clean-up is still allowed and removes it', async () => {
    const replicating = await get('crm-web-01');
    await expect(
      items().beginTestMigrateAndWait(
        VAULT,
        VAULT_RG,
        FABRIC,
        CONTAINER,
        'crm-web-01',
        {
          properties: {
            providerSpecificDetails: {
              instanceType: 'VMwareCbt',
              recoveryPointId: lastRecoveryPoint(replicating),
              networkId: TEST_VNET_ID,
            },
          },
        },
        FAST,
      ),
    ).rejects.toThrow(/TestMigrationVmBootFailed/);
    const failed = await get('crm-web-01');
    expect(failed.properties?.testMigrateState).toBe('TestMigrationFailed');
    expect(failed.properties?.allowedOperations).toEqual(['TestMigrateCleanup']);
    expect(failed.properties?.healthErrors?.[0]).toMatchObject({
      errorCode: 'TestMigrationVmBootFailed',
      possibleCauses: expect.any(String),
      recommendedAction: expect.stringContaining('Clean up'),
    });
    const job = await t.sr.replicationJobs.get(
      VAULT,
      VAULT_RG,
      failed.properties!.currentJob!.jobId!.split('/').pop()!,
    );
    expect(job.properties).toMatchObject({ scenarioName: 'TestMigrate', state: 'Failed' });
    expect(job.properties?.errors?.[0]?.serviceErrorDetails?.code).toBe('TestMigrationVmBootFailed');
    expect(t.sim.core.ledgerSummary().leakedTestVms).toBe(1);

    const cleaned = await items().beginTestMigrateCleanupAndWait(
      VAULT,
      VAULT_RG,
      FABRIC,
      CONTAINER,
      'crm-web-01',
      { properties: {} },
      FAST,
    );
    expect(cleaned.properties?.testMigrateState).toBe('None');
    expect(t.sim.core.ledgerSummary().leakedTestVms).toBe(0);
  });

  it('fails the migration without a target VM, allowing a retry or a stop', async () => {
    await expect(
      items().beginMigrateAndWait(
        VAULT,
        VAULT_RG,
        FABRIC,
        CONTAINER,
        'crm-web-01',
        { properties: { providerSpecificDetails: { instanceType: 'VMwareCbt', performShutdown: 'false' } } },
        FAST,
      ),
    ).rejects.toThrow(/MigrationVmCreationFailed/);
    const failed = await get('crm-web-01');
    expect(failed.properties?.migrationState).toBe('MigrationFailed');
    expect(failed.properties?.allowedOperations).toEqual(['Migrate', 'DisableMigration']);
    expect(t.sim.core.sim.compute.listVms().some((v) => v.name === 'crm-web-01')).toBe(false);
    // A retry after a failure is not a duplicate migrate call.
    expect(t.sim.core.ledgerSummary().duplicateMigrateCalls).toBe(0);
  });

  it('ends an Automanage onboarding in Failed, with the error in its report', async () => {
    t.sim.core.sim.compute.createVm(
      { name: 'app-01', resourceGroup: 'rg-prod', vmSize: 'Standard_D2s_v5', osType: 'Linux' },
      'control',
    );
    await t.automanage.configurationProfileAssignments.createOrUpdate('default', 'rg-prod', 'app-01', {
      properties: {
        configurationProfile: '/providers/Microsoft.Automanage/bestPractices/AzureBestPracticesDevTest',
      },
    });
    await expect
      .poll(
        async () =>
          (await t.automanage.configurationProfileAssignments.get('rg-prod', 'default', 'app-01')).properties
            ?.status,
        { timeout: 20_000, interval: 100 },
      )
      .toBe('Failed');
    const reports = [];
    for await (const r of t.automanage.reports.listByConfigurationProfileAssignments(
      'rg-prod',
      'default',
      'app-01',
    )) {
      reports.push(r);
    }
    expect(reports[0]).toMatchObject({ typePropertiesType: 'Initial', status: 'Failed' });
    expect(reports[0]?.error?.code).toBe('ConfigurationProfileAssignmentFailed');
    expect(reports[0]?.resources?.some((r) => r.name === 'Backup')).toBe(false);
  });
});

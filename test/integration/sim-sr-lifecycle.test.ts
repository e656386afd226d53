/**
 * One machine's whole life on the simulated Azure, driven through the real SDK clients: enable,
 * seeding to Replicating, test migrate, clean-up, migrate, complete (delete), and Automanage to
 * Conformant; with the resource events a webhook subscription receives.
 */
import type { MigrationItem } from '@azure/arm-recoveryservices-siterecovery';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  APPLIANCE,
  CONTAINER,
  enableInput,
  FABRIC,
  FAST,
  startTestSim,
  startWebhook,
  TARGET_RG_ID,
  TEST_VNET_ID,
  type TestSim,
  VAULT,
  VAULT_RG,
} from './sim-sr-support';

let t: TestSim;
let hook: Awaited<ReturnType<typeof startWebhook>>;

beforeAll(async () => {
  hook = await startWebhook();
  t = await startTestSim({ eventSubscriptions: [{ name: 'factory', endpointUrl: hook.url }] });
});

afterAll(async () => {
  await t?.stop();
  await hook?.close();
});

const get = (name: string) => t.sr.replicationMigrationItems.get(VAULT, VAULT_RG, FABRIC, CONTAINER, name);
const details = (item: MigrationItem) =>
  item.properties?.providerSpecificDetails as unknown as Record<string, unknown> & {
    initialSeedingProgressPercentage?: number;
    lastRecoveryPointId?: string;
    targetVmName?: string;
  };

describe('simulated Site Recovery through @azure/arm-recoveryservices-siterecovery', () => {
  it('serves the vault fabric, container and VMwareCbt policy the way Az.Migrate looks them up', async () => {
    const fabrics = [];
    for await (const f of t.sr.replicationFabrics.list(VAULT, VAULT_RG)) fabrics.push(f);
    expect(fabrics.map((f) => f.name)).toEqual([FABRIC]);
    expect(fabrics[0]?.properties?.customDetails?.instanceType).toBe('VMwareV2');
    const containers = [];
    for await (const c of t.sr.replicationProtectionContainers.listByReplicationFabrics(
      VAULT,
      VAULT_RG,
      FABRIC,
    )) {
      containers.push(c);
    }
    expect(containers.map((c) => c.name)).toEqual([CONTAINER]);
    const policies = [];
    for await (const p of t.sr.replicationPolicies.list(VAULT, VAULT_RG)) policies.push(p);
    expect(policies[0]?.properties?.providerSpecificDetails?.instanceType).toBe('VMwareCbt');
    const named = await t.sr.replicationPolicies.get(VAULT, VAULT_RG, `migrate${APPLIANCE}sitepolicy`);
    expect(named.id).toBe(policies[0]?.id);
    const mappings = [];
    for await (const m of t.sr.replicationProtectionContainerMappings.listByReplicationProtectionContainers(
      VAULT,
      VAULT_RG,
      FABRIC,
      CONTAINER,
    )) {
      mappings.push(m);
    }
    expect(mappings[0]?.properties).toMatchObject({ policyId: named.id, state: 'Paired' });
    expect(mappings[0]?.properties?.providerSpecificDetails).toMatchObject({
      instanceType: 'VMwareCbt',
      keyVaultUri: expect.stringMatching(/^https:\/\/migratekv/),
      targetLocation: 'westeurope',
    });
  });

  it('takes a machine from enable to completed migration and onboarded', async () => {
    const vm = 'crm-web-01';
    const created = await t.sr.replicationMigrationItems.beginCreateAndWait(
      VAULT,
      VAULT_RG,
      FABRIC,
      CONTAINER,
      vm,
      enableInput(vm, 1),
      FAST,
    );
    expect(created.properties?.migrationState).toBe('InitialSeedingInProgress');
    expect(created.properties?.allowedOperations).toEqual(['DisableMigration']);
    expect(details(created).targetVmName).toBe(vm);

    const job = await t.sr.replicationJobs.get(
      VAULT,
      VAULT_RG,
      created.properties!.currentJob!.jobId!.split('/').pop()!,
    );
    expect(job.properties).toMatchObject({ scenarioName: 'EnableMigration', state: 'Succeeded' });

    const progress: number[] = [];
    await expect
      .poll(
        async () => {
          const item = await get(vm);
          progress.push(details(item).initialSeedingProgressPercentage ?? -1);
          return item.properties?.migrationState;
        },
        { timeout: 20_000, interval: 100 },
      )
      .toBe('Replicating');
    expect(progress.some((p) => p > 0 && p < 100)).toBe(true);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    const replicating = await get(vm);
    expect(replicating.properties?.allowedOperations).toContain('TestMigrate');
    const recoveryPointId = details(replicating).lastRecoveryPointId;
    expect(recoveryPointId).toMatch(/\/migrationRecoveryPoints\//);

    const tested = await t.sr.replicationMigrationItems.beginTestMigrateAndWait(
      VAULT,
      VAULT_RG,
      FABRIC,
      CONTAINER,
      vm,
      {
        properties: {
          providerSpecificDetails: {
            instanceType: 'VMwareCbt',
            recoveryPointId: recoveryPointId!,
            networkId: TEST_VNET_ID,
          },
        },
      },
      FAST,
    );
    expect(tested.properties?.testMigrateState).toBe('TestMigrationSucceeded');
    expect(tested.properties?.allowedOperations).toEqual(['TestMigrateCleanup']);
    expect(tested.properties?.lastTestMigrationTime).toBeInstanceOf(Date);
    const testVm = t.sim.core.sim.compute.listVms().find((v) => v.name === `${vm}-test`);
    expect(testVm?.subnetId).toBe(`${TEST_VNET_ID}/subnets/default`);
    expect(t.sim.core.ledgerSummary().leakedTestVms).toBe(1);

    // Site Recovery refuses Migrate until the test VM is cleaned up.
    await expect(
      t.sr.replicationMigrationItems.beginMigrate(VAULT, VAULT_RG, FABRIC, CONTAINER, vm, {
        properties: { providerSpecificDetails: { instanceType: 'VMwareCbt', performShutdown: 'true' } },
      }),
    ).rejects.toMatchObject({ statusCode: 409, code: 'MigrationItemOperationNotAllowed' });

    const cleaned = await t.sr.replicationMigrationItems.beginTestMigrateCleanupAndWait(
      VAULT,
      VAULT_RG,
      FABRIC,
      CONTAINER,
      vm,
      { properties: { comments: 'test passed' } },
      FAST,
    );
    expect(cleaned.properties?.testMigrateState).toBe('None');
    expect(cleaned.properties?.lastTestMigrationStatus).toBe('Succeeded');
    expect(t.sim.core.sim.compute.listVms().some((v) => v.name === `${vm}-test`)).toBe(false);
    expect(t.sim.core.ledgerSummary().leakedTestVms).toBe(0);

    const migrated = await t.sr.replicationMigrationItems.beginMigrateAndWait(
      VAULT,
      VAULT_RG,
      FABRIC,
      CONTAINER,
      vm,
      { properties: { providerSpecificDetails: { instanceType: 'VMwareCbt', performShutdown: 'true' } } },
      FAST,
    );
    expect(migrated.properties?.migrationState).toBe('MigrationSucceeded');
    expect(migrated.properties?.allowedOperations).toEqual(['DisableMigration']);
    const target = t.sim.core.sim.compute.listVms().find((v) => v.name === vm);
    expect(target).toMatchObject({
      resourceGroup: 'rg-prod',
      vmSize: 'Standard_D4s_v5',
      createdBy: 'siteRecovery',
    });
    expect(t.sim.core.ledgerSummary().undeletedMigrationItems).toBe(1);
    const sr = t.sim.core.providers.find((p) => p.namespace === 'Microsoft.RecoveryServices');
    expect(await sr?.controlActions?.sourcePowerStates?.({}, t.sim.core.sim)).toMatchObject({
      'crm-web-01': 'Off',
      'crm-web-02': 'On',
    });

    await expect(
      t.sr.replicationMigrationItems.beginMigrate(VAULT, VAULT_RG, FABRIC, CONTAINER, vm, {
        properties: { providerSpecificDetails: { instanceType: 'VMwareCbt', performShutdown: 'true' } },
      }),
    ).rejects.toMatchObject({ statusCode: 409 });
    expect(t.sim.core.ledgerSummary().duplicateMigrateCalls).toBe(1);

    await t.sr.replicationMigrationItems.beginDeleteAndWait(VAULT, VAULT_RG, FABRIC, CONTAINER, vm, FAST);
    await expect(get(vm)).rejects.toMatchObject({ statusCode: 404 });
    expect(t.sim.core.ledgerSummary().undeletedMigrationItems).toBe(0);

    const jobs = [];
    for await (const j of t.sr.replicationJobs.list(VAULT, VAULT_RG)) jobs.push(j.properties?.scenarioName);
    expect(jobs).toEqual([
      'EnableMigration',
      'TestMigrate',
      'TestMigrateCleanup',
      'Migrate',
      'DisableMigration',
    ]);

    const profile = '/providers/Microsoft.Automanage/bestPractices/AzureBestPracticesProduction';
    const assigned = await t.automanage.configurationProfileAssignments.createOrUpdate(
      'default',
      'rg-prod',
      vm,
      {
        properties: { configurationProfile: profile },
      },
    );
    expect(assigned.properties?.status).toBe('InProgress');
    expect(assigned.properties?.targetId).toBe(
      `${TARGET_RG_ID}/providers/Microsoft.Compute/virtualMachines/${vm}`,
    );
    await expect
      .poll(
        async () =>
          (await t.automanage.configurationProfileAssignments.get('rg-prod', 'default', vm)).properties
            ?.status,
        { timeout: 20_000, interval: 100 },
      )
      .toBe('Conformant');
    const reports = [];
    for await (const r of t.automanage.reports.listByConfigurationProfileAssignments(
      'rg-prod',
      'default',
      vm,
    ))
      reports.push(r);
    expect(reports.map((r) => [r.typePropertiesType, r.status])).toEqual([['Initial', 'Conformant']]);

    const item =
      'Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationMigrationItems';
    await expect.poll(() => hook.events().length, { timeout: 10_000 }).toBeGreaterThanOrEqual(7);
    const seen = hook
      .events()
      .map((e) => `${e.eventType} ${(e.data as { operationName?: string }).operationName}`);
    expect(seen).toEqual(
      expect.arrayContaining([
        `Microsoft.Resources.ResourceWriteSuccess ${item}/write`,
        `Microsoft.Resources.ResourceActionSuccess ${item}/testMigrate/action`,
        `Microsoft.Resources.ResourceActionSuccess ${item}/testMigrateCleanup/action`,
        `Microsoft.Resources.ResourceActionSuccess ${item}/migrate/action`,
        `Microsoft.Resources.ResourceDeleteSuccess ${item}/delete`,
        'Microsoft.Resources.ResourceWriteSuccess Microsoft.Compute/virtualMachines/write',
        'Microsoft.Resources.ResourceWriteSuccess Microsoft.Automanage/configurationProfileAssignments/write',
      ]),
    );
  });
});

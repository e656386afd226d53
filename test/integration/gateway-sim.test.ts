/**
 * The gateways against the simulated Azure, through the real SDK clients and DefaultAzureCredential
 * configured by settings only (as the app is): inventory, networks, sizes, one machine's whole
 * migration, onboarding, errors as typed errors, and stage events on a custom topic.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateways } from '../../src/azure';
import type { AzureGateways, MigrationItemRecord, OperationRef } from '../../src/azure/types';
import { createCredential, type FactoryConfig, loadConfig } from '../../src/config';
import { AzureOperationError } from '../../src/domain/errors';
import {
  machineId,
  PROD_VNET_ID,
  startTestSim,
  startWebhook,
  TARGET_RG_ID,
  type TestSim,
  VAULT,
  VAULT_RG,
} from './sim-sr-support';

const TOPIC = { name: 'factory-lifecycle', key: 'topic-key-for-tests' };
const RUN_AS = `/subscriptions/6f1c2a9e-0000-4000-8000-000000000001/resourceGroups/${VAULT_RG}/providers/Microsoft.OffAzure/VMwareSites/contoso-app01site/runasaccounts/vcenter`;
const LOG_STORAGE = `/subscriptions/6f1c2a9e-0000-4000-8000-000000000001/resourceGroups/${VAULT_RG}/providers/Microsoft.Storage/storageAccounts/migratelsa01`;

let t: TestSim;
let hook: Awaited<ReturnType<typeof startWebhook>>;
let config: FactoryConfig;
let gateways: AzureGateways;

beforeAll(async () => {
  hook = await startWebhook();
  t = await startTestSim({
    eventGridTopics: [TOPIC],
    eventSubscriptions: [{ name: 'lifecycle', endpointUrl: hook.url, topic: TOPIC.name }],
  });
  // DefaultAzureCredential reads its own settings from the environment, as in the Function App.
  Object.assign(process.env, t.sim.env());
  config = loadConfig({
    ...t.sim.env(),
    AZURE_RESOURCE_MANAGER_ENDPOINT: t.sim.armUrl,
    AZURE_DISABLE_INSTANCE_DISCOVERY: 'true',
    MIGRATE_RESOURCE_GROUP: VAULT_RG,
    MIGRATE_PROJECT_NAME: 'contoso-migrate',
    MIGRATE_VAULT_NAME: VAULT,
    MIGRATE_RUN_AS_ACCOUNT_ID: RUN_AS,
    MIGRATE_LOG_STORAGE_ACCOUNT_ID: LOG_STORAGE,
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    LIFECYCLE_TOPIC_ENDPOINT: `${t.sim.armUrl}/eventGrid/topics/${TOPIC.name}/api/events`,
    LIFECYCLE_TOPIC_KEY: TOPIC.key,
    ARM_WRITES_PER_SECOND: '50',
  });
  gateways = createGateways(config, createCredential(config));
});

afterAll(async () => {
  await t?.stop();
  await hook?.close();
});

/** Re-reads until `done` holds; the simulator runs an hour of virtual time per real second. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const item = (name: string) => gateways.migration.get(machineId(name));
const itemUntil = (name: string, done: (i: MigrationItemRecord | undefined) => boolean, what: string) =>
  until(() => item(name), done, what);

describe('inventory, networks and sizes', () => {
  it('joins discovered machines with their assessment', async () => {
    const inventory = await gateways.assessment.listInventory();
    expect(inventory.map((m) => m.displayName).sort()).toEqual(['crm-db-01', 'crm-web-01', 'crm-web-02']);
    const web = inventory.find((m) => m.displayName === 'crm-web-01')!;
    expect(web.machineId.toLowerCase()).toBe(machineId('crm-web-01').toLowerCase());
    expect(web).toMatchObject({ suitability: 'Suitable', recommendedSize: 'Standard_D4s_v5', cores: 4 });
    expect(web.disks.map((d) => d.diskId).sort()).toEqual(['6000C291-aaaa-0001', '6000C291-bbbb-0001']);
  });

  it('lists virtual networks with subnets and the region VM sizes', async () => {
    const vnets = await gateways.network.listVnets();
    expect(vnets.map((v) => v.id.toLowerCase())).toContain(PROD_VNET_ID.toLowerCase());
    const prod = await gateways.network.getVnet('rg-net', 'vnet-prod');
    expect(prod?.subnets.map((s) => [s.name, s.addressPrefix])).toEqual([['default', '10.10.0.0/24']]);
    expect(await gateways.network.getVnet('rg-net', 'vnet-missing')).toBeUndefined();
    const skus = await gateways.compute.listSkus('westeurope');
    expect(skus.map((s) => s.name)).toContain('Standard_D4s_v5');
  });
});

describe('one machine through the migration gateway', () => {
  const name = 'crm-web-01';
  const id = machineId(name);

  it('enables once, reading first', async () => {
    expect(await item(name)).toBeUndefined();
    const request = {
      machineId: id,
      disks: [
        { diskId: '6000C291-aaaa-0001', isOSDisk: true, diskType: 'Premium_LRS' as const },
        { diskId: '6000C291-bbbb-0001', isOSDisk: false },
      ],
      targetResourceGroupId: TARGET_RG_ID,
      targetNetworkId: PROD_VNET_ID,
      targetSubnetName: 'default',
      testNetworkId: PROD_VNET_ID.replace('vnet-prod', 'vnet-test'),
      targetVmName: name,
      targetVmSize: 'Standard_D4s_v5',
    };
    const first = await gateways.migration.enable(request);
    expect(first.started).toBe(true);
    if (!first.started) return;
    expect(first.operation.statusUrl).toMatch(/^https:\/\//);
    expect(first.operation.resourceId.toLowerCase()).toContain('/replicationmigrationitems/crm-web-01');
    const again = await gateways.migration.enable(request);
    expect(again.started).toBe(false);

    const outcome = await until(
      () => gateways.migration.getOperation(first.operation),
      (o) => o.status !== 'InProgress',
      'the enable operation',
    );
    expect(outcome).toEqual({ status: 'Succeeded' });
  });

  it('reports seeding, then replicates with a recovery point', async () => {
    const replicating = await itemUntil(
      name,
      (i) => i?.migrationState === 'Replicating' && i.lastRecoveryPointId !== undefined,
      'replication',
    );
    expect(replicating?.allowedOperations).toContain('TestMigrate');
    expect(replicating?.machineId?.toLowerCase()).toBe(id.toLowerCase());
    expect(replicating?.initialSeedingProgressPercent).toBe(100);
  });

  it('updates target settings, the subnet through the primary NIC', async () => {
    const ref = await gateways.migration.update(id, {
      targetVmSize: 'Standard_D8s_v5',
      targetSubnetName: 'default',
    });
    const outcome = await until(
      () => gateways.migration.getOperation(ref),
      (o) => o.status !== 'InProgress',
      'the update operation',
    );
    expect(outcome.status).toBe('Succeeded');
    expect((await item(name))?.targetVmSize).toBe('Standard_D8s_v5');
  });

  it('test-migrates with the item defaults and cleans up', async () => {
    const before = t.sim.core.sim.clock.now();
    const started: OperationRef = await gateways.migration.testMigrate(id);
    const after = t.sim.core.sim.clock.now();
    expect(started.status).not.toBe('Failed');
    // Azure's start of the operation, from its first status read, by the simulator's clock.
    expect(started.startedAt).toBeGreaterThanOrEqual(before);
    expect(started.startedAt).toBeLessThanOrEqual(after);
    await itemUntil(name, (i) => i?.testMigrateState === 'TestMigrationSucceeded', 'test migration');
    await gateways.migration.testMigrateCleanup(id, 'verified');
    const cleaned = await itemUntil(
      name,
      (i) => i?.testMigrateState === 'None' && (i.allowedOperations ?? []).includes('Migrate'),
      'test clean-up',
    );
    expect(cleaned?.lastTestMigrationTime).toBeDefined();
  });

  it('migrates with shutdown, creating the target VM, onboards it, and completes', async () => {
    await gateways.migration.migrate(id, { performShutdown: true });
    await itemUntil(name, (i) => i?.migrationState === 'MigrationSucceeded', 'migration');
    const vm = await gateways.compute.getVm('rg-prod', name);
    expect(vm).toMatchObject({ name, provisioningState: 'Succeeded', powerState: 'running' });
    const listed = await gateways.compute.listVms('rg-prod');
    expect(listed.map((v) => v.name)).toContain(name);

    expect(gateways.onboarding.supportsRegion(vm!.location)).toBe(true);
    // No assignment: no reports to list either.
    expect(await gateways.onboarding.getProgress(vm!.id)).toBeUndefined();
    const before = t.sim.core.sim.clock.now();
    const assigned = await gateways.onboarding.assign(vm!.id, { kind: 'Production' });
    expect(assigned.profileId).toMatch(/AzureBestPracticesProduction$/);
    // When Azure took the assignment (ARM's systemData), to the millisecond of the simulator's clock.
    expect(assigned.assignedAt).toBeGreaterThanOrEqual(before);
    expect(assigned.assignedAt).toBeLessThanOrEqual(t.sim.core.sim.clock.now());
    const status = await gateways.onboarding.getAssignment(vm!.id);
    expect(status?.id.toLowerCase()).toContain('/configurationprofileassignments/default');
    const configuring = await gateways.onboarding.getProgress(vm!.id);
    expect(configuring?.status).toBeDefined();
    expect(configuring?.latestReport?.status).not.toBe('Conformant');
    const conformant = await until(
      () => gateways.onboarding.getProgress(vm!.id),
      (p) => p?.latestReport?.status === 'Conformant',
      'the first Conformant report',
    );
    // Once the report says Conformant the assignment is not read: its status is not there.
    expect(conformant).toEqual({ latestReport: expect.objectContaining({ status: 'Conformant' }) });

    await gateways.migration.complete(id);
    await itemUntil(name, (i) => i === undefined, 'completion');
  });
});

describe('failures', () => {
  it('maps a refused operation to AzureOperationError with Azure code and status', async () => {
    const error = await gateways.migration.migrate(machineId('crm-db-01'), { performShutdown: true }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AzureOperationError);
    const azure = error as AzureOperationError;
    expect(azure.statusCode).toBe(404);
    expect(azure.retriable).toBe(false);
    expect(azure.code).not.toBe('');
  });
});

describe('refusals', () => {
  it('surfaces a state that forbids the operation as a non-retriable 409 with Azure code', async () => {
    const id = machineId('crm-web-02');
    const enabled = await gateways.migration.enable({
      machineId: id,
      disks: [{ diskId: '6000C291-aaaa-0002', isOSDisk: true }],
      targetResourceGroupId: TARGET_RG_ID,
      targetNetworkId: PROD_VNET_ID,
    });
    expect(enabled.started).toBe(true);
    const error = await gateways.migration.migrate(id, { performShutdown: true }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AzureOperationError);
    expect(error).toMatchObject({
      statusCode: 409,
      code: 'MigrationItemOperationNotAllowed',
      retriable: false,
    });
  });
});

describe('lifecycle events', () => {
  it('publishes stage changes to the custom topic', async () => {
    await gateways.lifecycle.publish([
      {
        id: 'w1:crm-web-01:Replicating',
        waveId: 'w1',
        machineName: 'crm-web-01',
        from: 'Queued',
        to: 'Replicating',
        at: '2026-11-21T10:00:00.000Z',
      },
    ]);
    const delivered = await until(
      async () => hook.events(),
      (events) => events.some((e) => e.id === 'w1:crm-web-01:Replicating'),
      'the stage event delivery',
    );
    const event = delivered.find((e) => e.id === 'w1:crm-web-01:Replicating')!;
    expect(event.eventType).toBe('Factory.Machine.StageChanged');
    expect(event.subject).toBe('/waves/w1/machines/crm-web-01');
    expect(event.data).toMatchObject({ waveId: 'w1', to: 'Replicating' });
  });

  it('delivers every one of many stage changes published at once, which share publishes', async () => {
    const ids = Array.from({ length: 30 }, (_, i) => `w2:crm-app-${i}:Replicating`);
    await Promise.all(
      ids.map((id, i) =>
        gateways.lifecycle.publish([
          {
            id,
            waveId: 'w2',
            machineName: `crm-app-${i}`,
            from: 'Queued',
            to: 'Replicating',
            at: '2026-11-21T10:00:00.000Z',
          },
        ]),
      ),
    );
    const delivered = await until(
      async () => hook.events(),
      (events) => ids.every((id) => events.some((e) => e.id === id)),
      'the delivery of every stage event',
    );
    expect(delivered.filter((e) => ids.includes(e.id))).toHaveLength(ids.length);
  });
});

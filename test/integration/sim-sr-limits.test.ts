/** Enable validation and the appliance's replication limit, through the real Site Recovery client. */
import { createHttpHeaders, createPipelineRequest } from '@azure/core-rest-pipeline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONTAINER,
  enableInput,
  FABRIC,
  FAST,
  SUBSCRIPTION,
  startTestSim,
  type TestSim,
  testEstate,
  VAULT,
  VAULT_RG,
} from './sim-sr-support';

let t: TestSim;

beforeAll(async () => {
  t = await startTestSim({ estate: testEstate(2) });
});

afterAll(async () => {
  await t?.stop();
});

const items = () => t.sr.replicationMigrationItems;
const enable = (name: string, n: number, overrides: Record<string, unknown> = {}) =>
  t.sr.replicationMigrationItems.beginCreateAndWait(
    VAULT,
    VAULT_RG,
    FABRIC,
    CONTAINER,
    name,
    enableInput(name, n, overrides) as Parameters<typeof t.sr.replicationMigrationItems.beginCreate>[5],
    FAST,
  );

describe('simulated Site Recovery enable', () => {
  it('refuses invalid inputs with ARM-shaped 400 errors', async () => {
    await expect(
      enable('crm-web-01', 1, {
        targetAvailabilityZone: '1',
        targetAvailabilitySetId: '/x/availabilitySets/as1',
      }),
    ).rejects.toMatchObject({ statusCode: 400, code: 'AvailabilityZoneAndSetNotAllowed' });
    await expect(enable('crm-web-01', 1, { targetVmName: 'x'.repeat(65) })).rejects.toMatchObject({
      statusCode: 400,
      code: 'InvalidTargetVmName',
    });
    const tags = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`t${i}`, 'v']));
    await expect(enable('crm-web-01', 1, { targetVmTags: tags })).rejects.toMatchObject({
      statusCode: 400,
      code: 'TooManyTags',
    });
    // The SDK refuses a missing required property before sending; other clients (REST, Az.Migrate) reach the service.
    const body = enableInput('crm-web-01', 1);
    const { dataMoverRunAsAccountId: _omitted, ...details } = body.properties.providerSpecificDetails;
    const raw = await t.sr.sendRequest(
      createPipelineRequest({
        url: `${t.sim.armUrl}/subscriptions/${SUBSCRIPTION}/resourceGroups/${VAULT_RG}/providers/Microsoft.RecoveryServices/vaults/${VAULT}/replicationFabrics/${FABRIC}/replicationProtectionContainers/${CONTAINER}/replicationMigrationItems/crm-web-01?api-version=2023-06-01`,
        method: 'PUT',
        headers: createHttpHeaders({ 'content-type': 'application/json' }),
        body: JSON.stringify({ properties: { ...body.properties, providerSpecificDetails: details } }),
      }),
    );
    expect(raw.status).toBe(400);
    expect(JSON.parse(raw.bodyAsText ?? '{}').error).toMatchObject({
      code: 'MissingRequiredProperty',
      details: [{ target: 'dataMoverRunAsAccountId' }],
    });
    const items = [];
    for await (const i of t.sr.replicationMigrationItems.list(VAULT, VAULT_RG)) items.push(i);
    expect(items).toEqual([]);
  });

  it('keeps target VM names unique in the target resource group', async () => {
    await enable('crm-web-01', 1);
    await expect(enable('crm-web-02', 2, { targetVmName: 'CRM-WEB-01' })).rejects.toMatchObject({
      statusCode: 400,
      code: 'TargetVmNameNotUnique',
    });
  });

  it("refuses an enable beyond the appliance's simultaneous replications until a slot is freed", async () => {
    await enable('crm-web-02', 2);
    await expect(enable('crm-db-01', 3)).rejects.toMatchObject({
      statusCode: 409,
      code: 'MaxConcurrentReplicationsReached',
    });
    // Stopping a replication (DELETE of the item) frees its slot once the operation completes.
    await t.sr.replicationMigrationItems.beginDeleteAndWait(
      VAULT,
      VAULT_RG,
      FABRIC,
      CONTAINER,
      'crm-web-02',
      FAST,
    );
    const third = await enable('crm-db-01', 3);
    expect(third.properties?.migrationState).toBe('InitialSeedingInProgress');
    const items = [];
    for await (const i of t.sr.replicationMigrationItems.list(VAULT, VAULT_RG)) items.push(i.name);
    expect(items.sort()).toEqual(['crm-db-01', 'crm-web-01']);
  });

  it('updates target settings with PATCH, and pauses and resumes replication', async () => {
    await expect
      .poll(
        async () =>
          (await items().get(VAULT, VAULT_RG, FABRIC, CONTAINER, 'crm-web-01')).properties?.migrationState,
        {
          timeout: 20_000,
          interval: 100,
        },
      )
      .toBe('Replicating');
    const updated = await items().beginUpdateAndWait(
      VAULT,
      VAULT_RG,
      FABRIC,
      CONTAINER,
      'crm-web-01',
      {
        properties: {
          providerSpecificDetails: {
            instanceType: 'VMwareCbt',
            targetVmSize: 'Standard_E4s_v5',
            targetAvailabilityZone: '2',
          },
        },
      },
      FAST,
    );
    expect(updated.properties?.providerSpecificDetails).toMatchObject({
      targetVmSize: 'Standard_E4s_v5',
      targetAvailabilityZone: '2',
      targetVmName: 'crm-web-01',
    });
    const paused = await items().beginPauseReplicationAndWait(
      VAULT,
      VAULT_RG,
      FABRIC,
      CONTAINER,
      'crm-web-01',
      { properties: { instanceType: 'VMwareCbt' } },
      FAST,
    );
    expect(paused.properties?.migrationState).toBe('ProtectionSuspended');
    expect(paused.properties?.allowedOperations).toEqual(['ResumeReplication', 'DisableMigration']);
    const resumed = await items().beginResumeReplicationAndWait(
      VAULT,
      VAULT_RG,
      FABRIC,
      CONTAINER,
      'crm-web-01',
      {
        properties: {
          providerSpecificDetails: { instanceType: 'VMwareCbt', deleteMigrationResources: 'false' },
        },
      },
      FAST,
    );
    expect(resumed.properties?.migrationState).toBe('Replicating');
  });
});

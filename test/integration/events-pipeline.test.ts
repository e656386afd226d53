/**
 * A change made to a migration outside the factory wakes the pipeline that owns it: an operator
 * starts the test migration of a machine with the SDK (as the portal would) while its wave is
 * paused; the Event Grid handler raises `MigrationItemChanged` to the machine's pipeline, which
 * re-reads the item and carries on from the running test without starting a second one.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  SiteRecoveryManagementClient,
  type VMwareCbtMigrationDetails,
} from '@azure/arm-recoveryservices-siterecovery';
import { ClientSecretCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { machineInstanceId } from '../../src/domain/names';
import { type EventsStack, estateOf, planOf, SUBSCRIPTION, startEventsStack, until } from './events-support';

const APPLIANCE = 'contoso-app01';
const VAULT_RG = 'rg-migrate';
const VAULT = 'contoso-migrate-vault';
const TEST_VNET = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-test`;

let stack: EventsStack;
let sr: SiteRecoveryManagementClient;

beforeAll(async () => {
  const estate = estateOf(1, 10);
  // 600 GB seed for 6 virtual hours (6 s): time enough to see InitialSeeding on a loaded machine.
  estate.machines[0]!.disks[0]!.sizeGB = 600;
  // The operator acts in the portal as someone else: events the factory caused itself wake nothing.
  const operator = { clientId: randomUUID(), clientSecret: randomBytes(24).toString('base64url') };
  stack = await startEventsStack({
    estate,
    env: { MAX_REPLICATIONS_PER_APPLIANCE: '10' },
    operators: [operator],
  });
  const { authorityHost, tenantId } = stack.sim.authority;
  const credential = new ClientSecretCredential(tenantId, operator.clientId, operator.clientSecret, {
    authorityHost,
    disableInstanceDiscovery: true,
  });
  sr = new SiteRecoveryManagementClient(credential, SUBSCRIPTION, {
    endpoint: stack.sim.armUrl,
    credentialScopes: ['https://management.azure.com/.default'],
  });
});

afterAll(async () => {
  await stack?.stop();
});

async function machine(waveId: string): Promise<{ stage: string }> {
  return (await (await stack.api(`waves/${waveId}/machines/app-01`)).json()) as { stage: string };
}

const item = () =>
  sr.replicationMigrationItems.get(
    VAULT,
    VAULT_RG,
    `${APPLIANCE}replicationfabric`,
    `${APPLIANCE}replicationcontainer`,
    'app-01',
  );

describe('a test migration started outside the factory', () => {
  it('is picked up by the pipeline, which does not start a second one', async () => {
    const submitted = await stack.api('waves', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(planOf(['app-01'], { name: 'out-of-band test' })),
    });
    expect(submitted.status).toBe(202);
    const waveId = ((await submitted.json()) as { id: string }).id;
    await until(
      () => machine(waveId),
      (m) => m.stage === 'InitialSeeding',
      'initial seeding',
    );
    expect((await stack.api(`waves/${waveId}/pause`, { method: 'POST' })).status).toBe(202);

    const replicating = await until(
      item,
      (i) => i.properties?.allowedOperations?.includes('TestMigrate') === true,
      'the item to allow a test migration',
    );
    const details = replicating.properties?.providerSpecificDetails as VMwareCbtMigrationDetails;
    await sr.replicationMigrationItems.beginTestMigrateAndWait(
      VAULT,
      VAULT_RG,
      `${APPLIANCE}replicationfabric`,
      `${APPLIANCE}replicationcontainer`,
      'app-01',
      {
        properties: {
          providerSpecificDetails: {
            instanceType: 'VMwareCbt',
            networkId: TEST_VNET,
            recoveryPointId: details.lastRecoveryPointId!,
          },
        },
      },
      { updateIntervalInMs: 20 },
    );
    const pipeline = machineInstanceId(waveId, 'app-01');
    await until(
      async () =>
        stack.logs.filter((line) => line.includes(`MigrationItemChanged raised to ${pipeline}`)).length,
      (raised) => raised > 0,
      'the event raised to the pipeline',
    );
    expect((await stack.api(`waves/${waveId}/resume`, { method: 'POST' })).status).toBe(202);

    const done = await until(
      () => machine(waveId),
      (m) => m.stage === 'Done' || m.stage === 'Failed',
      'the machine to finish',
    );
    expect(done.stage).toBe('Done');
    const testMigrations = stack.sim.core
      .ledgerEntries()
      .filter(
        (e) => e.method === 'POST' && e.resource.endsWith('/replicationmigrationitems/app-01/testmigrate'),
      );
    expect(testMigrations).toHaveLength(1);
    // Only the operator's change woke the pipeline: the factory's own actions on the item did not.
    expect(
      stack.logs.filter((line) => line.includes(`MigrationItemChanged raised to ${pipeline}`)),
    ).toHaveLength(1);
    expect(stack.sim.core.ledgerSummary()).toMatchObject({ leakedTestVms: 0, duplicateMigrateCalls: 0 });

    // The VMs the migration created were seen by the onboarding handler and left to the pipeline,
    // which onboarded the migrated VM once; the test VM was never onboarded.
    const target = stack.vmId('rg-prod', 'app-01');
    const status = async (vm: string) => {
      const response = await stack.api(`vms/status?vmId=${encodeURIComponent(vm)}`);
      return response.ok ? ((await response.json()) as { state: string; reason?: string }) : undefined;
    };
    const record = await until(
      () => status(target),
      (r) => r !== undefined,
      'the migrated VM judged',
    );
    expect(record).toMatchObject({ state: 'Skipped', reason: expect.stringMatching(/migrated by wave/) });
    const testVm = stack.vmId('rg-prod', 'app-01-test');
    const testRecord = await until(
      () => status(testVm),
      (r) => r !== undefined,
      'the test VM judged',
    );
    expect(testRecord?.reason).toMatch(/test-migration VM/);
    const assignmentPuts = (vm: string) =>
      stack.sim.core
        .ledgerEntries()
        .filter(
          (e) =>
            e.method === 'PUT' &&
            e.status < 300 &&
            e.resource ===
              `${vm}/providers/microsoft.automanage/configurationprofileassignments/default`.toLowerCase(),
        ).length;
    expect(assignmentPuts(target)).toBe(1);
    expect(assignmentPuts(testVm)).toBe(0);
  });
});

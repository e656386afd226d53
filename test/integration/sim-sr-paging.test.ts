/** Listing more migration items than fit in a page: the SDK's iterator follows `nextLink`. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEstate } from '../../local/azure-sim/estate/generate';
import {
  CONTAINER,
  enableInput,
  FABRIC,
  PROD_VNET_ID,
  SUBSCRIPTION,
  startTestSim,
  TARGET_RG_ID,
  type TestSim,
  VAULT,
  VAULT_RG,
} from './sim-sr-support';

/** One page holds 100 items. */
const MACHINES = 110;
const estate = { ...generateEstate(MACHINES, 3), subscriptionId: SUBSCRIPTION };
let t: TestSim;

beforeAll(async () => {
  t = await startTestSim({ estate });
});

afterAll(async () => {
  await t?.stop();
});

describe('simulated Site Recovery lists', () => {
  it('pages migration items and jobs with nextLink', async () => {
    const machines = estate.machines.filter((m) => m.appliance === 'contoso-app01');
    expect(machines.length).toBe(MACHINES);
    const enable = async (m: (typeof machines)[number]) => {
      const base = enableInput(m.name, 1).properties.providerSpecificDetails;
      const log = base.disksToInclude[0]!.logStorageAccountId;
      await t.sr.replicationMigrationItems.beginCreate(VAULT, VAULT_RG, FABRIC, CONTAINER, m.name, {
        properties: {
          policyId: enableInput(m.name, 1).properties.policyId,
          providerSpecificDetails: {
            ...base,
            disksToInclude: m.disks.map((d) => ({
              diskId: d.id,
              isOSDisk: d.isOS === true ? 'true' : 'false',
              logStorageAccountId: log,
              logStorageAccountSasSecretName: 'migratelsa-sas',
            })),
            targetResourceGroupId: TARGET_RG_ID,
            targetNetworkId: PROD_VNET_ID,
            testNetworkId: undefined,
          },
        },
      });
    };
    // Ten at a time, as the portal enables them.
    for (let i = 0; i < machines.length; i += 10) await Promise.all(machines.slice(i, i + 10).map(enable));
    const pages: number[] = [];
    for await (const page of t.sr.replicationMigrationItems.list(VAULT, VAULT_RG).byPage())
      pages.push(page.length);
    expect(pages).toEqual([100, MACHINES - 100]);
    const names = new Set<string>();
    for await (const item of t.sr.replicationMigrationItems.listByReplicationProtectionContainers(
      VAULT,
      VAULT_RG,
      FABRIC,
      CONTAINER,
    )) {
      names.add(item.name ?? '');
    }
    expect(names.size).toBe(MACHINES);
    let jobs = 0;
    for await (const _ of t.sr.replicationJobs.list(VAULT, VAULT_RG)) jobs += 1;
    expect(jobs).toBe(MACHINES);
  });
});

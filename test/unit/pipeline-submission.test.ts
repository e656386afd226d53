/** From a checked plan to the orchestrations' work: the job of a machine and its place in the schedule. */
import { describe, expect, it } from 'vitest';
import type { Inventory } from '../../src/domain/inventory';
import { planSchema } from '../../src/domain/plan';
import { resolvePlan } from '../../src/domain/resolve';
import { applianceOfMachineId, toInventoryMachine } from '../../src/functions/http/inventory';
import { machineJob, networkIdOf, targetGroupsOf, waveMachine } from '../../src/functions/http/jobs';

const SUB = '6f1c2a9e-0000-4000-8000-000000000001';
const MACHINE_ID = `/subscriptions/${SUB}/resourceGroups/rg-migrate/providers/Microsoft.OffAzure/VMwareSites/app01site/machines/web-01`;

const inventory: Inventory = {
  subscriptionId: SUB,
  location: 'westeurope',
  appliances: [{ name: 'app01', maxConcurrentReplications: 300, seedingGBPerHour: 100 }],
  machines: [
    {
      id: MACHINE_ID,
      name: 'web-01',
      appliance: 'app01',
      os: { type: 'Windows' },
      disks: [
        { id: 'd-os', sizeGB: 100, isOS: true },
        { id: 'd-data', sizeGB: 100 },
      ],
      nics: [],
      assessment: {
        suitability: 'Suitable',
        explanations: [],
        recommendedSize: 'Standard_D4s_v5',
        diskTypes: { 'd-os': 'Premium' },
      },
      tags: { environment: 'Dev' },
    },
  ],
  resourceGroups: [{ name: 'rg-prod' }],
  virtualNetworks: [
    {
      resourceGroup: 'rg-net',
      name: 'vnet-prod',
      addressPrefixes: ['10.0.0.0/16'],
      subnets: [{ name: 'default' }],
    },
    {
      resourceGroup: 'rg-net',
      name: 'vnet-test',
      addressPrefixes: ['10.1.0.0/16'],
      subnets: [{ name: 'default' }],
    },
  ],
};

const plan = planSchema.parse({
  name: 'w',
  settings: { shutdownSource: false },
  migrateProject: { subscriptionId: SUB, resourceGroup: 'rg-migrate', name: 'p', appliance: 'app01' },
  machines: [
    {
      sourceName: 'web-01',
      priority: 2,
      testMigration: false,
      target: {
        resourceGroup: 'rg-prod',
        virtualNetwork: 'vnet-prod',
        testNetwork: 'vnet-test',
        name: 'azweb01',
        useAssessment: true,
        availabilitySet: 'as-web',
        tags: { all: { owner: 'crm' }, vm: { tier: 'web' } },
      },
    },
  ],
});

describe('machine jobs', () => {
  const [resolved] = resolvePlan(plan, inventory);

  it('carries everything the enable, the test, the cut-over and the onboarding need', () => {
    const job = machineJob('w1', resolved!, inventory);
    const rg = `/subscriptions/${SUB}/resourceGroups/rg-prod`;
    expect(job).toMatchObject({
      waveId: 'w1',
      name: 'web-01',
      machineId: MACHINE_ID,
      appliance: 'app01',
      targetResourceGroup: 'rg-prod',
      targetVmName: 'azweb01',
      performShutdown: false,
      skipTestMigration: true,
      onboarding: { kind: 'DevTest' },
    });
    expect(job.enable).toMatchObject({
      machineId: MACHINE_ID,
      targetResourceGroupId: rg,
      targetNetworkId: `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-prod`,
      testNetworkId: `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-test`,
      targetSubnetName: 'default',
      targetVmName: 'azweb01',
      targetVmSize: 'Standard_D4s_v5',
      targetAvailabilitySetId: `${rg}/providers/Microsoft.Compute/availabilitySets/as-web`,
      vmTags: { owner: 'crm', tier: 'web' },
      diskTags: { owner: 'crm' },
    });
    expect(job.enable.disks).toEqual([
      { diskId: 'd-os', isOSDisk: true, diskType: 'Premium_LRS' },
      { diskId: 'd-data', isOSDisk: false, diskType: 'Standard_LRS' },
    ]);
  });

  it('schedules the machine by how long it holds a slot, with its priority', () => {
    // 200 GB at 100 GB/h = 120 min of seeding, + enable 2 + migrate 20 + complete 2 (no test).
    expect(waveMachine(resolved!, inventory)).toEqual({
      name: 'web-01',
      appliance: 'app01',
      slotMinutes: 144,
      priority: 2,
    });
    expect(targetGroupsOf(plan)).toEqual(['rg-prod']);
  });

  it('resolves network names and ids in the landing zone', () => {
    const id = `/subscriptions/${SUB}/resourceGroups/x/providers/Microsoft.Network/virtualNetworks/y`;
    expect(networkIdOf(id, SUB, inventory)).toBe(id);
    expect(networkIdOf('VNET-TEST', SUB, inventory)).toMatch(/virtualNetworks\/vnet-test$/);
    expect(networkIdOf('vnet-none', SUB, inventory)).toBeUndefined();
  });
});

describe('inventory from Azure', () => {
  it('names the appliance after the VMware site and keeps the assessment', () => {
    expect(applianceOfMachineId(MACHINE_ID)).toBe('app01');
    expect(applianceOfMachineId('/subscriptions/s/resourceGroups/g/providers/X/y')).toBeUndefined();
    const machine = toInventoryMachine({
      machineId: MACHINE_ID,
      displayName: 'web-01',
      suitability: 'ConditionallySuitable',
      suitabilityExplanation: 'GuestOperatingSystemNotSupported',
      disks: [{ diskId: 'd-os', sizeGB: 100, recommendedDiskType: 'StandardSSD' }],
      nics: [{ id: 'n1', macAddress: 'aa', ipAddresses: ['10.0.0.4'] }],
    });
    expect(machine).toEqual({
      id: MACHINE_ID,
      name: 'web-01',
      appliance: 'app01',
      os: { type: 'Unknown' },
      disks: [{ id: 'd-os', sizeGB: 100 }],
      nics: [{ id: 'n1', mac: 'aa', ips: ['10.0.0.4'] }],
      assessment: {
        suitability: 'ConditionallySuitable',
        explanations: ['GuestOperatingSystemNotSupported'],
        diskTypes: { 'd-os': 'StandardSSD' },
      },
    });
  });
});

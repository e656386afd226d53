import type { AssessedMachine, Machine } from '@azure/arm-migrate';
import type { MigrationItem } from '@azure/arm-recoveryservices-siterecovery';
import { describe, expect, it } from 'vitest';
import { toInventoryMachine } from '../../src/azure/assessment';
import { toVmRecord, toVmSku } from '../../src/azure/compute';
import { toEventGridEvent } from '../../src/azure/lifecycle';
import { hashForArtifact, outcomeFromStatusResponse, toMigrationItemRecord } from '../../src/azure/migration';
import { toVnetRecord } from '../../src/azure/network';
import { profileId, toOnboardingReport } from '../../src/azure/onboarding';

const SITE = '/subscriptions/s/resourceGroups/rg-migrate/providers/Microsoft.OffAzure/VMwareSites/app01site';

describe('migration items', () => {
  it('maps state, allowed operations, health errors and VMwareCbt details', () => {
    const item = {
      id: '/subscriptions/s/.../replicationMigrationItems/crm-web-01',
      name: 'crm-web-01',
      properties: {
        machineName: 'crm-web-01',
        migrationState: 'InitialSeedingFailed',
        testMigrateState: 'None',
        allowedOperations: ['StartResync', 'DisableMigration'],
        health: 'Critical',
        healthErrors: [
          {
            errorCode: '78140',
            errorMessage: 'Seeding failed.',
            possibleCauses: 'The appliance lost its connection.',
            recommendedAction: 'Resync.',
            errorLevel: 'Error',
            creationTimeUtc: new Date('2026-11-21T10:00:00Z'),
          },
        ],
        currentJob: { jobName: 'job-1', startTime: new Date('2026-11-21T09:00:00Z') },
        providerSpecificDetails: {
          instanceType: 'VMwareCbt',
          vmwareMachineId: `${SITE}/machines/crm-web-01`,
          initialSeedingProgressPercentage: 40,
          resyncRequired: 'true',
          lastRecoveryPointId: 'rp-1',
          targetVmName: 'crm-web-01',
        },
      },
    } as unknown as MigrationItem;
    expect(toMigrationItemRecord(item)).toEqual({
      id: item.id,
      name: 'crm-web-01',
      machineId: `${SITE}/machines/crm-web-01`,
      machineName: 'crm-web-01',
      migrationState: 'InitialSeedingFailed',
      testMigrateState: 'None',
      allowedOperations: ['StartResync', 'DisableMigration'],
      health: 'Critical',
      healthErrors: [
        {
          code: '78140',
          message: 'Seeding failed.',
          possibleCauses: 'The appliance lost its connection.',
          recommendedAction: 'Resync.',
          severity: 'Error',
          createdAt: '2026-11-21T10:00:00.000Z',
        },
      ],
      currentJob: { name: 'job-1', startedAt: '2026-11-21T09:00:00.000Z' },
      initialSeedingProgressPercent: 40,
      resyncRequired: true,
      lastRecoveryPointId: 'rp-1',
      targetVmName: 'crm-web-01',
    });
  });

  it('reads operation status from Azure-AsyncOperation bodies and Location codes', () => {
    expect(outcomeFromStatusResponse(200, { status: 'InProgress' })).toEqual({ status: 'InProgress' });
    expect(outcomeFromStatusResponse(200, { status: 'Cancelled' })).toEqual({ status: 'Canceled' });
    expect(outcomeFromStatusResponse(200, { status: 'Failed', error: { code: 'E', message: 'm' } })).toEqual({
      status: 'Failed',
      error: { code: 'E', message: 'm' },
    });
    expect(outcomeFromStatusResponse(202, undefined)).toEqual({ status: 'InProgress' });
    expect(outcomeFromStatusResponse(204, undefined)).toEqual({ status: 'Succeeded' });
    expect(outcomeFromStatusResponse(400, { error: { code: 'Bad', message: 'no' } })).toEqual({
      status: 'Failed',
      error: { code: 'Bad', message: 'no', statusCode: 400 },
    });
  });

  it("computes Az.Migrate's artifact hash (Java-style 32-bit string hash, absolute)", () => {
    expect(hashForArtifact('')).toBe(0);
    expect(hashForArtifact('ab')).toBe(97 * 31 + 98);
    const long = hashForArtifact('contoso-app01sitewesteurope');
    expect(Number.isInteger(long) && long >= 0 && long <= 2 ** 31).toBe(true);
  });
});

describe('assessment inventory', () => {
  it('joins a discovered machine with its assessed disks and suitability', () => {
    const machine = {
      id: '/subscriptions/s/.../assessmentProjects/p/machines/m1',
      name: 'm1',
      properties: {
        displayName: 'crm-db-01',
        discoveryMachineArmId: `${SITE}/machines/crm-db-01`,
        bootType: 'EFI',
        numberOfCores: 8,
        megabytesOfMemory: 32768,
        operatingSystemType: 'Linux',
        disks: { 'disk-1': { gigabytesAllocated: 64, displayName: 'Hard disk 1' } },
        networkAdapters: { '4000': { macAddress: '00:50:56:aa:00:01', ipAddresses: ['192.168.10.11'] } },
      },
    } as unknown as Machine;
    const assessed = {
      properties: {
        datacenterMachineArmId: `${SITE}/machines/crm-db-01`,
        suitability: 'ConditionallySuitable',
        suitabilityExplanation: 'BootTypeNotSupported',
        recommendedSize: 'Standard_E8s_v5',
        disks: { 'disk-1': { recommendedDiskType: 'Premium', suitability: 'Suitable' } },
      },
    } as unknown as AssessedMachine;
    const record = toInventoryMachine(machine, assessed);
    expect(record).toMatchObject({
      machineId: `${SITE}/machines/crm-db-01`,
      displayName: 'crm-db-01',
      bootType: 'EFI',
      cores: 8,
      memoryMB: 32768,
      suitability: 'ConditionallySuitable',
      suitabilityExplanation: 'BootTypeNotSupported',
      recommendedSize: 'Standard_E8s_v5',
      disks: [
        {
          diskId: 'disk-1',
          displayName: 'Hard disk 1',
          sizeGB: 64,
          recommendedDiskType: 'Premium',
          suitability: 'Suitable',
        },
      ],
      nics: [{ id: '4000', macAddress: '00:50:56:aa:00:01', ipAddresses: ['192.168.10.11'] }],
    });
    expect(toInventoryMachine(machine, undefined).suitability).toBe('Unknown');
  });
});

describe('compute, network, onboarding and lifecycle records', () => {
  it('maps a VM with its instance view', () => {
    const vm = toVmRecord({
      id: '/subscriptions/s/resourceGroups/rg-prod/providers/Microsoft.Compute/virtualMachines/web',
      name: 'web',
      location: 'westeurope',
      tags: { environment: 'Production' },
      hardwareProfile: { vmSize: 'Standard_D4s_v5' },
      provisioningState: 'Succeeded',
      storageProfile: { osDisk: { osType: 'Windows', createOption: 'Attach' } },
      instanceView: {
        statuses: [{ code: 'ProvisioningState/succeeded' }, { code: 'PowerState/deallocated' }],
        vmAgent: { statuses: [{ displayStatus: 'Not Ready' }] },
      },
    });
    expect(vm).toEqual({
      id: '/subscriptions/s/resourceGroups/rg-prod/providers/Microsoft.Compute/virtualMachines/web',
      name: 'web',
      resourceGroup: 'rg-prod',
      location: 'westeurope',
      tags: { environment: 'Production' },
      vmSize: 'Standard_D4s_v5',
      provisioningState: 'Succeeded',
      powerState: 'deallocated',
      vmAgentStatus: 'Not Ready',
      osType: 'Windows',
    });
  });

  it('maps SKUs with capabilities, zones and location restrictions', () => {
    const sku = toVmSku(
      {
        resourceType: 'virtualMachines',
        name: 'Standard_D4s_v5',
        family: 'standardDSv5Family',
        locationInfo: [{ location: 'WestEurope', zones: ['1', '2'] }],
        capabilities: [
          { name: 'vCPUs', value: '4' },
          { name: 'MemoryGB', value: '16' },
        ],
        restrictions: [
          { type: 'Location', values: ['westeurope'], reasonCode: 'NotAvailableForSubscription' },
        ],
      },
      'westeurope',
    );
    expect(sku).toEqual({
      name: 'Standard_D4s_v5',
      family: 'standardDSv5Family',
      vCpus: 4,
      memoryGB: 16,
      zones: ['1', '2'],
      restricted: true,
    });
  });

  it('maps virtual networks with subnets', () => {
    expect(
      toVnetRecord({
        id: '/subscriptions/s/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/v',
        name: 'v',
        location: 'westeurope',
        addressSpace: { addressPrefixes: ['10.0.0.0/16'] },
        subnets: [{ id: 'sid', name: 'default', addressPrefixes: ['10.0.1.0/24'] }],
      }),
    ).toEqual({
      id: '/subscriptions/s/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/v',
      name: 'v',
      resourceGroup: 'rg-net',
      location: 'westeurope',
      addressPrefixes: ['10.0.0.0/16'],
      subnets: [{ id: 'sid', name: 'default', addressPrefix: '10.0.1.0/24' }],
    });
  });

  it('names Automanage profiles and maps reports', () => {
    expect(profileId({ kind: 'DevTest' })).toBe(
      '/providers/Microsoft.Automanage/bestPractices/AzureBestPracticesDevTest',
    );
    expect(profileId({ kind: 'Custom', profileId: '/x/configurationProfiles/mine' })).toBe(
      '/x/configurationProfiles/mine',
    );
    expect(
      toOnboardingReport({
        id: 'r1',
        status: 'NonConformant',
        typePropertiesType: 'Consistency',
        resources: [{ name: 'backup', status: 'NonConformant', error: { code: 'E1', message: 'no vault' } }],
      }),
    ).toEqual({
      id: 'r1',
      type: 'Consistency',
      status: 'NonConformant',
      resources: [{ name: 'backup', status: 'NonConformant', error: { code: 'E1', message: 'no vault' } }],
    });
  });

  it('shapes stage changes as Event Grid events', () => {
    const event = toEventGridEvent({
      id: 'e1',
      waveId: 'wave 1',
      machineName: 'crm/web',
      to: 'Done',
      at: '2026-11-21T10:00:00.000Z',
    });
    expect(event).toMatchObject({
      id: 'e1',
      eventType: 'Factory.Machine.StageChanged',
      subject: '/waves/wave%201/machines/crm%2Fweb',
      dataVersion: '1.0',
    });
    expect(event.eventTime?.toISOString()).toBe('2026-11-21T10:00:00.000Z');
  });
});

/**
 * Shared by the simulator's Site Recovery, Automanage and Event Grid suites: a small estate, the
 * simulator started with every provider, SDK clients authenticated against it, and a webhook that
 * records Event Grid deliveries.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AutomanageClient } from '@azure/arm-automanage';
import { SiteRecoveryManagementClient } from '@azure/arm-recoveryservices-siterecovery';
import { ClientSecretCredential } from '@azure/identity';
import { type Estate, estateSchema } from '../../local/azure-sim/estate/schema';
import type { CustomTopic } from '../../local/azure-sim/eventgrid';
import type { EventGridEvent } from '../../local/azure-sim/eventgrid/schema';
import type { FaultProfileInput } from '../../local/azure-sim/faults/schema';
import type { EventSubscription } from '../../local/azure-sim/framework/types';
import { createSimulator, type Simulator } from '../../local/azure-sim/index';
import { createClock } from '../../local/clock';

export const SUBSCRIPTION = '6f1c2a9e-0000-4000-8000-000000000001';
export const VAULT_RG = 'rg-migrate';
export const VAULT = 'contoso-migrate-vault';
export const APPLIANCE = 'contoso-app01';
export const FABRIC = `${APPLIANCE}replicationfabric`;
export const CONTAINER = `${APPLIANCE}replicationcontainer`;
export const POLICY_ID = `/subscriptions/${SUBSCRIPTION}/resourceGroups/${VAULT_RG}/providers/Microsoft.RecoveryServices/vaults/${VAULT}/replicationPolicies/migrate${APPLIANCE}sitepolicy`;
export const TARGET_RG_ID = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-prod`;
export const PROD_VNET_ID = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-prod`;
export const TEST_VNET_ID = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-test`;
/** One virtual hour per real second: the 3-hour life of a machine takes a few real seconds. */
export const TIME_SCALE = 3600;

const machine = (name: string, n: number) => ({
  name,
  appliance: APPLIANCE,
  os: { type: 'Windows' as const, name: 'Microsoft Windows Server 2019 (64-bit)' },
  bootType: 'BIOS' as const,
  cores: 4,
  memoryMB: 16384,
  powerState: 'On' as const,
  // 200 GB at the appliance's 100 GB/h: two virtual hours of initial seeding.
  disks: [
    { id: `6000C291-aaaa-000${n}`, sizeGB: 128, isOS: true },
    { id: `6000C291-bbbb-000${n}`, sizeGB: 72 },
  ],
  nics: [{ id: '4000', mac: `00:50:56:aa:00:0${n}`, ip: `192.168.10.1${n}` }],
  assessment: {
    suitability: 'Suitable' as const,
    explanations: [],
    recommendedSize: 'Standard_D4s_v5',
    diskTypes: {},
  },
});

export function testEstate(maxConcurrentReplications = 300): Estate {
  return estateSchema.parse({
    subscriptionId: SUBSCRIPTION,
    location: 'westeurope',
    migrateProject: {
      resourceGroup: VAULT_RG,
      name: 'contoso-migrate',
      vault: VAULT,
      assessmentGroup: 'all',
      assessment: 'default',
    },
    appliances: [{ name: APPLIANCE, maxConcurrentReplications, seedingGBPerHour: 100 }],
    resourceGroups: [
      { name: 'rg-migrate', location: 'westeurope' },
      { name: 'rg-prod', location: 'westeurope' },
      { name: 'rg-net', location: 'westeurope' },
    ],
    virtualNetworks: [
      {
        resourceGroup: 'rg-net',
        name: 'vnet-prod',
        addressPrefixes: ['10.10.0.0/16'],
        subnets: [{ name: 'default', addressPrefix: '10.10.0.0/24' }],
      },
      {
        resourceGroup: 'rg-net',
        name: 'vnet-test',
        addressPrefixes: ['10.20.0.0/16'],
        subnets: [{ name: 'default', addressPrefix: '10.20.0.0/24' }],
      },
    ],
    machines: [machine('crm-web-01', 1), machine('crm-web-02', 2), machine('crm-db-01', 3)],
  });
}

export const machineId = (name: string) =>
  `/subscriptions/${SUBSCRIPTION}/resourceGroups/${VAULT_RG}/providers/Microsoft.OffAzure/VMwareSites/${APPLIANCE}site/machines/${name}`;

/** The body Az.Migrate's New-AzMigrateServerReplication sends, for machine `n` of the test estate. */
export function enableInput(name: string, n: number, overrides: Record<string, unknown> = {}) {
  const log = `/subscriptions/${SUBSCRIPTION}/resourceGroups/${VAULT_RG}/providers/Microsoft.Storage/storageAccounts/migratelsa`;
  return {
    properties: {
      policyId: POLICY_ID,
      providerSpecificDetails: {
        instanceType: 'VMwareCbt' as const,
        vmwareMachineId: machineId(name),
        disksToInclude: [
          {
            diskId: `6000C291-aaaa-000${n}`,
            isOSDisk: 'true',
            logStorageAccountId: log,
            logStorageAccountSasSecretName: 'migratelsa-sas',
            diskType: 'Premium_LRS' as const,
          },
          {
            diskId: `6000C291-bbbb-000${n}`,
            isOSDisk: 'false',
            logStorageAccountId: log,
            logStorageAccountSasSecretName: 'migratelsa-sas',
            diskType: 'Standard_LRS' as const,
          },
        ],
        dataMoverRunAsAccountId: `${machineId(name)}/../../runasaccounts/datamover`,
        snapshotRunAsAccountId: `${machineId(name)}/../../runasaccounts/snapshot`,
        targetResourceGroupId: TARGET_RG_ID,
        targetNetworkId: PROD_VNET_ID,
        testNetworkId: TEST_VNET_ID,
        targetSubnetName: 'default',
        targetVmName: name,
        targetVmSize: 'Standard_D4s_v5',
        licenseType: 'NoLicenseType' as const,
        targetVmTags: { environment: 'Production' },
        ...overrides,
      },
    },
  };
}

export interface Received {
  type: string | undefined;
  deliveryCount: number;
  events: EventGridEvent[];
}

/** An Event Grid webhook on loopback (plain http, as the local host's is); answers the handshake. */
export async function startWebhook() {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const events = JSON.parse(Buffer.concat(chunks).toString('utf8')) as EventGridEvent[];
      const type = req.headers['aeg-event-type'] as string | undefined;
      if (type === 'SubscriptionValidation') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            validationResponse: (events[0]?.data as { validationCode?: string } | undefined)?.validationCode,
          }),
        );
        return;
      }
      received.push({ type, deliveryCount: Number(req.headers['aeg-delivery-count']), events });
      res.writeHead(200);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/runtime/webhooks/eventgrid?functionName=events&code=webhook-key`,
    received,
    events: () => received.flatMap((r) => r.events),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface TestSim {
  sim: Simulator;
  sr: SiteRecoveryManagementClient;
  automanage: AutomanageClient;
  stop(): Promise<void>;
}

export async function startTestSim(
  options: {
    estate?: Estate;
    faults?: FaultProfileInput;
    eventSubscriptions?: EventSubscription[];
    eventGridTopics?: CustomTopic[];
  } = {},
): Promise<TestSim> {
  const sim = await createSimulator({
    estate: options.estate ?? testEstate(),
    faults: options.faults ?? {},
    clock: createClock({ scale: TIME_SCALE, origin: Date.now() }),
    eventSubscriptions: options.eventSubscriptions ?? [],
    eventGridTopics: options.eventGridTopics ?? [],
  });
  const credential = new ClientSecretCredential(
    sim.authority.tenantId,
    sim.authority.clientId,
    sim.authority.clientSecret,
    {
      authorityHost: sim.authority.authorityHost,
      disableInstanceDiscovery: true,
    },
  );
  const clientOptions = { endpoint: sim.armUrl, credentialScopes: ['https://management.azure.com/.default'] };
  return {
    sim,
    sr: new SiteRecoveryManagementClient(credential, SUBSCRIPTION, clientOptions),
    automanage: new AutomanageClient(credential, SUBSCRIPTION, clientOptions),
    stop: () => sim.stop(),
  };
}

/** Poller options: follow operations quickly (the simulator's Retry-After is in real seconds). */
export const FAST = { updateIntervalInMs: 20 };

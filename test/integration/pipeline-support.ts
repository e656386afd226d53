/**
 * The full local stack for the pipeline's end-to-end suites: Azurite (journal), the simulated Azure
 * (seeded with a small estate) and the local host running the built app (dist/), sharing one
 * virtual clock. The app is configured by environment settings only, as in Azure.
 */
import path from 'node:path';
import { type Estate, estateSchema } from '../../local/azure-sim/estate/schema';
import type { FaultProfileInput } from '../../local/azure-sim/faults/schema';
import { createSimulator, type Simulator } from '../../local/azure-sim/index';
import { type AzuriteInstance, startAzurite } from '../../local/azurite';
import { type Clock, createClock } from '../../local/clock';
import { type RunningHost, startHost } from '../../local/host/index';
import { DURABLE_SYSTEM_KEY, generateKeys, type HostKeys } from '../../local/host/keys';
import { appSettings } from '../../local/stack';

export const SUBSCRIPTION = '6f1c2a9e-0000-4000-8000-000000000001';
export const APPLIANCE = 'contoso-app01';
const VAULT_RG = 'rg-migrate';
/** The cache storage account replication logs go to (Az.Migrate reads it from the container mapping). */
export const LOG_STORAGE_ACCOUNT = `/subscriptions/${SUBSCRIPTION}/resourceGroups/${VAULT_RG}/providers/Microsoft.Storage/storageAccounts/migratelsa01`;
/** One virtual hour per real second. */
export const TIME_SCALE = 3600;

export function machineNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `app-${String(i + 1).padStart(2, '0')}`);
}

/** `count` suitable Windows machines of 40-160 GB (0.4-1.6 virtual hours of seeding at 100 GB/h). */
export function estateOf(count: number, maxConcurrentReplications: number): Estate {
  return estateSchema.parse({
    subscriptionId: SUBSCRIPTION,
    location: 'westeurope',
    migrateProject: {
      resourceGroup: VAULT_RG,
      name: 'contoso-migrate',
      vault: 'contoso-migrate-vault',
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
    machines: machineNames(count).map((name, i) => ({
      name,
      appliance: APPLIANCE,
      os: { type: 'Windows', name: 'Microsoft Windows Server 2019 (64-bit)' },
      bootType: 'BIOS',
      cores: 2,
      memoryMB: 8192,
      powerState: 'On',
      disks: [{ id: `6000C291-${String(i).padStart(4, '0')}-0001`, sizeGB: 40 + (i % 4) * 40, isOS: true }],
      nics: [{ id: '4000', mac: `00:50:56:aa:01:${String(i).padStart(2, '0')}`, ip: `192.168.20.${i + 10}` }],
      assessment: {
        suitability: 'Suitable',
        explanations: [],
        recommendedSize: 'Standard_D2s_v5',
        diskTypes: {},
      },
      tags: { environment: i % 2 === 0 ? 'Production' : 'Dev' },
    })),
  });
}

export interface PlanOptions {
  cutover?: { mode: 'auto' } | { mode: 'approval' };
  name?: string;
}

export function planOf(names: string[], options: PlanOptions = {}) {
  return {
    name: options.name ?? 'e2e wave',
    settings: { cutover: options.cutover ?? { mode: 'auto' } },
    migrateProject: {
      subscriptionId: SUBSCRIPTION,
      resourceGroup: VAULT_RG,
      name: 'contoso-migrate',
      appliance: APPLIANCE,
    },
    machines: names.map((sourceName) => ({
      sourceName,
      target: {
        resourceGroup: 'rg-prod',
        virtualNetwork: 'vnet-prod',
        testNetwork: 'vnet-test',
        size: 'Standard_D2s_v5',
      },
    })),
  };
}

export interface InstanceStatus {
  runtimeStatus: string;
  customStatus?: unknown;
  output?: unknown;
}

/** A durable instance's status through the host's durable HTTP API (with its system key). */
export async function durableStatus(
  baseUrl: string,
  keys: HostKeys,
  instanceId: string,
): Promise<InstanceStatus | undefined> {
  const url = new URL(`/runtime/webhooks/durabletask/instances/${encodeURIComponent(instanceId)}`, baseUrl);
  url.searchParams.set('code', keys.systemKeys[DURABLE_SYSTEM_KEY]!);
  const response = await fetch(url);
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`status of ${instanceId}: HTTP ${response.status}`);
  return (await response.json()) as InstanceStatus;
}

export interface Stack {
  sim: Simulator;
  host: RunningHost;
  azurite: AzuriteInstance;
  clock: Clock;
  /** What the host printed, for diagnosing a failed run. */
  logs: string[];
  /** fetch against the host with the function key. */
  api(route: string, init?: RequestInit): Promise<Response>;
  /** A durable instance's status, or undefined when it does not exist. */
  instance(instanceId: string): Promise<InstanceStatus | undefined>;
  stop(): Promise<void>;
}

export async function startStack(options: {
  machines: number;
  capacity: number;
  faults?: FaultProfileInput;
  /** App settings over the defaults. */
  settings?: Record<string, string>;
}): Promise<Stack> {
  const clock = createClock({ scale: TIME_SCALE, origin: Date.now() });
  const azurite = await startAzurite();
  const estate = estateOf(options.machines, options.capacity);
  const sim = await createSimulator({
    estate,
    clock,
    ...(options.faults ? { faults: options.faults } : {}),
  });
  Object.assign(process.env, appSettings(sim, estate, { timeScale: TIME_SCALE }), {
    MIGRATE_LOG_STORAGE_ACCOUNT_ID: LOG_STORAGE_ACCOUNT,
    AzureWebJobsStorage: azurite.connectionString,
    MAX_REPLICATIONS_PER_APPLIANCE: String(options.capacity),
    ...options.settings,
  });
  const keys = generateKeys();
  const logs: string[] = [];
  const host = await startHost({
    appDir: path.resolve(__dirname, '../..'),
    port: 0,
    storage: { kind: 'memory' },
    clock,
    keys,
    log: (line) => logs.push(line),
  });
  return {
    sim,
    host,
    azurite,
    clock,
    logs,
    api: (route, init = {}) => {
      const url = new URL(`/api/${route}`, host.baseUrl);
      url.searchParams.set('code', keys.functionKeys.default!);
      return fetch(url, init);
    },
    instance: (instanceId) => durableStatus(host.baseUrl, keys, instanceId),
    stop: async () => {
      await host.stop();
      await sim.stop();
      await azurite.stop();
    },
  };
}

/** Polls `read` until `done` holds (real time bound; the stack runs a virtual hour per real second). */
export async function until<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  what: string,
  timeoutMs = 90_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${what}: ${JSON.stringify(value).slice(0, 2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

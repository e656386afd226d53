/**
 * The local stack for the Event Grid suites: Azurite (journal), the simulated Azure with a custom
 * lifecycle topic, and the local host running the built app (dist/) in this process, with the
 * app's `systemEvents` function subscribed to the simulator's system events through the host's
 * Event Grid webhook (system key), as infra/main.bicep subscribes it in Azure.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Estate } from '../../local/azure-sim/estate/schema';
import type { FaultProfileInput } from '../../local/azure-sim/faults/schema';
import { createSimulator, type Simulator } from '../../local/azure-sim/index';
import { type AzuriteInstance, startAzurite } from '../../local/azurite';
import { type Clock, createClock } from '../../local/clock';
import { type RunningHost, startHost } from '../../local/host/index';
import { EVENTGRID_SYSTEM_KEY, generateKeys } from '../../local/host/keys';
import { appSettings } from '../../local/stack';
import { durableStatus, type InstanceStatus, LOG_STORAGE_ACCOUNT, TIME_SCALE } from './pipeline-support';

export { estateOf, planOf, SUBSCRIPTION, until } from './pipeline-support';

export const LIFECYCLE_TOPIC = 'factory-lifecycle';

export interface EventsStack {
  sim: Simulator;
  host: RunningHost;
  clock: Clock;
  logs: string[];
  /** fetch against the host's API with the function key. */
  api(route: string, init?: RequestInit): Promise<Response>;
  /** fetch against the simulator's control API. */
  control(route: string, body?: unknown): Promise<unknown>;
  /** The host's Event Grid webhook for `systemEvents`, with the system key. */
  webhookUrl: string;
  /** A durable instance's status (with input and output), or undefined when it does not exist. */
  instance(instanceId: string): Promise<InstanceStatus | undefined>;
  /** The ARM id of a VM in the estate's subscription. */
  vmId(resourceGroup: string, name: string): string;
  stop(): Promise<void>;
}

export async function startEventsStack(options: {
  estate: Estate;
  faults?: FaultProfileInput;
  env?: Record<string, string>;
  timeScale?: number;
  /** Applications besides the app that may sign in to the simulator. */
  operators?: { clientId: string; clientSecret: string }[];
}): Promise<EventsStack> {
  const clock = createClock({ scale: options.timeScale ?? TIME_SCALE, origin: Date.now() });
  const azurite: AzuriteInstance = await startAzurite();
  const topicKey = randomBytes(24).toString('base64url');
  const sim = await createSimulator({
    estate: options.estate,
    clock,
    eventGridTopics: [{ name: LIFECYCLE_TOPIC, key: topicKey }],
    ...(options.faults ? { faults: options.faults } : {}),
    ...(options.operators ? { operators: options.operators } : {}),
  });
  Object.assign(
    process.env,
    appSettings(sim, options.estate, {
      timeScale: options.timeScale ?? TIME_SCALE,
      lifecycleTopic: { name: LIFECYCLE_TOPIC, key: topicKey },
    }),
    { MIGRATE_LOG_STORAGE_ACCOUNT_ID: LOG_STORAGE_ACCOUNT, AzureWebJobsStorage: azurite.connectionString },
    options.env,
  );
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
  const webhookUrl = `${host.baseUrl}/runtime/webhooks/eventgrid?functionName=systemEvents&code=${encodeURIComponent(keys.systemKeys[EVENTGRID_SYSTEM_KEY]!)}`;
  sim.core.addSubscription({ name: 'systemEvents', endpointUrl: webhookUrl });
  return {
    sim,
    host,
    clock,
    logs,
    api: (route, init = {}) => {
      const url = new URL(`/api/${route}`, host.baseUrl);
      url.searchParams.set('code', keys.functionKeys.default!);
      return fetch(url, init);
    },
    control: async (route, body) => {
      const response = await fetch(`${sim.controlUrl}/${route}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { 'x-sim-control-key': sim.controlKey, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`control ${route}: ${response.status} ${text}`);
      return JSON.parse(text) as unknown;
    },
    webhookUrl,
    instance: (instanceId) => durableStatus(host.baseUrl, keys, instanceId),
    vmId: (resourceGroup, name) =>
      `/subscriptions/${options.estate.subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Compute/virtualMachines/${name}`,
    stop: async () => {
      await host.stop();
      await sim.stop();
      await azurite.stop();
    },
  };
}

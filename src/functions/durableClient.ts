/**
 * The durable client calls the app makes in more than one place: an instance's status (the client
 * answers an unknown id with an error), and a start that leaves an existing instance alone; and
 * the client itself for functions invoked in bursts.
 */
import http from 'node:http';
import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { isFinishedStatus } from '../activities/contract';

/** The durable client input of the functions that take their client from `durableClientOf`. */
export const durableClientInput = df.input.durableClient();

/**
 * Connections the app keeps open to the host's durable extension. durable-functions' axios has no
 * agent of its own, so its calls (HTTP to the host on loopback) go through Node's global agent,
 * which opens one connection per call in flight: a burst of invocations (16 batches of 5 events
 * at once, when this was measured) opened 80 at a time. A busy Node server accepts one new connection
 * per turn of its event loop (libuv 1.45, libuv/libuv#3696), and the local host runs the app on its
 * own loop: the last of those 80 calls waited up to 1.9 s to be accepted. A bounded pool keeps a
 * burst on connections already open. 32 covers the calls in flight at 500 events/s: in a traced
 * burst, a start took 10-50 ms in the local host's extension, most of it a write to storage.
 * docs/events.md has the events bench's figures with and without the bound.
 */
export const DURABLE_CLIENT_CONNECTIONS = 32;
/**
 * How long an idle connection to the host stays in the pool (ms). Node's global agent closes it
 * after 5 s, so every pause of a few seconds cost the next burst its connections. The host keeps
 * them 130 s (Kestrel's `KeepAliveTimeout`); closing them a little earlier here means the app never
 * sends a request on a connection the host is closing.
 */
export const DURABLE_CLIENT_IDLE_MS = 120_000;
// The global agent as Node builds it (keep-alive, most recently used connection first), bounded.
http.globalAgent = new http.Agent({
  keepAlive: true,
  scheduling: 'lifo',
  maxSockets: DURABLE_CLIENT_CONNECTIONS,
  timeout: DURABLE_CLIENT_IDLE_MS,
});

let lastClient: { bindingData: string; client: df.DurableClient } | undefined;

/**
 * The invocation's durable client, kept while the host hands out the same binding data (its URLs
 * and key). `df.getClient` builds a new one per call (an axios instance, a check of every URL),
 * which cost 4% of the local host's CPU in a burst of Event Grid events, one invocation each.
 */
export function durableClientOf(context: InvocationContext): df.DurableClient {
  const bindingData = JSON.stringify(context.extraInputs.get(durableClientInput));
  if (lastClient?.bindingData !== bindingData) lastClient = { bindingData, client: df.getClient(context) };
  return lastClient.client;
}

/** The client's error for an instance id it does not know. */
export function isNotFound(error: unknown): boolean {
  return error instanceof Error && /HTTP 404|No instance with ID/.test(error.message);
}

function isConflict(error: unknown): boolean {
  return error instanceof Error && /409|already exists/i.test(error.message);
}

/** The instance's status, or undefined when no instance has this id. */
export async function statusOf(
  client: df.DurableClient,
  instanceId: string,
): Promise<df.DurableOrchestrationStatus | undefined> {
  try {
    return await client.getStatus(instanceId);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

export async function instanceExists(client: df.DurableClient, instanceId: string): Promise<boolean> {
  return (await statusOf(client, instanceId)) !== undefined;
}

/** Whether an instance with this id exists and has not finished (running, pending, suspended, continuing). */
export async function isRunning(client: df.DurableClient, instanceId: string): Promise<boolean> {
  const status = await statusOf(client, instanceId);
  return status !== undefined && !isFinishedStatus(status.runtimeStatus);
}

/**
 * Starts the orchestration unless an instance exists; answers whether it started one. The status
 * read cannot be left to startNew: with either host.json `overridableExistingInstanceStates`
 * (`AnyState`, `NonRunningStates`) a start replaces a finished instance, so a late duplicate of a
 * request would run it again.
 */
export async function startOnce(
  client: df.DurableClient,
  name: string,
  instanceId: string,
  input: unknown,
): Promise<boolean> {
  if ((await statusOf(client, instanceId)) !== undefined) return false;
  return startUnlessRunning(client, name, instanceId, input);
}

/**
 * Starts the orchestration unless an instance with this id is running (or pending); answers
 * whether it started one. A finished instance is replaced, so the caller decides that it may be.
 */
export async function startUnlessRunning(
  client: df.DurableClient,
  name: string,
  instanceId: string,
  input: unknown,
): Promise<boolean> {
  try {
    await client.startNew(name, { instanceId, input });
    return true;
  } catch (error) {
    // Another request started it a moment ago.
    if (isConflict(error)) return false;
    throw error;
  }
}

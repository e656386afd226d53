/**
 * The seam between the simulator's framework (server, auth, throttling, faults, ledger, long-running
 * operations, events) and its resource providers. Providers are route tables over these types, as in
 * Azurite: the framework owns HTTP, a provider owns the resources and their state machines.
 */
import type { Clock } from '../../clock';

export type OperationKind = 'read' | 'write' | 'delete' | 'action';

export interface Principal {
  tenantId: string;
  objectId: string;
  appId: string;
}

export interface ArmRequest {
  method: string;
  /** The path as sent, without the query string. */
  path: string;
  /** Values of the route's `{name}` segments, as sent. */
  params: Record<string, string>;
  query: URLSearchParams;
  apiVersion: string | undefined;
  headers: Record<string, string | undefined>;
  /** Parsed JSON body, or undefined when there was none. */
  body: unknown;
  principal: Principal;
  correlationId: string;
}

export interface ArmResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Route {
  method: 'GET' | 'PUT' | 'PATCH' | 'POST' | 'DELETE';
  /** ARM path with `{name}` placeholders; literal segments match case-insensitively, as in ARM. */
  pattern: string;
  /** How throttling and the ledger count the call, and which resource event a success emits. */
  kind: OperationKind;
  /** ARM operation name used in events and the ledger, e.g. `Microsoft.Compute/virtualMachines/write`. */
  operation: string;
  /** api-versions accepted; omitted means any. */
  apiVersions?: string[];
  handler(req: ArmRequest, sim: SimContext): ArmResult | Promise<ArmResult>;
}

export interface ResourceProvider {
  /** e.g. `Microsoft.RecoveryServices`. */
  namespace: string;
  routes: Route[];
}

/** What every handler may use; the framework builds one per simulator instance. */
export interface SimContext {
  clock: Clock;
  /** Deterministic random numbers in [0, 1) from the fault profile's seed, one stream per purpose. */
  random(stream: string): number;
  /** Runs `complete` at virtual time `doneAt` and answers 202 with Azure-AsyncOperation, Location and Retry-After. */
  startOperation(options: StartOperationOptions): ArmResult;
  /** Publishes an Event Grid event on a system topic (resource or policy events) to the subscriptions. */
  emitEvent(event: SystemEvent): void;
}

export interface StartOperationOptions {
  /** ARM id of the resource the operation acts on. */
  resourceId: string;
  /** Virtual ms since epoch at which the operation ends. */
  doneAt: number;
  /** Applies the outcome; its return is the operation's result body (for Location polling); a throw of ArmError fails it. */
  complete(): unknown;
}

export interface SystemEvent {
  topic: string;
  subject: string;
  eventType: string;
  data: Record<string, unknown>;
  /** Virtual ms since epoch. */
  eventTime: number;
}

/**
 * The seam between the simulator's framework (server, auth, throttling, faults, ledger, long-running
 * operations, events) and its resource providers. Providers are route tables over these types, as in
 * Azurite: the framework owns HTTP, a provider owns the resources and their state machines.
 */
import type { Clock } from '../../clock';
import type { Estate } from '../estate/schema';
import type { FaultProfile } from '../faults/schema';

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
  /** `https://127.0.0.1:{port}` of this simulator, for absolute links (nextLink, operation URLs). */
  baseUrl?: string;
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
  /** This provider's share of the ledger's leak/repeat counters, computed from its current state. */
  ledgerFindings?(): Partial<LedgerFindings>;
  /**
   * Out-of-band operations for the control API: `POST /_sim/providers/{namespace}/{action}` with a
   * JSON body answers the returned value as JSON (throw ArmError to refuse).
   */
  controlActions?: Record<string, (body: unknown, sim: SimContext) => unknown | Promise<unknown>>;
  /** Called when the control API makes a resource drift from its configuration (before the policy event). */
  onDrift?(resourceId: string, sim: SimContext): void;
}

/**
 * Builds a provider for one simulator instance; called again with a fresh context when the control API
 * loads another estate, so a provider keeps its state in what the factory returns, never in module scope.
 */
export type ProviderFactory = (sim: SimContext) => ResourceProvider;

/** Counters of the rehearsal ledger that show repeated or leaked work (contracts.md section 4). */
export interface LedgerFindings {
  /** Migrate (POST .../migrate) calls beyond the first one that was accepted, per migration item. */
  duplicateMigrateCalls: number;
  /** Test-migration VMs that still exist although their test was cleaned up, or with no test in progress. */
  leakedTestVms: number;
  /** Migration items whose migration succeeded but that were never deleted (replication not completed). */
  undeletedMigrationItems: number;
}

/** Where the framework publishes system events; the Event Grid component implements it. */
export interface EventSink {
  /** Accepts events for delivery; never throws and never blocks the ARM response. */
  publish(events: SystemEvent[]): void;
  /** Adds a subscription at run time (the control API's `POST /_sim/eventSubscriptions`). */
  addSubscription?(subscription: EventSubscription): void;
  /** Stops delivery and releases timers. */
  stop?(): Promise<void>;
  /**
   * Serves custom topics' publishing endpoints, `POST /eventGrid/topics/{topic}/api/events` with key
   * authentication (`aeg-sas-key`) instead of a bearer token, as `EventGridPublisherClient` calls them.
   * The server offers it every request whose path starts with `/eventGrid/`; undefined means not a topic path.
   */
  handleTopicRequest?(request: TopicRequest): Promise<ArmResult> | undefined;
  /** Deliveries given up on (400/413, attempts or time to live exhausted), for the control API. */
  deadLetters?(): DeadLetterRecord[];
}

/** A request to a custom topic's endpoint, outside ARM. */
export interface TopicRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | undefined>;
  rawBody: string;
}

/** An event Event Grid stopped trying to deliver, with the reason it gives in dead-letter blobs. */
export interface DeadLetterRecord {
  subscription: string;
  /** The event as it would have been delivered (Event Grid schema). */
  event: Record<string, unknown>;
  /** `MaxDeliveryAttemptsExceeded`, `TimeToLiveExceeded` or `NonRetriableDeliveryFailure`. */
  deadLetterReason: string;
  deliveryAttempts: number;
  lastDeliveryOutcome: string;
  lastHttpStatusCode?: number;
  /** Virtual ms since epoch. */
  deadLetteredAt: number;
}

/** Builds the event sink for a simulator instance from its context and configured subscriptions. */
export type EventSinkFactory = (sim: SimContext, subscriptions: EventSubscription[]) => EventSink;

/** A webhook subscription to the simulated subscription's system topics. */
export interface EventSubscription {
  name: string;
  /** Webhook URL the events are POSTed to (Event Grid schema, an array per request). */
  endpointUrl: string;
  /** Event types delivered; omitted means all. */
  includedEventTypes?: string[];
  subjectBeginsWith?: string;
  subjectEndsWith?: string;
  /** Every filter must match (Event Grid's `advancedFilters`, compared ignoring case). */
  advancedFilters?: AdvancedFilter[];
  /** Custom topic whose events it receives; omitted means the subscription's system topics. */
  topic?: string;
  /**
   * Most events per POST (Event Grid's `maxEventsPerBatch`); default 1, as Event Grid delivers.
   * Batches hold the events that are due when a POST goes out, so they are small at low rates.
   */
  maxEventsPerBatch?: number;
  /** A batch grows no larger than this unless one event is (default 64, as Event Grid's). */
  preferredBatchSizeInKilobytes?: number;
}

/**
 * An advanced filter: the value at `key` (`subject`, `eventType`, `data.operationName`, ...) and one
 * of `values` (StringNotIn: none of them; an event without the key passes it).
 */
export interface AdvancedFilter {
  operatorType: 'StringIn' | 'StringBeginsWith' | 'StringNotIn';
  key: string;
  values: string[];
}

/** A VM as the Compute provider stores it; `createVm`/`deleteVm` act as the equivalent ARM calls. */
export interface VmRecord {
  /** ARM id, `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}`. */
  id: string;
  name: string;
  resourceGroup: string;
  location: string;
  vmSize: string;
  osType: 'Windows' | 'Linux';
  powerState: 'running' | 'stopped' | 'deallocated';
  tags: Record<string, string>;
  /** ARM id of the subnet of its first NIC, if any. */
  subnetId?: string;
  licenseType?: string;
  osDiskSizeGB?: number;
  dataDiskSizesGB?: number[];
  /** Virtual ms since epoch. */
  createdAt: number;
  /** Who created it: `arm` (a PUT), `siteRecovery` (test migrate / migrate) or `control` (the control API). */
  createdBy: string;
}

export type VmSpec = Omit<VmRecord, 'id' | 'createdAt' | 'createdBy' | 'location' | 'powerState' | 'tags'> & {
  location?: string;
  powerState?: VmRecord['powerState'];
  tags?: Record<string, string>;
};

/** In-process access to the Compute provider's VMs for other providers (e.g. Site Recovery). */
export interface ComputeApi {
  /** Creates or replaces a VM and emits `ResourceWriteSuccess` for `Microsoft.Compute/virtualMachines/write`. */
  createVm(spec: VmSpec, createdBy: string): VmRecord;
  /** Deletes a VM (emitting `ResourceDeleteSuccess`); false if it did not exist. */
  deleteVm(id: string): boolean;
  getVm(id: string): VmRecord | undefined;
  listVms(): VmRecord[];
  setPowerState(id: string, state: VmRecord['powerState']): void;
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
  /** The estate currently loaded. */
  readonly estate: Estate;
  /** The fault profile, defaults filled in. */
  readonly faults: FaultProfile;
  /** Tenant of the simulated directory (tokens, events). */
  readonly tenantId: string;
  /** The estate's subscription, the only one the simulator serves. */
  readonly subscriptionId: string;
  /** The Compute provider's VMs. */
  readonly compute: ComputeApi;
  /** The Resources provider's resource groups. */
  readonly resourceGroups: ResourceGroupApi;
}

export interface ResourceGroupRecord {
  id: string;
  /** As created (ARM keeps the first spelling; lookups ignore case). */
  name: string;
  location: string;
  tags: Record<string, string>;
}

/** In-process access to the resource groups, e.g. to refuse a target resource group that does not exist. */
export interface ResourceGroupApi {
  get(name: string): ResourceGroupRecord | undefined;
  list(): ResourceGroupRecord[];
}

export interface StartOperationOptions {
  /** ARM id of the resource the operation acts on. */
  resourceId: string;
  /** Virtual ms since epoch at which the operation ends. */
  doneAt: number;
  /** Applies the outcome; its return is the operation's result body (for Location polling); a throw of ArmError fails it. */
  complete(): unknown;
  /** Status of the first response: 202 (default, actions and deletes) or 200/201 for a PUT that answers the resource. */
  status?: 200 | 201 | 202;
  /** Body of the first response, e.g. the resource with `provisioningState: Creating`. */
  body?: unknown;
  /**
   * Last segment of the operation-status URLs; defaults to a generated id. Site Recovery passes its
   * job name, because Az.Migrate reads the job id back from the Azure-AsyncOperation URL.
   */
  operationId?: string;
}

export interface SystemEvent {
  /** Event id; the framework assigns a deterministic one when omitted. */
  id?: string;
  /** e.g. `/subscriptions/{id}` for both the resources and the policy system topics. */
  topic: string;
  subject: string;
  eventType: string;
  data: Record<string, unknown>;
  /** Virtual ms since epoch. */
  eventTime: number;
  /** Schema version of `data`; the sink uses `1` when omitted. */
  dataVersion?: string;
}

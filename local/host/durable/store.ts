/**
 * What the durable engine needs from storage: per-instance state with optimistic concurrency
 * (event-sourced history plus a record), a read model for status queries, and queues with
 * visibility timeouts. Two implementations: memory-store.ts and azure-store.ts.
 */
import type { ControlMessage, HistoryEvent, ParentInstance, RuntimeStatus, WorkItem } from './history';

/** durable-functions' RetryOptions as the orchestrator sends them. */
export interface RetryOptions {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
  retryTimeoutInMilliseconds?: number;
}

/** A task scheduled with retries, as the host's retry interceptor tracks it. */
export interface RetryState {
  kind: 'activity' | 'orchestrator';
  functionName: string;
  input: string;
  subInstanceId?: string;
  options: RetryOptions;
  /** durable-functions' `attemptNumber`: 1 + failures so far. */
  attemptNumber: number;
  /** Virtual ms of the first attempt (for retryTimeout). */
  firstAttemptAt: number;
  phase: 'running' | 'waiting';
  lastReason: string;
  lastDetails: string;
}

/** Host-side decision state of the current execution, saved with its history. */
export interface ExecutionState {
  /** Leaf actions of the orchestrator's cumulative action list already acted on. */
  processed: number;
  /** Next task id, allocated exactly as durable-functions' TaskOrchestrationExecutor does. */
  nextId: number;
  /** Keyed by the id of the running attempt or of the retry timer. */
  retries: Record<string, RetryState>;
  /** Intermediate timer id -> final fire time (ISO) of a long timer. */
  longTimers: Record<string, string>;
  /** External event name -> WaitForExternalEvent actions seen (for continue-as-new carry-over). */
  waits: Record<string, number>;
  /** Events that arrived while suspended. */
  buffered: HistoryEvent[];
}

export interface EntityState {
  exists: boolean;
  /** JSON text. */
  state?: string;
  /** Ids of the most recent operations, so a redelivered operation is not applied twice. */
  recentOps: string[];
}

/** Messages produced by the last commit; re-sent if a redelivery shows they may have been lost. */
export interface Outbox {
  control: ControlMessage[];
  work: WorkItem[];
}

export interface InstanceRecord {
  instanceId: string;
  name: string;
  executionId: string;
  status: RuntimeStatus;
  /** JSON text. */
  input?: string;
  /** JSON text (for failures: the failure message as a JSON string). */
  output?: string;
  /** JSON text. */
  customStatus?: string;
  /** Virtual ms. */
  createdTime: number;
  lastUpdatedTime: number;
  parent?: ParentInstance;
  exec: ExecutionState;
  entity?: EntityState;
  outbox: Outbox;
  /** Events in the current execution's history. */
  historyCount: number;
}

export interface Snapshot {
  record: InstanceRecord;
  history: HistoryEvent[];
  etag: string | undefined;
}

/** The state changed under us (another writer): reload and retry. */
export class ConflictError extends Error {
  constructor(instanceId: string) {
    super(`The state of instance '${instanceId}' changed concurrently`);
    this.name = 'ConflictError';
  }
}

export interface Received<T> {
  body: T;
  dequeueCount: number;
  handle: unknown;
}

export interface DurableQueue<T> {
  send(items: T[]): Promise<void>;
  /**
   * Sends messages that stay invisible for `leaseMs` and hands them back as if received: this
   * process works on them at once, and they reach the queue's readers only if it dies first.
   */
  sendLeased(items: T[], leaseMs: number): Promise<Received<T>[]>;
  receive(max: number, visibilityMs: number): Promise<Received<T>[]>;
  delete(message: Received<T>): Promise<void>;
  /** Keeps a message invisible for `visibilityMs` more (long-running activities). */
  extend(message: Received<T>, visibilityMs: number): Promise<void>;
  /** Resolves when a message may have arrived, after `ms` at the latest. */
  wait(ms: number, signal: AbortSignal): Promise<void>;
}

export interface StatusQuery {
  /** Virtual ms, inclusive. */
  createdFrom?: number;
  createdTo?: number;
  statuses?: RuntimeStatus[];
  top?: number;
  continuation?: string;
  /** Include entities (`@name@key`); status queries leave them out like the extension. */
  entities?: boolean;
}

export interface DurableStore {
  readonly controlQueues: readonly DurableQueue<ControlMessage>[];
  readonly workItems: DurableQueue<WorkItem>;
  init(): Promise<void>;
  /** The authoritative state of an instance, or undefined if it never ran. */
  load(instanceId: string): Promise<Snapshot | undefined>;
  /**
   * Appends `appended` at `record.historyCount - appended.length` (a new execution when that is 0)
   * and saves `record`, provided the stored state still has `etag`. Returns the new ETag.
   */
  commit(record: InstanceRecord, appended: HistoryEvent[], etag: string | undefined): Promise<string>;
  /** The read model served by status queries. */
  readStatus(instanceId: string): Promise<InstanceRecord | undefined>;
  writeStatus(record: InstanceRecord): Promise<void>;
  /** Writes the read model of an instance that has none yet; false (and no write) if it exists. */
  createStatus(record: InstanceRecord): Promise<boolean>;
  queryStatus(query: StatusQuery): Promise<{ records: InstanceRecord[]; continuation?: string }>;
  /** Deletes everything about an instance; false if there was nothing. */
  purge(instanceId: string): Promise<boolean>;
}

export function emptyExecution(): ExecutionState {
  return { processed: 0, nextId: 0, retries: {}, longTimers: {}, waits: {}, buffered: [] };
}

/** Which control queue serves an instance (FNV-1a of the id, like a stable partition hash). */
export function partitionOf(instanceId: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < instanceId.length; i++) {
    hash ^= instanceId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % partitions;
}

export function matchesQuery(record: InstanceRecord, query: StatusQuery): boolean {
  if (!query.entities && record.instanceId.startsWith('@')) return false;
  if (query.createdFrom !== undefined && record.createdTime < query.createdFrom) return false;
  if (query.createdTo !== undefined && record.createdTime > query.createdTo) return false;
  if (query.statuses && query.statuses.length > 0 && !query.statuses.includes(record.status)) return false;
  return true;
}

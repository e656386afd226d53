/**
 * The durable engine's dispatchers: control-queue pollers feed per-instance sessions
 * (orchestrations and entities, one work item at a time per instance), the work-item poller runs
 * activities, and every state change is committed before the messages it produces are sent and
 * before the messages that caused it are deleted, so a crash loses nothing and redelivered
 * messages are recognised as duplicates.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../clock';
import type { FunctionInvoker, RegisteredFunction, RpcTypedData } from '../types';
import {
  type ControlMessage,
  type EntityOperation,
  EventType,
  type HistoryEvent,
  isEntityId,
  newEvent,
  parseEntityId,
  TERMINAL_STATUSES,
  type WorkItem,
} from './history';
import {
  HTTP_TASK_NAME,
  type Incoming,
  type OrchestrationContext,
  type OrchestratorOutcome,
  type OrchestratorState,
  processOrchestration,
  timerFired,
  type WorkResult,
} from './orchestration';
import type { EngineSettings } from './settings';
import {
  ConflictError,
  type DurableQueue,
  type DurableStore,
  emptyExecution,
  type InstanceRecord,
  partitionOf,
  type Received,
  type Snapshot,
  type StatusQuery,
} from './store';

const OUT_OF_PROC_MARKER = '$OutOfProcData$:';
/** Control messages held in memory before the pollers pause (each is a leased queue message). */
const MAX_HELD_MESSAGES = 5000;
const RECEIVE_BATCH = 32;
const RECENT_ENTITY_OPS = 500;
const DONE_WORK_MEMORY = 100_000;
/**
 * Work items in progress at once. maxConcurrentOrchestratorFunctions limits the function
 * invocations; loading and committing state overlap beyond it, since storage latency dominates.
 */
const MAX_SESSIONS = 256;
/**
 * Work items started at a time (sessions; activities) while the host has requests waiting for
 * their answer: a requester waits, queued work does not. On two cores a burst of onboardings
 * started by Event Grid deliveries took the CPU from the deliveries still coming
 * (bench/events.ts, 5,000 events: 150-215 events/s and p99 1.0-1.4 s before, 290-390 and
 * 0.6-1.0 s with 2). Running items finish; the limits of host.json apply again once no request
 * is open. With 1, a host never free of requests ran a 1,000-machine wave at efficiency 0.85
 * (0.91 with 2).
 */
const STARTS_WHILE_ANSWERING = 2;
/**
 * Once no request is open, the work held back starts gradually: the items allowed to run start at
 * twice the larger of those running at that moment and STARTS_WHILE_ANSWERING, and double every
 * RAMP_STEP_MS (real time) up to the limits. A host between two requests (Event Grid's next POST
 * comes a few ms later) started 256 sessions at once, and the next deliveries waited 0.6-1.1 s
 * behind them. Work that was running goes on at its pace: a status poll during a wave does not
 * drop the allowance below what runs.
 */
const RAMP_STEP_MS = 10;
/** A work item that fails (storage unreachable...) is retried this often, this many ms apart (times the attempt). */
const MAX_WORK_ITEM_FAILURES = 5;
const RETRY_DELAY_MS = 1000;
/** Longest single real wait of a durable timer; longer ones are re-armed (setTimeout's limit is 24.8 days). */
const MAX_TIMER_WAIT_MS = 60_000;

/** A counting semaphore. */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(size: number) {
    this.free = size;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}

interface Inbound {
  incoming?: Incoming;
  /** The start of an instance that has no stored state (nothing to load). */
  fresh?: boolean;
  /** Times the work item carrying this input failed (storage errors). */
  failures?: number;
  operation?: EntityOperation;
  redelivered: boolean;
  /** Deletes the message(s) behind this input: its effect is committed. */
  ack(): Promise<void>;
  /** Gives up on this input: its message becomes visible again after the lease runs out. */
  drop(): void;
}

interface Session {
  instanceId: string;
  queue: Inbound[];
  running: boolean;
  snapshot: Snapshot | undefined;
  loaded: boolean;
  /** The loaded record's outbox is known to have been sent (by this process). */
  flushed: boolean;
  /** The Pending record of a start dispatched here and not committed yet. */
  starting?: InstanceRecord;
}

interface Lease {
  queue: DurableQueue<unknown>;
  message: Received<unknown>;
  renewAt: number;
  visibilityMs: number;
}

export interface EngineOptions {
  store: DurableStore;
  invoker: FunctionInvoker;
  clock: Clock;
  settings: EngineSettings;
  log: (line: string) => void;
}

export type ClientResult = 'ok' | 'notFound' | 'gone';

export class DurableEngine {
  private readonly sessions = new Map<string, Session>();
  private readonly runnable: Session[] = [];
  private runningSessions = 0;
  private runningActivities = 0;
  private answering = false;
  /** performance.now() when the host last stopped answering, and what was running then. */
  private quiet = { since: 0, sessions: 0, activities: 0 };
  private rampTimer: NodeJS.Timeout | undefined;
  private held = 0;
  private readonly leases = new Set<Lease>();
  private readonly activeWork = new Set<string>();
  /** Work items waiting for an activity slot. */
  private readonly localWork: { message: Received<WorkItem>; lease: Lease | undefined; local: boolean }[] =
    [];
  private readonly doneWork = new Set<string>();
  private readonly abort = new AbortController();
  private readonly localTimers = new Set<NodeJS.Timeout>();
  /** Durable timers armed in this process, by message id. */
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly loops: Promise<void>[] = [];
  private readonly idleWaiters = new Set<() => void>();
  private capacityWaiter: (() => void) | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private functionsByKey = new Map<string, RegisteredFunction>();
  private readonly context: OrchestrationContext;
  private readonly invocations: Slots;

  constructor(private readonly options: EngineOptions) {
    this.invocations = new Slots(options.settings.maxConcurrentOrchestratorFunctions);
    this.context = {
      clock: options.clock,
      timers: options.settings.timers,
      invoke: (name, trigger) => this.invocations.run(() => this.invokeOrchestrator(name, trigger)),
    };
  }

  get store(): DurableStore {
    return this.options.store;
  }

  async start(): Promise<void> {
    await this.store.init();
    const { settings } = this.options;
    this.store.controlQueues.forEach((queue) => {
      this.loops.push(this.controlLoop(queue));
    });
    this.loops.push(this.workLoop());
    const sweepMs = Math.max(
      200,
      Math.min(settings.controlQueueVisibilityMs, settings.workItemQueueVisibilityMs) / 3,
    );
    this.renewTimer = setInterval(() => this.renewLeases(), sweepMs);
    this.renewTimer.unref();
    this.loops.push(
      this.recover().catch((error: unknown) =>
        this.options.log(`durable: recovery failed: ${String(error)}`),
      ),
    );
  }

  /**
   * After a crash: every activity a running instance scheduled and has no result for goes to the
   * work-item queue (those that had finished are recognised there from the history), and what the
   * instances' last commits were to send is sent again (receivers drop duplicates).
   */
  private async recover(): Promise<void> {
    let continuation: string | undefined;
    do {
      const page = await this.store.queryStatus({
        statuses: ['Pending', 'Running', 'Suspended'],
        entities: true,
        top: 100,
        ...(continuation ? { continuation } : {}),
      });
      for (const status of page.records) {
        if (this.abort.signal.aborted) return;
        const snapshot = await this.store.load(status.instanceId);
        if (status.status === 'Pending' && snapshot?.record.executionId !== status.executionId) {
          this.startLocally(status, false);
          continue;
        }
        if (!snapshot) continue;
        // The read model is written after the commit: a crash in between left it behind.
        if (projectionChanged(status, snapshot.record)) await this.store.writeStatus(snapshot.record);
        const pending = unanswered(snapshot);
        const { control } = unsent(snapshot.record, snapshot.history);
        await this.store.workItems.send(pending);
        await this.send([...control, ...unfiredTimers(snapshot)], []);
      }
      continuation = page.continuation;
    } while (continuation && !this.abort.signal.aborted);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.capacityWaiter?.();
    clearInterval(this.renewTimer);
    clearTimeout(this.rampTimer);
    for (const timer of this.localTimers) clearTimeout(timer);
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    // Work not started yet is left to the next start: its leases lapse, recover() re-queues activities.
    for (const waiting of this.localWork.splice(0)) this.forget(waiting.lease);
    for (const session of this.runnable.splice(0)) {
      for (const inbound of session.queue.splice(0)) inbound.drop();
    }
    await Promise.allSettled(this.loops);
    await this.whenIdle();
  }

  // ---- client operations (durable HTTP API) ----

  async startNew(
    name: string,
    instanceId: string | undefined,
    input: string | undefined,
  ): Promise<{ instanceId: string } | { conflict: InstanceRecord }> {
    const id = instanceId || randomUUID().replaceAll('-', '');
    // An instance this process holds in a session is known without a request (see sendIfActive).
    const held = this.sessions.get(id);
    const known = held?.snapshot?.record ?? held?.starting;
    if (known && !TERMINAL_STATUSES.has(known.status)) return { conflict: known };
    const now = this.options.clock.now();
    const executionId = randomUUID().replaceAll('-', '');
    const pending: InstanceRecord = {
      instanceId: id,
      name,
      executionId,
      status: 'Pending',
      ...(input === undefined ? {} : { input }),
      createdTime: now,
      lastUpdatedTime: now,
      exec: emptyExecution(),
      outbox: { control: [], work: [] },
      historyCount: 0,
    };
    // Creating the row answers "is the id free?" in one request; only a reused id needs a read.
    const fresh = await this.store.createStatus(pending);
    if (!fresh) {
      const existing = await this.store.readStatus(id);
      if (existing && !TERMINAL_STATUSES.has(existing.status)) return { conflict: existing };
      await this.store.writeStatus(pending);
    }
    // The Pending row is the start's durable record (recover() restarts it after a crash), so the
    // start goes straight to the instance's session without a queue message.
    this.startLocally(pending, fresh);
    return { instanceId: id };
  }

  private startLocally(pending: InstanceRecord, fresh: boolean): void {
    const start = newEvent(EventType.ExecutionStarted, pending.createdTime, {
      Name: pending.name,
      ...(pending.input === undefined ? {} : { Input: pending.input }),
      ExecutionId: pending.executionId,
    });
    const session = this.dispatch(pending.instanceId, {
      incoming: { event: start, messageId: `${pending.instanceId}|${pending.executionId}|start` },
      ...(fresh ? { fresh } : {}),
      redelivered: false,
      ack: async () => {},
      drop: () => {},
    });
    session.starting = pending;
  }

  async raiseEvent(instanceId: string, name: string, data: string | undefined): Promise<ClientResult> {
    return this.sendIfActive(
      instanceId,
      newEvent(EventType.EventRaised, this.options.clock.now(), { Name: name, Input: data ?? 'null' }),
    );
  }

  terminate(instanceId: string, reason: string): Promise<ClientResult> {
    return this.sendIfActive(
      instanceId,
      newEvent(EventType.ExecutionTerminated, this.options.clock.now(), { Input: JSON.stringify(reason) }),
    );
  }

  suspend(instanceId: string, reason: string): Promise<ClientResult> {
    return this.sendIfActive(
      instanceId,
      newEvent(EventType.ExecutionSuspended, this.options.clock.now(), { Reason: reason }),
    );
  }

  resume(instanceId: string, reason: string): Promise<ClientResult> {
    return this.sendIfActive(
      instanceId,
      newEvent(EventType.ExecutionResumed, this.options.clock.now(), { Reason: reason }),
    );
  }

  async rewind(instanceId: string, reason: string): Promise<'ok' | 'notFound' | 'notFailed'> {
    const status = await this.store.readStatus(instanceId);
    if (!status) return 'notFound';
    if (status.status !== 'Failed') return 'notFailed';
    const event = newEvent(EventType.ExecutionRewound, this.options.clock.now(), { Reason: reason });
    await this.send([{ kind: 'event', id: randomUUID(), instanceId, event }], []);
    return 'ok';
  }

  async status(instanceId: string): Promise<InstanceRecord | undefined> {
    return this.store.readStatus(instanceId);
  }

  async history(instanceId: string): Promise<HistoryEvent[]> {
    return (await this.store.load(instanceId))?.history ?? [];
  }

  query(query: StatusQuery): Promise<{ records: InstanceRecord[]; continuation?: string }> {
    return this.store.queryStatus(query);
  }

  async purge(instanceId: string): Promise<boolean> {
    const status = await this.store.readStatus(instanceId);
    if (status && !TERMINAL_STATUSES.has(status.status)) return false;
    this.sessions.delete(instanceId);
    return this.store.purge(instanceId);
  }

  async purgeBy(query: StatusQuery): Promise<number> {
    let deleted = 0;
    let continuation: string | undefined;
    const statuses = query.statuses?.length ? query.statuses : [...TERMINAL_STATUSES];
    do {
      const page = await this.store.queryStatus({
        ...query,
        statuses: statuses.filter((s) => TERMINAL_STATUSES.has(s)),
        top: 100,
        ...(continuation ? { continuation } : {}),
      });
      for (const record of page.records) if (await this.purge(record.instanceId)) deleted++;
      continuation = page.continuation;
    } while (continuation);
    return deleted;
  }

  async signalEntity(name: string, key: string, operation: string, input: string | undefined): Promise<void> {
    const instanceId = `@${name.toLowerCase()}@${key}`;
    const id = randomUUID();
    await this.send(
      [
        {
          kind: 'entity',
          id,
          instanceId,
          operation: { id, name: operation, ...(input ? { input } : {}), isSignal: true },
        },
      ],
      [],
    );
  }

  async readEntity(name: string, key: string): Promise<{ exists: boolean; state?: string }> {
    const snapshot = await this.store.load(`@${name.toLowerCase()}@${key}`);
    const entity = snapshot?.record.entity;
    return entity?.exists
      ? { exists: true, ...(entity.state === undefined ? {} : { state: entity.state }) }
      : { exists: false };
  }

  /**
   * Whether the host has requests waiting for their answer: while it has, fewer work items start
   * (STARTS_WHILE_ANSWERING); once it has none, the work held back starts.
   */
  setAnswering(answering: boolean): void {
    this.answering = answering;
    if (answering) return;
    this.quiet = {
      since: performance.now(),
      sessions: this.runningSessions,
      activities: this.runningActivities,
    };
    this.pump();
    this.pumpWork();
  }

  /** Work items of a kind that may run now: few while answering, then ramping up (RAMP_STEP_MS). */
  private allowed(limit: number, runningWhenQuiet: number): number {
    if (this.answering) return Math.min(limit, STARTS_WHILE_ANSWERING);
    const doublings = 1 + Math.floor((performance.now() - this.quiet.since) / RAMP_STEP_MS);
    return Math.min(limit, Math.max(STARTS_WHILE_ANSWERING, runningWhenQuiet) * 2 ** doublings);
  }

  /** Pumps again at the ramp's next step while held-back work waits for it. */
  private rampLater(allowed: number, limit: number, waiting: number): void {
    if (this.answering || allowed >= limit || waiting === 0 || this.rampTimer !== undefined) return;
    this.rampTimer = setTimeout(() => {
      this.rampTimer = undefined;
      this.pump();
      this.pumpWork();
    }, RAMP_STEP_MS);
    this.rampTimer.unref();
  }

  /** Resolves once nothing is queued in memory or running (tests, benchmarks, shutdown). */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.add(resolve));
  }

  private isIdle(): boolean {
    // Once stopping, nothing new starts: only what runs is waited for.
    const queued = this.abort.signal.aborted ? 0 : this.runnable.length + this.localWork.length;
    return this.runningSessions === 0 && this.runningActivities === 0 && queued === 0;
  }

  private notifyIdle(): void {
    if (!this.isIdle()) return;
    for (const waiter of [...this.idleWaiters]) waiter();
    this.idleWaiters.clear();
  }

  private async sendIfActive(instanceId: string, event: HistoryEvent): Promise<ClientResult> {
    // An instance this process holds in a session is known without a read: its commits go through here.
    const status =
      this.sessions.get(instanceId)?.snapshot?.record ?? (await this.store.readStatus(instanceId));
    if (!status) return 'notFound';
    if (TERMINAL_STATUSES.has(status.status)) return 'gone';
    await this.send([{ kind: 'event', id: randomUUID(), instanceId, event }], []);
    return 'ok';
  }

  // ---- queues ----

  /**
   * Sends messages after the state that produced them is committed: each is sent leased and worked
   * on here at once (its queue copy only matters if this process dies before finishing it). Timers
   * are not queued at all: the committed TimerCreated is their durable record, like TaskScheduled
   * for activities, and recover() arms the unfired ones again after a crash.
   */
  private async send(control: ControlMessage[], work: WorkItem[]): Promise<void> {
    const { store, settings } = this.options;
    const immediate = new Map<number, ControlMessage[]>();
    for (const message of control) {
      if (message.kind === 'event' && message.fireAt !== undefined) {
        this.armTimer(message, message.fireAt);
        continue;
      }
      const partition = partitionOf(message.instanceId, store.controlQueues.length);
      const list = immediate.get(partition) ?? [];
      list.push(message);
      immediate.set(partition, list);
    }
    await Promise.all(
      [...immediate].map(async ([partition, items]) => {
        const queue = store.controlQueues[partition]!;
        for (const message of await queue.sendLeased(items, settings.controlQueueVisibilityMs)) {
          this.acceptControl(queue, message, true);
        }
      }),
    );
    // Activities run here without a queue message: the committed TaskScheduled is their durable
    // record, and recover() re-queues the unanswered ones after a crash.
    for (const body of work) this.acceptWork({ body, dequeueCount: 1, handle: undefined }, true);
  }

  /** Delivers a durable timer's TimerFired when virtual time reaches `fireAt` (once per message id). */
  private armTimer(message: ControlMessage & { kind: 'event' }, fireAt: number): void {
    if (this.timers.has(message.id) || this.abort.signal.aborted) return;
    const step = () => {
      const delay = this.options.clock.realDelayUntil(fireAt);
      if (delay > 0) {
        this.timers.set(message.id, setTimeout(step, Math.min(delay, MAX_TIMER_WAIT_MS)));
        return;
      }
      this.timers.delete(message.id);
      if (this.abort.signal.aborted) return;
      this.dispatch(message.instanceId, {
        incoming: {
          event: message.event,
          messageId: message.id,
          ...(message.executionId ? { executionId: message.executionId } : {}),
        },
        redelivered: false,
        ack: async () => {},
        // Given up (storage failing): fires again after a lease's time, as a queued message would.
        drop: () => {
          const retry = setTimeout(() => {
            this.localTimers.delete(retry);
            this.armTimer(message, fireAt);
          }, this.options.settings.controlQueueVisibilityMs);
          this.localTimers.add(retry);
        },
      });
    };
    // Holds the id until the first step runs, so arming the same timer twice meanwhile is ignored.
    this.timers.set(message.id, setTimeout(step, 0));
  }

  private hold(queue: DurableQueue<unknown>, message: Received<unknown>, visibilityMs: number): Lease {
    const lease = { queue, message, visibilityMs, renewAt: Date.now() + visibilityMs / 2 };
    this.leases.add(lease);
    return lease;
  }

  private async release(lease: Lease | undefined): Promise<void> {
    if (!lease) return;
    this.leases.delete(lease);
    await lease.queue.delete(lease.message);
  }

  private forget(lease: Lease | undefined): void {
    if (lease) this.leases.delete(lease);
  }

  private renewLeases(): void {
    const now = Date.now();
    for (const lease of this.leases) {
      if (lease.renewAt > now) continue;
      lease.renewAt = now + lease.visibilityMs / 2;
      lease.queue.extend(lease.message, lease.visibilityMs).catch((error: unknown) => {
        this.options.log(`durable: could not renew a queue message lease: ${String(error)}`);
      });
    }
  }

  private async controlLoop(queue: DurableQueue<ControlMessage>): Promise<void> {
    const { settings } = this.options;
    const signal = this.abort.signal;
    let idleMs = 10;
    while (!signal.aborted) {
      if (this.held >= MAX_HELD_MESSAGES) {
        await new Promise<void>((resolve) => {
          this.capacityWaiter = resolve;
          setTimeout(resolve, 100).unref();
        });
        continue;
      }
      let messages: Received<ControlMessage>[];
      try {
        messages = await queue.receive(RECEIVE_BATCH, settings.controlQueueVisibilityMs);
      } catch (error) {
        if (signal.aborted) return;
        this.options.log(`durable: receiving control messages failed: ${String(error)}`);
        await queue.wait(settings.maxQueuePollingIntervalMs, signal);
        continue;
      }
      if (messages.length === 0) {
        await queue.wait(idleMs, signal);
        idleMs = Math.min(idleMs * 2, settings.maxQueuePollingIntervalMs);
        continue;
      }
      idleMs = 10;
      for (const message of messages) this.acceptControl(queue, message, false);
    }
  }

  /** Hands a leased control message to its instance's session. */
  private acceptControl(
    queue: DurableQueue<ControlMessage>,
    message: Received<ControlMessage>,
    local: boolean,
  ): void {
    const body = message.body;
    const lease = this.hold(
      queue as DurableQueue<unknown>,
      message as Received<unknown>,
      this.options.settings.controlQueueVisibilityMs,
    );
    this.held++;
    const ack = async () => {
      this.held--;
      await this.release(lease);
      if (this.held < MAX_HELD_MESSAGES) this.capacityWaiter?.();
    };
    const drop = () => {
      this.held--;
      this.leases.delete(lease);
    };
    // A message read back from its queue may be one a dead process had already applied.
    const redelivered = !local;
    if (body.kind === 'entity') {
      this.dispatch(body.instanceId, { operation: body.operation, redelivered, ack, drop });
    } else {
      this.dispatch(body.instanceId, {
        incoming: {
          event: body.event,
          messageId: body.id,
          ...(body.executionId ? { executionId: body.executionId } : {}),
        },
        redelivered,
        ack,
        drop,
      });
    }
  }

  /** Picks up work items another run of the host leased but never finished (it crashed). */
  private async workLoop(): Promise<void> {
    const { settings } = this.options;
    const queue = this.store.workItems;
    const signal = this.abort.signal;
    while (!signal.aborted) {
      let messages: Received<WorkItem>[] = [];
      if (this.localWork.length < settings.maxConcurrentActivityFunctions) {
        try {
          messages = await queue.receive(RECEIVE_BATCH, settings.workItemQueueVisibilityMs);
        } catch (error) {
          if (signal.aborted) return;
          this.options.log(`durable: receiving work items failed: ${String(error)}`);
        }
      }
      for (const message of messages) this.acceptWork(message, false);
      if (messages.length === 0) await queue.wait(settings.maxQueuePollingIntervalMs, signal);
    }
  }

  private acceptWork(message: Received<WorkItem>, local: boolean): void {
    const lease = local
      ? undefined
      : this.hold(
          this.store.workItems as DurableQueue<unknown>,
          message as Received<unknown>,
          this.options.settings.workItemQueueVisibilityMs,
        );
    this.localWork.push({ message, lease, local });
    this.pumpWork();
  }

  private pumpWork(): void {
    const limit = this.options.settings.maxConcurrentActivityFunctions;
    const allowed = this.allowed(limit, this.quiet.activities);
    while (this.runningActivities < allowed && this.localWork.length > 0 && !this.abort.signal.aborted) {
      const next = this.localWork.shift()!;
      this.runningActivities++;
      this.runActivity(next.message, next.lease, next.local)
        .catch((error: unknown) => {
          this.forget(next.lease);
          this.options.log(`durable: activity dispatch failed: ${String(error)}`);
        })
        .finally(() => {
          this.runningActivities--;
          this.pumpWork();
          this.notifyIdle();
        });
    }
    this.rampLater(allowed, limit, this.localWork.length);
  }

  // ---- activities ----

  private async runActivity(
    message: Received<WorkItem>,
    lease: Lease | undefined,
    local: boolean,
  ): Promise<void> {
    const item = message.body;
    const known = () => this.activeWork.has(item.id) || this.doneWork.has(item.id);
    if (known()) {
      await this.release(lease);
      return;
    }
    if (!local && (await this.alreadyAnswered(item))) {
      // Its result was committed by a process that died before sending what came next: the
      // instance re-sends its outbox, then the work item is deleted.
      this.dispatch(item.instanceId, {
        redelivered: true,
        ack: () => this.release(lease),
        drop: () => this.forget(lease),
      });
      return;
    }
    // Another copy of the item (re-queued by recover() and re-sent by the instance's next commit,
    // or received again when a stalled process let its lease lapse) may have started meanwhile.
    if (known()) {
      await this.release(lease);
      return;
    }
    this.activeWork.add(item.id);
    const event = await this.executeActivity(item);
    this.dispatch(item.instanceId, {
      incoming: { event, executionId: item.executionId, messageId: item.id },
      redelivered: false,
      ack: async () => {
        await this.release(lease);
        this.activeWork.delete(item.id);
        this.doneWork.add(item.id);
        if (this.doneWork.size > DONE_WORK_MEMORY) {
          this.doneWork.delete(this.doneWork.values().next().value!);
        }
      },
      drop: () => {
        this.forget(lease);
        this.activeWork.delete(item.id);
      },
    });
  }

  /** After a crash, a work item whose result is already in the history is not run again. */
  private async alreadyAnswered(item: WorkItem): Promise<boolean> {
    let session = this.sessions.get(item.instanceId);
    if (!session?.loaded) {
      const loaded = await this.store.load(item.instanceId);
      // Kept for the instance's next work item and the other recovered activities (a stale copy
      // only costs a conflict and a reload on commit).
      session = this.sessions.get(item.instanceId) ?? this.newSession(item.instanceId);
      if (!session.loaded) {
        session.snapshot = loaded;
        session.loaded = true;
      }
    }
    const snapshot = session.snapshot;
    if (!snapshot || snapshot.record.executionId !== item.executionId) return true;
    return snapshot.history.some(
      (e) =>
        (e.EventType === EventType.TaskCompleted || e.EventType === EventType.TaskFailed) &&
        e.TaskScheduledId === item.taskId,
    );
  }

  private async executeActivity(item: WorkItem): Promise<HistoryEvent> {
    const { clock } = this.options;
    try {
      const result =
        item.name === HTTP_TASK_NAME
          ? await callHttp(item.input, clock)
          : await this.invokeActivity(item.name, item.input);
      return newEvent(EventType.TaskCompleted, clock.now(), { TaskScheduledId: item.taskId, Result: result });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return newEvent(EventType.TaskFailed, clock.now(), {
        TaskScheduledId: item.taskId,
        Reason: `Activity function '${item.name}' failed: ${message}`,
        Details: message,
      });
    }
  }

  private async invokeActivity(name: string, input: string): Promise<string> {
    const fn = this.findFunction(name, 'activitytrigger');
    if (!fn)
      throw new Error(`The function '${name}' doesn't exist, is disabled, or is not an activity function.`);
    const result = await this.options.invoker.invoke(fn.name, { string: input });
    return encodeResult(result.returnValue);
  }

  // ---- sessions ----

  private dispatch(instanceId: string, inbound: Inbound): Session {
    let session = this.sessions.get(instanceId);
    if (session) {
      // Re-inserting keeps the Map in least-recently-used order for eviction.
      this.sessions.delete(instanceId);
    } else {
      session = this.newSession(instanceId);
    }
    this.sessions.set(instanceId, session);
    session.queue.push(inbound);
    if (!session.running && session.queue.length === 1) this.runnable.push(session);
    this.pump();
    return session;
  }

  private newSession(instanceId: string): Session {
    const session: Session = {
      instanceId,
      queue: [],
      running: false,
      snapshot: undefined,
      loaded: false,
      flushed: false,
    };
    this.sessions.set(instanceId, session);
    return session;
  }

  private pump(): void {
    const allowed = this.allowed(MAX_SESSIONS, this.quiet.sessions);
    while (this.runningSessions < allowed && this.runnable.length > 0 && !this.abort.signal.aborted) {
      const session = this.runnable.shift()!;
      if (session.running || session.queue.length === 0) continue;
      session.running = true;
      this.runningSessions++;
      this.runSession(session)
        .catch((error: unknown) =>
          this.options.log(`durable: work item for '${session.instanceId}' failed: ${String(error)}`),
        )
        .finally(() => {
          session.running = false;
          this.runningSessions--;
          if (session.queue.length > 0) this.runnable.push(session);
          this.evictIdleSessions();
          this.pump();
          this.notifyIdle();
        });
    }
    this.rampLater(allowed, MAX_SESSIONS, this.runnable.length);
  }

  private evictIdleSessions(): void {
    const limit = this.options.settings.instanceCacheSize;
    if (this.sessions.size <= limit) return;
    for (const [id, session] of this.sessions) {
      if (this.sessions.size <= limit) break;
      if (!session.running && session.queue.length === 0) this.sessions.delete(id);
    }
  }

  private async runSession(session: Session): Promise<void> {
    const batch = session.queue.splice(0);
    try {
      if (!session.loaded) {
        // A conflict on commit proves the guess wrong, and the catch below reloads.
        session.snapshot = batch[0]?.fresh ? undefined : await this.store.load(session.instanceId);
        session.loaded = true;
      }
      const result = isEntityId(session.instanceId)
        ? await this.processEntity(session, batch)
        : await processOrchestration(
            this.context,
            session.instanceId,
            session.snapshot,
            batch.flatMap((b) => (b.incoming ? [b.incoming] : [])),
          );
      await this.complete(session, batch, result);
      // The snapshot holds what the start became.
      delete session.starting;
    } catch (error) {
      session.loaded = false;
      session.flushed = false;
      session.snapshot = undefined;
      for (const inbound of batch) delete inbound.fresh;
      if (error instanceof ConflictError) {
        session.queue.unshift(...batch);
        return;
      }
      const failures = (batch[0]?.failures ?? 0) + 1;
      if (failures > MAX_WORK_ITEM_FAILURES || this.abort.signal.aborted) {
        // Given up: control messages come back when their leases lapse; activities on recovery.
        for (const inbound of batch) inbound.drop();
        throw error;
      }
      this.options.log(
        `durable: work item for '${session.instanceId}' failed (attempt ${failures}), retrying: ${String(error)}`,
      );
      for (const inbound of batch) inbound.failures = failures;
      const timer = setTimeout(() => {
        this.localTimers.delete(timer);
        for (const inbound of batch) this.dispatch(session.instanceId, inbound);
      }, RETRY_DELAY_MS * failures);
      this.localTimers.add(timer);
    }
  }

  private async complete(session: Session, batch: Inbound[], result: WorkResult | undefined): Promise<void> {
    const { store } = this;
    if (result && !result.unchanged) {
      // What a process that died after its last commit may not have sent goes out with this one.
      const carried =
        session.snapshot && !session.flushed ? unsent(session.snapshot.record, result.history) : undefined;
      const outbox = {
        control: [...(carried?.control ?? []), ...result.control],
        work: [...(carried?.work ?? []).filter((w) => !this.activeWork.has(w.id)), ...result.work],
      };
      const record: InstanceRecord = { ...result.record, outbox };
      const previous = session.snapshot?.record;
      const etag = await store.commit(record, result.appended, session.snapshot?.etag);
      session.snapshot = { record, history: result.history, etag };
      // The read model changes with the status, not with every episode (one write saved per episode).
      if (!previous || projectionChanged(previous, record)) await store.writeStatus(record);
      await this.send(outbox.control, outbox.work);
      session.flushed = true;
    } else if (result && session.snapshot && !session.flushed && batch.some((b) => b.redelivered)) {
      // Redelivered and already applied: the crash may have come before the outbox went out.
      await store.writeStatus(session.snapshot.record);
      const { control, work } = unsent(session.snapshot.record, session.snapshot.history);
      await this.send(
        control,
        work.filter((w) => !this.activeWork.has(w.id)),
      );
      session.flushed = true;
    }
    await Promise.all(batch.map((inbound) => inbound.ack()));
  }

  // ---- entities ----

  private async processEntity(session: Session, batch: Inbound[]): Promise<WorkResult | undefined> {
    const { clock } = this.options;
    const now = clock.now();
    const snapshot = session.snapshot;
    const { name, key } = parseEntityId(session.instanceId);
    const record: InstanceRecord = snapshot
      ? structuredClone(snapshot.record)
      : {
          instanceId: session.instanceId,
          name,
          executionId: '',
          status: 'Running',
          createdTime: now,
          lastUpdatedTime: now,
          exec: emptyExecution(),
          entity: { exists: false, recentOps: [] },
          outbox: { control: [], work: [] },
          historyCount: 0,
        };
    const entity = record.entity!;
    const recent = new Set(entity.recentOps);
    const operations: EntityOperation[] = [];
    for (const inbound of batch) {
      const op = inbound.operation;
      if (!op || recent.has(op.id)) continue;
      recent.add(op.id);
      operations.push(op);
    }
    if (operations.length === 0) {
      return { record, history: [], appended: [], control: [], work: [], unchanged: true };
    }
    const outcome = await this.invocations.run(() =>
      this.invokeEntity(name, key, entity.exists, entity.state, operations),
    );
    entity.exists = outcome.entityExists;
    if (outcome.entityState === undefined || outcome.entityState === null) delete entity.state;
    else entity.state = outcome.entityState;
    entity.recentOps = [...entity.recentOps, ...operations.map((o) => o.id)].slice(-RECENT_ENTITY_OPS);
    record.lastUpdatedTime = now;
    const control: ControlMessage[] = [];
    operations.forEach((op, i) => {
      if (op.isSignal || !op.parentInstanceId) return;
      const result = outcome.results[i];
      const response: { result?: string; exceptionType?: string } = {};
      if (result?.result !== undefined) response.result = result.result;
      if (!result || result.isError) response.exceptionType = 'Error';
      control.push({
        kind: 'event',
        id: `${op.id}|response`,
        instanceId: op.parentInstanceId,
        ...(op.parentExecutionId ? { executionId: op.parentExecutionId } : {}),
        event: newEvent(EventType.EventRaised, now, { Name: op.id, Input: JSON.stringify(response) }),
      });
    });
    for (const signal of outcome.signals) {
      const id = randomUUID();
      control.push({
        kind: 'entity',
        id,
        instanceId: `@${signal.target.name.toLowerCase()}@${signal.target.key}`,
        operation: {
          id,
          name: signal.name,
          ...(signal.input ? { input: signal.input } : {}),
          isSignal: true,
        },
      });
    }
    return { record, history: [], appended: [], control, work: [], unchanged: false };
  }

  private async invokeEntity(
    name: string,
    key: string,
    exists: boolean,
    state: string | undefined,
    operations: EntityOperation[],
  ): Promise<EntityBatchResult> {
    const fn = this.findFunction(name, 'entitytrigger');
    const failAll = (message: string): EntityBatchResult => ({
      entityExists: exists,
      entityState: state,
      results: operations.map(() => ({ isError: true, result: JSON.stringify(message) })),
      signals: [],
    });
    if (!fn)
      return failAll(`The function '${name}' doesn't exist, is disabled, or is not an entity function.`);
    const trigger = {
      self: { name, key },
      exists,
      state: state ?? null,
      batch: operations.map((op) => ({ id: op.id, name: op.name, input: op.input, isSignal: op.isSignal })),
    };
    try {
      const result = await this.options.invoker.invoke(fn.name, { string: JSON.stringify(trigger) });
      const value = decodeTyped(result.returnValue) as EntityBatchResult | undefined;
      if (!value || !Array.isArray(value.results))
        return failAll(`Entity function '${name}' returned no result`);
      return { ...value, signals: value.signals ?? [] };
    } catch (error) {
      return failAll(error instanceof Error ? error.message : String(error));
    }
  }

  // ---- orchestrators ----

  private async invokeOrchestrator(name: string, trigger: unknown): Promise<OrchestratorOutcome> {
    const fn = this.findFunction(name, 'orchestrationtrigger');
    if (!fn) {
      return {
        ok: false,
        error: `The function '${name}' doesn't exist, is disabled, or is not an orchestrator function.`,
      };
    }
    try {
      const result = await this.options.invoker.invoke(fn.name, { string: JSON.stringify(trigger) });
      const state = decodeTyped(result.returnValue) as OrchestratorState | undefined;
      if (!state || typeof state !== 'object')
        return { ok: false, error: 'The orchestrator returned no state' };
      return { ok: true, state };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const at = message.indexOf(OUT_OF_PROC_MARKER);
      if (at >= 0) {
        try {
          const state = JSON.parse(message.slice(at + OUT_OF_PROC_MARKER.length)) as OrchestratorState;
          if (state.error) return { ok: false, error: state.error };
        } catch {
          // Not the library's state: report the message as it is.
        }
        return { ok: false, error: message.slice(0, at).trim() };
      }
      return { ok: false, error: message };
    }
  }

  private findFunction(name: string, triggerType: string): RegisteredFunction | undefined {
    const key = `${triggerType}|${name.toLowerCase()}`;
    let fn = this.functionsByKey.get(key);
    if (!fn) {
      this.functionsByKey = new Map(
        this.options.invoker
          .functions()
          .map((f) => [`${f.trigger.type.toLowerCase()}|${f.name.toLowerCase()}`, f]),
      );
      fn = this.functionsByKey.get(key);
    }
    return fn;
  }
}

function projectionChanged(before: InstanceRecord, after: InstanceRecord): boolean {
  return (
    before.status !== after.status ||
    before.executionId !== after.executionId ||
    before.customStatus !== after.customStatus ||
    before.output !== after.output ||
    before.entity?.state !== after.entity?.state ||
    before.entity?.exists !== after.entity?.exists
  );
}

/** Activities the current execution scheduled that have no result in its history. */
function unanswered(snapshot: Snapshot): WorkItem[] {
  const { record, history } = snapshot;
  const answered = new Set<number>();
  for (const e of history) {
    if (e.EventType === EventType.TaskCompleted || e.EventType === EventType.TaskFailed)
      answered.add(e.TaskScheduledId!);
  }
  return history
    .filter(
      (e) => e.EventType === EventType.TaskScheduled && e.Input !== undefined && !answered.has(e.EventId),
    )
    .map((e) => ({
      id: `${record.instanceId}|${record.executionId}|${e.EventId}`,
      instanceId: record.instanceId,
      executionId: record.executionId,
      taskId: e.EventId,
      name: e.Name!,
      input: e.Input!,
    }));
}

/** TimerFired messages of the current execution's timers that have not fired. */
function unfiredTimers(snapshot: Snapshot): ControlMessage[] {
  const { record, history } = snapshot;
  const fired = new Set<number>();
  for (const e of history) if (e.EventType === EventType.TimerFired) fired.add(e.TimerId!);
  return history
    .filter((e) => e.EventType === EventType.TimerCreated && e.FireAt !== undefined && !fired.has(e.EventId))
    .map((e) => timerFired(record.instanceId, record.executionId, e.EventId, Date.parse(e.FireAt!)));
}

/** The part of a record's outbox that may still matter given `history` (of the current execution). */
function unsent(
  record: InstanceRecord,
  history: HistoryEvent[],
): { control: ControlMessage[]; work: WorkItem[] } {
  const answered = new Set<number>();
  for (const e of history) {
    if (e.TaskScheduledId !== undefined) answered.add(e.TaskScheduledId);
    if (e.TimerId !== undefined) answered.add(e.TimerId);
  }
  const execution = history.find((e) => e.EventType === EventType.ExecutionStarted)?.ExecutionId;
  const current = (executionId: string | undefined) => executionId === undefined || executionId === execution;
  return {
    control: record.outbox.control.filter(
      (m) =>
        !(
          m.kind === 'event' &&
          m.event.TimerId !== undefined &&
          current(m.executionId) &&
          answered.has(m.event.TimerId)
        ),
    ),
    work: record.outbox.work.filter((item) => current(item.executionId) && !answered.has(item.taskId)),
  };
}

interface EntityBatchResult {
  entityExists: boolean;
  entityState?: string | undefined;
  results: { isError: boolean; result?: string }[];
  signals: { target: { name: string; key: string }; name: string; input?: string }[];
}

/** A function's return value as the JSON value it stands for. */
export function decodeTyped(data: RpcTypedData | undefined): unknown {
  if (!data) return undefined;
  if (data.json !== undefined) return JSON.parse(data.json);
  if (data.string !== undefined) {
    try {
      return JSON.parse(data.string);
    } catch {
      return data.string;
    }
  }
  if (data.int !== undefined) return Number(data.int);
  if (data.double !== undefined) return Number(data.double);
  if (data.bytes !== undefined) return Buffer.from(data.bytes).toString('base64');
  return undefined;
}

/** An activity's return value as TaskCompleted.Result: `JSON.stringify(value)`. */
function encodeResult(data: RpcTypedData | undefined): string {
  if (!data) return 'null';
  if (data.json !== undefined) return data.json;
  if (data.string !== undefined) return JSON.stringify(data.string);
  if (data.int !== undefined) return String(data.int);
  if (data.double !== undefined) return String(data.double);
  if (data.bytes !== undefined) return JSON.stringify(Buffer.from(data.bytes).toString('base64'));
  return 'null';
}

interface DurableHttpRequest {
  method?: string;
  uri: string;
  content?: string;
  headers?: Record<string, string>;
  asynchronousPatternEnabled?: boolean;
}

/**
 * A durable HTTP call (context.df.callHttp) made by the host, answered as DurableHttpResponse.
 * The 202-and-Location polling pattern is followed here, waiting Retry-After seconds of virtual time.
 */
async function callHttp(input: string, clock: Clock): Promise<string> {
  const request = JSON.parse(input) as DurableHttpRequest;
  let response = await fetch(request.uri, {
    method: request.method ?? 'GET',
    ...(request.headers ? { headers: request.headers } : {}),
    ...(request.content !== undefined ? { body: request.content } : {}),
  });
  while (
    request.asynchronousPatternEnabled !== false &&
    response.status === 202 &&
    response.headers.get('location')
  ) {
    const location = new URL(response.headers.get('location')!, request.uri).href;
    const retryAfterS = Number(response.headers.get('retry-after') ?? '');
    const waitMs = Number.isFinite(retryAfterS) && retryAfterS > 0 ? retryAfterS * 1000 : 30_000;
    await response.arrayBuffer();
    await clock.sleepUntil(clock.now() + waitMs);
    response = await fetch(location, request.headers ? { headers: request.headers } : {});
  }
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  return JSON.stringify({ statusCode: response.status, content: await response.text(), headers });
}

/**
 * One orchestration work item: turns a batch of incoming events into history, runs the
 * orchestrator (out-of-proc protocol of durable-functions 3.x), and turns its actions into new
 * history events and outgoing messages, allocating task ids exactly as the JS side does.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../clock';
import {
  type ControlMessage,
  completionKey,
  EventType,
  entitySchedulerId,
  type HistoryEvent,
  newEvent,
  TERMINAL_STATUSES,
  type WorkItem,
} from './history';
import {
  emptyExecution,
  type InstanceRecord,
  type RetryOptions,
  type RetryState,
  type Snapshot,
} from './store';

/** ReplaySchema.V3 of durable-functions: cumulative actions, long timers. V4 (entity locks) is not offered. */
export const UPPER_SCHEMA_VERSION = 2;

export interface TimerSettings {
  /** Timers further out than this are split into intervals (virtual ms). */
  maximumShortTimerMs: number;
  longRunningTimerIntervalMs: number;
  /** The same two as .NET TimeSpan text, handed to the orchestrator. */
  maximumShortTimerDuration: string;
  longRunningTimerIntervalDuration: string;
  defaultHttpAsyncRequestSleepMs: number;
}

export interface OrchestratorState {
  isDone: boolean;
  actions: unknown[][];
  output?: unknown;
  error?: string;
  customStatus?: unknown;
  schemaVersion?: number;
}

export type OrchestratorOutcome = { ok: true; state: OrchestratorState } | { ok: false; error: string };

export interface OrchestrationContext {
  clock: Clock;
  timers: TimerSettings;
  /** Runs the orchestrator function `name` with the trigger input (a JSON value). */
  invoke(name: string, trigger: unknown): Promise<OrchestratorOutcome>;
}

/** An incoming event and the execution it is meant for. */
export interface Incoming {
  event: HistoryEvent;
  executionId?: string;
  messageId: string;
}

export interface WorkResult {
  record: InstanceRecord;
  /** Full history of the current execution. */
  history: HistoryEvent[];
  /** Events to persist (the tail of `history`; all of it for a new execution). */
  appended: HistoryEvent[];
  control: ControlMessage[];
  work: WorkItem[];
  /** Nothing new: every incoming event was a duplicate or irrelevant. */
  unchanged: boolean;
}

interface Action {
  actionType: number;
  functionName?: string;
  input?: unknown;
  retryOptions?: RetryOptions;
  instanceId?: string;
  fireAt?: string;
  isCanceled?: boolean;
  externalEventName?: string;
  operation?: string;
  compoundActions?: Action[];
  httpRequest?: unknown;
}

const ActionType = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  ContinueAsNew: 4,
  CreateTimer: 5,
  WaitForExternalEvent: 6,
  CallEntity: 7,
  CallHttp: 8,
  SignalEntity: 9,
  WhenAny: 11,
  WhenAll: 12,
} as const;

/** Input as durable-functions sends it: strings already JSON-encoded (Utils.processInput), others raw. */
function encodeProcessedInput(input: unknown): string {
  if (typeof input === 'string') return input;
  return JSON.stringify(input ?? null);
}

function encodeRawInput(input: unknown): string {
  return JSON.stringify(input ?? null);
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined || text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function flatten(actions: unknown[][]): Action[] {
  const leaves: Action[] = [];
  const walk = (action: Action) => {
    if (action.actionType === ActionType.WhenAll || action.actionType === ActionType.WhenAny) {
      for (const child of action.compoundActions ?? []) walk(child);
    } else {
      leaves.push(action);
    }
  };
  for (const group of actions) for (const action of group ?? []) walk(action as Action);
  return leaves;
}

export function newRecord(start: HistoryEvent, instanceId: string): InstanceRecord {
  const created = Date.parse(start.Timestamp);
  return {
    instanceId,
    name: start.Name ?? '',
    executionId: start.ExecutionId ?? randomUUID().replaceAll('-', ''),
    status: 'Running',
    input: start.Input,
    createdTime: created,
    lastUpdatedTime: created,
    ...(start.ParentInstance ? { parent: start.ParentInstance } : {}),
    exec: emptyExecution(),
    outbox: { control: [], work: [] },
    historyCount: 0,
  };
}

function retryDelayMs(options: RetryOptions, failures: number): number {
  const coefficient = options.backoffCoefficient || 1;
  const delay = options.firstRetryIntervalInMilliseconds * coefficient ** (failures - 1);
  const cap = options.maxRetryIntervalInMilliseconds;
  return cap && cap > 0 ? Math.min(delay, cap) : delay;
}

class Work {
  record!: InstanceRecord;
  /** False until an ExecutionStarted has been seen. */
  exists: boolean;
  history: HistoryEvent[];
  appended: HistoryEvent[] = [];
  control: ControlMessage[] = [];
  work: WorkItem[] = [];
  changed = false;
  /** Events the host itself produces for the next episode (e.g. an expired retry). */
  followUps: HistoryEvent[] = [];
  private seen: Set<string> | undefined;

  constructor(
    snapshot: Snapshot | undefined,
    readonly instanceId: string,
  ) {
    this.exists = snapshot !== undefined;
    if (snapshot) {
      // The outbox is replaced, never changed, by a work item: no need to copy it (it can be large).
      const { outbox, ...rest } = snapshot.record;
      this.record = { ...structuredClone(rest), outbox };
    }
    this.history = snapshot ? snapshot.history.slice() : [];
  }

  get exec() {
    return this.record.exec;
  }

  append(event: HistoryEvent): void {
    this.history.push(event);
    this.appended.push(event);
    this.record.historyCount = this.history.length;
    this.changed = true;
    if (this.seen) this.remember(event);
  }

  /** Resets to a new execution; `start` becomes the first new event of its first episode. */
  startExecution(start: HistoryEvent): void {
    this.exists = true;
    this.record = newRecord(start, this.instanceId);
    this.history = [];
    this.appended = [];
    this.seen = undefined;
    this.changed = true;
    this.followUps = [start];
  }

  isDuplicate(incoming: Incoming): boolean {
    if (!this.seen) {
      this.seen = new Set();
      for (const event of this.history) this.remember(event);
    }
    const key = completionKey(incoming.event);
    if (key !== undefined && this.seen.has(key)) return true;
    return this.seen.has(`m${incoming.messageId}`);
  }

  private remember(event: HistoryEvent): void {
    const key = completionKey(event);
    if (key !== undefined) this.seen!.add(key);
    if (event.MessageId) this.seen!.add(`m${event.MessageId}`);
  }

  timer(id: number, fireAt: number, now: number): void {
    this.append(
      newEvent(EventType.TimerCreated, now, { EventId: id, FireAt: new Date(fireAt).toISOString() }),
    );
    this.control.push(timerFired(this.instanceId, this.record.executionId, id, fireAt));
  }

  scheduleActivity(id: number, name: string, input: string, now: number): void {
    this.append(newEvent(EventType.TaskScheduled, now, { EventId: id, Name: name, Input: input }));
    this.work.push({
      id: `${this.instanceId}|${this.record.executionId}|${id}`,
      instanceId: this.instanceId,
      executionId: this.record.executionId,
      taskId: id,
      name,
      input,
    });
  }

  startSubOrchestration(
    id: number,
    name: string,
    input: string,
    subId: string | undefined,
    now: number,
  ): void {
    const childId = subId || `${this.record.executionId}:${id}`;
    this.append(
      newEvent(EventType.SubOrchestrationInstanceCreated, now, {
        EventId: id,
        Name: name,
        InstanceId: childId,
        Input: input,
      }),
    );
    this.control.push({
      kind: 'event',
      id: `${this.instanceId}|${this.record.executionId}|sub|${id}`,
      instanceId: childId,
      event: newEvent(EventType.ExecutionStarted, now, {
        Name: name,
        Input: input,
        ExecutionId: randomUUID().replaceAll('-', ''),
        ParentInstance: {
          instanceId: this.instanceId,
          executionId: this.record.executionId,
          taskScheduledId: id,
        },
      }),
    });
  }

  sendEntityOperation(id: number, action: Action, isSignal: boolean, now: number): void {
    const requestId = randomUUID();
    const target = action.instanceId!;
    const input = action.input === undefined ? undefined : JSON.stringify(action.input);
    const request = {
      id: requestId,
      op: action.operation,
      signal: isSignal,
      input,
      parent: isSignal ? undefined : this.instanceId,
      parentExecution: isSignal ? undefined : this.record.executionId,
    };
    this.append(
      newEvent(EventType.EventSent, now, {
        EventId: id,
        Name: 'op',
        InstanceId: target,
        Input: JSON.stringify(request),
      }),
    );
    this.control.push({
      kind: 'entity',
      id: `${this.instanceId}|${this.record.executionId}|entity|${id}`,
      instanceId: target,
      operation: {
        id: requestId,
        name: action.operation ?? '',
        ...(input === undefined ? {} : { input }),
        isSignal,
        ...(isSignal
          ? {}
          : { parentInstanceId: this.instanceId, parentExecutionId: this.record.executionId }),
      },
    });
    if (!isSignal) this.exec.waits[requestId] = 1;
  }

  notifyParent(event: HistoryEvent): void {
    const parent = this.record.parent;
    if (!parent) return;
    this.control.push({
      kind: 'event',
      id: `${this.instanceId}|${this.record.executionId}|done`,
      instanceId: parent.instanceId,
      executionId: parent.executionId,
      event: { ...event, TaskScheduledId: parent.taskScheduledId },
    });
  }
}

/** Handles one batch of events for an orchestration instance. */
export async function processOrchestration(
  ctx: OrchestrationContext,
  instanceId: string,
  snapshot: Snapshot | undefined,
  incoming: Incoming[],
): Promise<WorkResult> {
  const w = new Work(snapshot, instanceId);
  const fresh: HistoryEvent[] = [];
  for (const item of incoming) {
    const event = item.event;
    if (event.EventType === EventType.ExecutionStarted) {
      handleStart(w, item);
      continue;
    }
    if (event.EventType === EventType.ExecutionRewound) {
      if (w.exists && w.record.status === 'Failed') rewind(w, { ...event, MessageId: item.messageId });
      continue;
    }
    if (!w.exists || TERMINAL_STATUSES.has(w.record.status)) continue;
    if (item.executionId && item.executionId !== w.record.executionId) continue;
    if (w.isDuplicate(item)) continue;
    fresh.push({ ...event, MessageId: item.messageId, IsPlayed: false });
  }
  if (w.exists && !TERMINAL_STATUSES.has(w.record.status)) {
    await handleEvents(ctx, w, fresh);
  }
  return {
    record: w.record,
    history: w.history,
    appended: w.appended,
    control: w.control,
    work: w.work,
    unchanged: !w.changed,
  };
}

function handleStart(w: Work, item: Incoming): void {
  const start = item.event;
  if (!w.exists) {
    w.startExecution({ ...start, MessageId: item.messageId });
    return;
  }
  if (start.ExecutionId && start.ExecutionId === w.record.executionId) return;
  if (TERMINAL_STATUSES.has(w.record.status)) {
    w.startExecution({ ...start, MessageId: item.messageId });
    return;
  }
  // A running instance with this id exists: a sub-orchestration start fails, like the extension.
  if (start.ParentInstance) {
    w.control.push({
      kind: 'event',
      id: `${item.messageId}|conflict`,
      instanceId: start.ParentInstance.instanceId,
      executionId: start.ParentInstance.executionId,
      event: newEvent(EventType.SubOrchestrationInstanceFailed, Date.parse(start.Timestamp), {
        TaskScheduledId: start.ParentInstance.taskScheduledId,
        Reason: `An orchestration with instance ID '${w.instanceId}' already exists and is running`,
        Details: '',
      }),
    });
    w.changed = true;
  }
}

/**
 * Rewind of a failed instance: the failures are taken out of the history, failed activities run
 * again and failed sub-orchestrations are rewound, then the orchestration replays as if they had
 * not failed yet.
 */
function rewind(w: Work, event: HistoryEvent): void {
  const failed = new Set<number>();
  const kept: HistoryEvent[] = [];
  for (const e of w.history) {
    if (e.EventType === EventType.TaskFailed || e.EventType === EventType.SubOrchestrationInstanceFailed) {
      failed.add(e.TaskScheduledId!);
    } else if (e.EventType !== EventType.ExecutionCompleted) {
      kept.push(e);
    }
  }
  w.history = [];
  w.appended = [];
  for (const e of kept) w.append(e);
  w.append({ ...event, IsPlayed: false });
  const now = Date.parse(event.Timestamp);
  for (const e of kept) {
    if (!failed.has(e.EventId)) continue;
    if (e.EventType === EventType.TaskScheduled) {
      w.work.push({
        id: `${w.instanceId}|${w.record.executionId}|${e.EventId}|${event.MessageId}`,
        instanceId: w.instanceId,
        executionId: w.record.executionId,
        taskId: e.EventId,
        name: e.Name!,
        input: e.Input ?? 'null',
      });
    } else if (e.EventType === EventType.SubOrchestrationInstanceCreated && e.InstanceId) {
      w.control.push({
        kind: 'event',
        id: `${event.MessageId}|${e.EventId}`,
        instanceId: e.InstanceId,
        event: newEvent(EventType.ExecutionRewound, now, { Reason: event.Reason ?? '' }),
      });
    }
  }
  w.record.status = 'Running';
  delete w.record.output;
  w.record.lastUpdatedTime = now;
}

/** Whether an event makes durable-functions allocate task ids while it is being replayed. */
function reservesIds(w: Work, event: HistoryEvent): boolean {
  if (
    event.EventType === EventType.TaskFailed ||
    event.EventType === EventType.SubOrchestrationInstanceFailed
  ) {
    return w.exec.retries[String(event.TaskScheduledId)]?.phase === 'running';
  }
  if (event.EventType === EventType.TimerFired) {
    const key = String(event.TimerId);
    return w.exec.retries[key]?.phase === 'waiting' || w.exec.longTimers[key] !== undefined;
  }
  return false;
}

async function handleEvents(ctx: OrchestrationContext, w: Work, fresh: HistoryEvent[]): Promise<void> {
  let pending = fresh;
  if (w.record.status === 'Suspended') {
    const control = pending.filter(
      (e) => e.EventType === EventType.ExecutionResumed || e.EventType === EventType.ExecutionTerminated,
    );
    w.exec.buffered.push(...pending.filter((e) => !control.includes(e)));
    if (control.length === 0) {
      if (pending.length > 0) w.changed = true;
      return;
    }
    pending = control;
  }
  while (pending.length > 0 || w.followUps.length > 0) {
    pending = [...w.followUps, ...pending];
    w.followUps = [];
    const terminate = pending.find((e) => e.EventType === EventType.ExecutionTerminated);
    if (terminate) {
      const start = pending.find((e) => e.EventType === EventType.ExecutionStarted);
      if (start) w.append(start);
      terminateExecution(ctx, w, terminate);
      return;
    }
    const suspendIndex = pending.findIndex((e) => e.EventType === EventType.ExecutionSuspended);
    const resumeIndex = pending.findIndex((e) => e.EventType === EventType.ExecutionResumed);
    if (resumeIndex >= 0) {
      const resume = pending[resumeIndex]!;
      pending.splice(resumeIndex, 1);
      w.append({ ...resume, IsPlayed: false });
      w.record.status = 'Running';
      pending.push(...w.exec.buffered);
      w.exec.buffered = [];
      continue;
    }
    if (suspendIndex >= 0 && w.record.status !== 'Suspended') {
      const suspend = pending[suspendIndex]!;
      pending.splice(suspendIndex, 1);
      w.append({ ...suspend, IsPlayed: false });
      w.record.status = 'Suspended';
      w.exec.buffered.push(...pending);
      return;
    }
    // One id-reserving event per episode, replayed first, keeps the host's ids in step with the JS side.
    const reserving = pending.find((e) => reservesIds(w, e));
    const episode = reserving ? [reserving, ...pending.filter((e) => !reservesIds(w, e))] : pending;
    pending = reserving ? pending.filter((e) => e !== reserving && reservesIds(w, e)) : [];
    const outcome = await runEpisode(ctx, w, episode, reserving);
    if (outcome === 'finished') return;
    if (outcome === 'continued') pending = [];
  }
}

function terminateExecution(ctx: OrchestrationContext, w: Work, terminate: HistoryEvent): void {
  const now = ctx.clock.now();
  w.append({ ...terminate, IsPlayed: false });
  w.append(
    newEvent(EventType.ExecutionCompleted, now, {
      OrchestrationStatus: 'Terminated',
      Result: terminate.Input,
    }),
  );
  w.record.status = 'Terminated';
  w.record.output = terminate.Input ?? 'null';
  w.record.lastUpdatedTime = now;
  w.notifyParent(
    newEvent(EventType.SubOrchestrationInstanceFailed, now, {
      Reason: `Instance '${w.instanceId}' was terminated: ${String(parseJson(terminate.Input) ?? '')}`,
      Details: '',
    }),
  );
}

function episodeTime(ctx: OrchestrationContext, w: Work, events: HistoryEvent[]): number {
  let now = ctx.clock.now();
  for (const event of events) {
    if (event.EventType === EventType.TimerFired && event.FireAt)
      now = Math.max(now, Date.parse(event.FireAt));
  }
  for (let i = w.history.length - 1; i >= 0; i--) {
    if (w.history[i]!.EventType === EventType.OrchestratorStarted) {
      now = Math.max(now, Date.parse(w.history[i]!.Timestamp));
      break;
    }
  }
  return now;
}

/** Host-side effects of an id-reserving event (DTFx RetryInterceptor, long timers). */
function applyReservation(ctx: OrchestrationContext, w: Work, event: HistoryEvent, now: number): void {
  const exec = w.exec;
  if (
    event.EventType === EventType.TaskFailed ||
    event.EventType === EventType.SubOrchestrationInstanceFailed
  ) {
    const key = String(event.TaskScheduledId);
    const retry = exec.retries[key]!;
    delete exec.retries[key];
    const failures = retry.attemptNumber;
    const timeout = retry.options.retryTimeoutInMilliseconds;
    const expired = timeout !== undefined && timeout > 0 && now >= retry.firstAttemptAt + timeout;
    const timerId = exec.nextId++;
    const fireAt = expired ? now : now + retryDelayMs(retry.options, failures);
    w.timer(timerId, fireAt, now);
    exec.retries[String(timerId)] = {
      ...retry,
      attemptNumber: retry.attemptNumber + 1,
      phase: 'waiting',
      lastReason: event.Reason ?? '',
      lastDetails: event.Details ?? '',
      firstAttemptAt: expired ? Number.NEGATIVE_INFINITY : retry.firstAttemptAt,
    };
    return;
  }
  const key = String(event.TimerId);
  const retry = exec.retries[key];
  if (retry) {
    delete exec.retries[key];
    if (retry.attemptNumber > retry.options.maxNumberOfAttempts) return;
    const id = exec.nextId++;
    const next: RetryState = { ...retry, phase: 'running' };
    exec.retries[String(id)] = next;
    if (retry.firstAttemptAt === Number.NEGATIVE_INFINITY) {
      // retryTimeout has passed: DTFx gives up; the JS side still waits on the id it reserved.
      w.append(newEvent(EventType.TaskScheduled, now, { EventId: id, Name: retry.functionName }));
      w.followUps.push(
        newEvent(
          retry.kind === 'activity' ? EventType.TaskFailed : EventType.SubOrchestrationInstanceFailed,
          now,
          { TaskScheduledId: id, Reason: retry.lastReason, Details: retry.lastDetails },
        ),
      );
    } else if (retry.kind === 'activity') {
      w.scheduleActivity(id, retry.functionName, retry.input, now);
    } else {
      w.startSubOrchestration(id, retry.functionName, retry.input, retry.subInstanceId, now);
    }
    return;
  }
  const finalIso = exec.longTimers[key]!;
  delete exec.longTimers[key];
  const final = Date.parse(finalIso);
  if (final > now) scheduleTimerStep(ctx, w, final, now);
}

function scheduleTimerStep(ctx: OrchestrationContext, w: Work, final: number, now: number): void {
  const id = w.exec.nextId++;
  const long = final - now > ctx.timers.maximumShortTimerMs;
  const fireAt = long ? now + ctx.timers.longRunningTimerIntervalMs : final;
  if (long) w.exec.longTimers[String(id)] = new Date(final).toISOString();
  w.timer(id, fireAt, now);
}

type EpisodeOutcome = 'running' | 'finished' | 'continued';

async function runEpisode(
  ctx: OrchestrationContext,
  w: Work,
  events: HistoryEvent[],
  reserving: HistoryEvent | undefined,
): Promise<EpisodeOutcome> {
  const now = episodeTime(ctx, w, events);
  // Earlier episodes are what this replay plays back (the events are the engine's own objects).
  for (const event of w.history) event.IsPlayed = true;
  const playedUntil = w.history.length;
  w.append(newEvent(EventType.OrchestratorStarted, now));
  for (const event of events) w.append(event);
  if (reserving) applyReservation(ctx, w, reserving, now);

  const trigger = {
    history: w.history,
    input: parseJson(w.history.find((e) => e.EventType === EventType.ExecutionStarted)?.Input),
    instanceId: w.instanceId,
    isReplaying: playedUntil > 1,
    parentInstanceId: w.record.parent?.instanceId,
    upperSchemaVersion: UPPER_SCHEMA_VERSION,
    upperSchemaVersionNew: UPPER_SCHEMA_VERSION,
    longRunningTimerIntervalDuration: ctx.timers.longRunningTimerIntervalDuration,
    maximumShortTimerDuration: ctx.timers.maximumShortTimerDuration,
    defaultHttpAsyncRequestSleepTimeMillseconds: ctx.timers.defaultHttpAsyncRequestSleepMs,
  };
  const outcome = await ctx.invoke(w.record.name, trigger);
  w.record.lastUpdatedTime = now;
  if (!outcome.ok) {
    failExecution(w, `Orchestrator function '${w.record.name}' failed: ${outcome.error}`, now);
    return 'finished';
  }
  const state = outcome.state;
  if (state.customStatus !== undefined) w.record.customStatus = JSON.stringify(state.customStatus);
  const leaves = flatten(state.actions ?? []);
  const fresh = leaves.slice(w.exec.processed);
  w.exec.processed = leaves.length;
  const continueAsNew = fresh.find((a) => a.actionType === ActionType.ContinueAsNew);
  // An execution that continues as new sends only its signals; its last waits still count, as the
  // events they took (from the buffer) must not be handed to the next execution again.
  const keptOnContinue: number[] = [
    ActionType.ContinueAsNew,
    ActionType.SignalEntity,
    ActionType.WaitForExternalEvent,
  ];
  for (const action of fresh) {
    if (continueAsNew && !keptOnContinue.includes(action.actionType)) continue;
    applyAction(ctx, w, action, now, state.schemaVersion ?? 0);
  }
  w.append(newEvent(EventType.OrchestratorCompleted, now));
  if (continueAsNew) {
    continueExecution(w, encodeProcessedInput(continueAsNew.input), now);
    return 'continued';
  }
  if (state.isDone) {
    const output = state.output === undefined ? 'null' : JSON.stringify(state.output);
    w.append(
      newEvent(EventType.ExecutionCompleted, now, { OrchestrationStatus: 'Completed', Result: output }),
    );
    w.record.status = 'Completed';
    w.record.output = output;
    w.notifyParent(newEvent(EventType.SubOrchestrationInstanceCompleted, now, { Result: output }));
    return 'finished';
  }
  return 'running';
}

function failExecution(w: Work, message: string, now: number): void {
  w.append(newEvent(EventType.ExecutionCompleted, now, { OrchestrationStatus: 'Failed', Result: message }));
  w.record.status = 'Failed';
  w.record.output = JSON.stringify(message);
  w.notifyParent(newEvent(EventType.SubOrchestrationInstanceFailed, now, { Reason: message, Details: '' }));
}

function continueExecution(w: Work, input: string, now: number): void {
  // External events the finished execution never waited for are handed to the next one.
  const consumed = { ...w.exec.waits };
  const carried: HistoryEvent[] = [];
  for (const event of w.history) {
    if (event.EventType !== EventType.EventRaised || event.Name === undefined) continue;
    if ((consumed[event.Name] ?? 0) > 0) consumed[event.Name]!--;
    else carried.push({ ...event, IsPlayed: false });
  }
  const record = w.record;
  w.startExecution(
    newEvent(EventType.ExecutionStarted, now, {
      Name: record.name,
      Input: input,
      ExecutionId: randomUUID().replaceAll('-', ''),
      ...(record.parent ? { ParentInstance: record.parent } : {}),
    }),
  );
  w.record.createdTime = record.createdTime;
  if (record.customStatus !== undefined) w.record.customStatus = record.customStatus;
  w.followUps.push(...carried);
}

function applyAction(ctx: OrchestrationContext, w: Work, action: Action, now: number, schema: number): void {
  const exec = w.exec;
  switch (action.actionType) {
    case ActionType.CallActivity:
    case ActionType.CallActivityWithRetry: {
      const id = exec.nextId++;
      const input = encodeProcessedInput(action.input);
      w.scheduleActivity(id, action.functionName!, input, now);
      if (action.actionType === ActionType.CallActivityWithRetry) {
        exec.retries[String(id)] = retryState('activity', action, input, now);
      }
      return;
    }
    case ActionType.CallSubOrchestrator:
    case ActionType.CallSubOrchestratorWithRetry: {
      const id = exec.nextId++;
      const input = encodeRawInput(action.input);
      w.startSubOrchestration(id, action.functionName!, input, action.instanceId, now);
      if (action.actionType === ActionType.CallSubOrchestratorWithRetry) {
        exec.retries[String(id)] = retryState('orchestrator', action, input, now);
      }
      return;
    }
    case ActionType.CreateTimer: {
      const final = Date.parse(action.fireAt!);
      if (schema >= UPPER_SCHEMA_VERSION && final - now > ctx.timers.maximumShortTimerMs) {
        scheduleTimerStep(ctx, w, final, now);
      } else {
        w.timer(exec.nextId++, final, now);
      }
      return;
    }
    case ActionType.WaitForExternalEvent: {
      const name = action.externalEventName!;
      exec.waits[name] = (exec.waits[name] ?? 0) + 1;
      return;
    }
    case ActionType.CallEntity:
      w.sendEntityOperation(exec.nextId++, action, false, now);
      return;
    case ActionType.SignalEntity:
      w.sendEntityOperation(exec.nextId++, action, true, now);
      return;
    case ActionType.CallHttp: {
      const id = exec.nextId++;
      const input = JSON.stringify(action.httpRequest ?? {});
      w.scheduleActivity(id, HTTP_TASK_NAME, input, now);
      return;
    }
    default:
      return;
  }
}

/** Work items with this name are durable HTTP calls the host makes itself. */
export const HTTP_TASK_NAME = '$http';

function retryState(kind: RetryState['kind'], action: Action, input: string, now: number): RetryState {
  return {
    kind,
    functionName: action.functionName!,
    input,
    ...(action.instanceId ? { subInstanceId: action.instanceId } : {}),
    options: action.retryOptions!,
    attemptNumber: 1,
    firstAttemptAt: now,
    phase: 'running',
    lastReason: '',
    lastDetails: '',
  };
}

export { entitySchedulerId };

/** The message that fires durable timer `id` of an execution at `fireAt` (virtual ms). */
export function timerFired(
  instanceId: string,
  executionId: string,
  id: number,
  fireAt: number,
): ControlMessage {
  return {
    kind: 'event',
    id: `${instanceId}|${executionId}|timer|${id}`,
    instanceId,
    executionId,
    event: newEvent(EventType.TimerFired, fireAt, { TimerId: id, FireAt: new Date(fireAt).toISOString() }),
    fireAt,
  };
}

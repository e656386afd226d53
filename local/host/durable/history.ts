/**
 * History events and messages of the durable engine, shaped as the Durable Task Framework
 * serialises them for out-of-proc workers (durable-functions reads `EventType`, `EventId`,
 * `IsPlayed`, `Timestamp` and the per-type fields below).
 */

export enum EventType {
  ExecutionStarted = 0,
  ExecutionCompleted = 1,
  ExecutionFailed = 2,
  ExecutionTerminated = 3,
  TaskScheduled = 4,
  TaskCompleted = 5,
  TaskFailed = 6,
  SubOrchestrationInstanceCreated = 7,
  SubOrchestrationInstanceCompleted = 8,
  SubOrchestrationInstanceFailed = 9,
  TimerCreated = 10,
  TimerFired = 11,
  OrchestratorStarted = 12,
  OrchestratorCompleted = 13,
  EventSent = 14,
  EventRaised = 15,
  ContinueAsNew = 16,
  ExecutionSuspended = 19,
  ExecutionResumed = 20,
  ExecutionRewound = 21,
}

export interface ParentInstance {
  instanceId: string;
  executionId: string;
  taskScheduledId: number;
}

export interface HistoryEvent {
  EventType: EventType;
  EventId: number;
  IsPlayed: boolean;
  /** ISO 8601, virtual time. */
  Timestamp: string;
  Name?: string;
  /** JSON text. */
  Input?: string;
  /** JSON text. */
  Result?: string;
  Reason?: string;
  Details?: string;
  TaskScheduledId?: number;
  TimerId?: number;
  FireAt?: string;
  InstanceId?: string;
  OrchestrationStatus?: string;
  ExecutionId?: string;
  ParentInstance?: ParentInstance;
  /** Id of the message that delivered the event, so a redelivered message is recognised. */
  MessageId?: string;
}

export type RuntimeStatus =
  | 'Pending'
  | 'Running'
  | 'Completed'
  | 'ContinuedAsNew'
  | 'Failed'
  | 'Canceled'
  | 'Terminated'
  | 'Suspended';

export const TERMINAL_STATUSES: ReadonlySet<RuntimeStatus> = new Set([
  'Completed',
  'Failed',
  'Terminated',
  'Canceled',
]);

/** An operation for an entity (`@name@key`), from a client, an orchestration or another entity. */
export interface EntityOperation {
  /** Request id: GUID; a callEntity's answer is an EventRaised named after it. */
  id: string;
  name: string;
  /** JSON text, or undefined for no input. */
  input?: string;
  isSignal: boolean;
  parentInstanceId?: string;
  parentExecutionId?: string;
}

/** A message on a control queue: for one orchestration or entity instance. */
export type ControlMessage =
  | {
      kind: 'event';
      id: string;
      instanceId: string;
      /** When set, the message is dropped unless this execution is the current one. */
      executionId?: string;
      event: HistoryEvent;
      /** Virtual ms before which the message is not delivered (durable timers). */
      fireAt?: number;
    }
  | { kind: 'entity'; id: string; instanceId: string; operation: EntityOperation };

/** A message on the work-item queue: one activity execution. */
export interface WorkItem {
  id: string;
  instanceId: string;
  executionId: string;
  taskId: number;
  name: string;
  /** JSON text handed to the activity trigger. */
  input: string;
}

export function isEntityId(instanceId: string): boolean {
  return instanceId.startsWith('@');
}

/** `@name@key` as durable-functions builds it (name lower-cased). */
export function entitySchedulerId(name: string, key: string): string {
  return `@${name.toLowerCase()}@${key}`;
}

export function parseEntityId(schedulerId: string): { name: string; key: string } {
  const at = schedulerId.indexOf('@', 1);
  return { name: schedulerId.substring(1, at), key: schedulerId.substring(at + 1) };
}

export function newEvent(
  type: EventType,
  timestampMs: number,
  fields: Partial<HistoryEvent> = {},
): HistoryEvent {
  return {
    EventType: type,
    EventId: -1,
    IsPlayed: false,
    Timestamp: new Date(timestampMs).toISOString(),
    ...fields,
  };
}

/** Events that answer a task the orchestration is waiting on, keyed by the id they answer. */
export function completionKey(event: HistoryEvent): string | undefined {
  switch (event.EventType) {
    case EventType.TaskCompleted:
    case EventType.TaskFailed:
    case EventType.SubOrchestrationInstanceCompleted:
    case EventType.SubOrchestrationInstanceFailed:
      return `t${event.TaskScheduledId}`;
    case EventType.TimerFired:
      return `t${event.TimerId}`;
    default:
      return undefined;
  }
}

/**
 * Long-running operations as ARM serves them: the first answer carries `Azure-AsyncOperation`
 * (status resource), `Location` (result resource) and `Retry-After`; the operation settles at its
 * virtual `doneAt`, on a timer so that its side effects (events) happen even if nobody polls.
 *
 * Retry-After is in REAL seconds because the SDK's pollers sleep in real time. core-lro reads whole
 * seconds only, so an operation ending within the next real second is announced with Retry-After 0
 * and its status request is held until it settles (at most HOLD_MS), which keeps pollers from
 * either spinning or oversleeping by a whole second at high LOCAL_TIME_SCALE.
 */
import type { Clock } from '../../clock';
import { ArmError } from './errors';
import type { ArmResult } from './types';

/** Longest real wait before answering a status poll of an operation that is about to settle. */
const HOLD_MS = 250;
/** Retry-After is capped so that a poller notices a changed clock or estate within this many real seconds. */
const MAX_RETRY_AFTER_SECONDS = 10;

export type OperationStatus = 'InProgress' | 'Succeeded' | 'Failed';

export interface Operation {
  id: string;
  resourceId: string;
  status: OperationStatus;
  /** Virtual ms. */
  startTime: number;
  doneAt: number;
  endTime?: number;
  result?: unknown;
  error?: ArmError;
}

export interface OperationUrls {
  asyncOperation: string;
  location: string;
}

interface Entry {
  op: Operation;
  complete: () => unknown;
  onSettled: (op: Operation) => void;
  abort: AbortController;
  settled: Promise<void>;
  resolveSettled: () => void;
}

export class Operations {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly clock: Clock) {}

  start(options: {
    id: string;
    resourceId: string;
    doneAt: number;
    complete: () => unknown;
    onSettled: (op: Operation) => void;
  }): Operation {
    const op: Operation = {
      id: options.id,
      resourceId: options.resourceId,
      status: 'InProgress',
      startTime: this.clock.now(),
      doneAt: options.doneAt,
    };
    let resolveSettled = () => {};
    const settled = new Promise<void>((resolve) => {
      resolveSettled = resolve;
    });
    const entry: Entry = {
      op,
      complete: options.complete,
      onSettled: options.onSettled,
      abort: new AbortController(),
      settled,
      resolveSettled,
    };
    this.entries.set(op.id, entry);
    this.clock.sleepUntil(op.doneAt, entry.abort.signal).then(
      () => this.settle(entry),
      () => undefined,
    );
    return op;
  }

  /** The operation, settled first if its time has come (timers may lag the clock). */
  get(id: string): Operation | undefined {
    const entry = this.entries.get(id);
    if (entry && entry.op.status === 'InProgress' && this.clock.now() >= entry.op.doneAt) this.settle(entry);
    return entry?.op;
  }

  /** Resolves when the operation settles or after HOLD_MS if it settles within the next real second. */
  async waitBriefly(id: string): Promise<void> {
    const entry = this.entries.get(id);
    if (entry?.op.status !== 'InProgress') return;
    const realMs = this.clock.realDelayUntil(entry.op.doneAt);
    if (realMs >= 1000) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      entry.settled,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.min(realMs + 5, HOLD_MS));
      }),
    ]);
    clearTimeout(timer);
  }

  /** Real seconds a poller should wait before asking again. */
  retryAfterSeconds(op: Operation): number {
    const realMs = this.clock.realDelayUntil(op.doneAt);
    if (realMs < 1000) return 0;
    return Math.min(MAX_RETRY_AFTER_SECONDS, Math.floor(realMs / 1000));
  }

  stop(): void {
    for (const entry of this.entries.values()) entry.abort.abort();
    this.entries.clear();
  }

  private settle(entry: Entry): void {
    if (entry.op.status !== 'InProgress') return;
    try {
      entry.op.result = entry.complete();
      entry.op.status = 'Succeeded';
    } catch (err) {
      entry.op.error = err instanceof ArmError ? err : ArmError.internal();
      entry.op.status = 'Failed';
    }
    entry.op.endTime = this.clock.now();
    entry.resolveSettled();
    entry.onSettled(entry.op);
  }
}

/** The body of the Azure-AsyncOperation status resource. */
export function statusBody(op: Operation): Record<string, unknown> {
  return {
    id: op.id,
    name: op.id,
    status: op.status,
    startTime: new Date(op.startTime).toISOString(),
    ...(op.endTime === undefined ? {} : { endTime: new Date(op.endTime).toISOString() }),
    ...(op.error ? op.error.toBody() : {}),
  };
}

/** The answer of the Location (operation result) resource, as ARM gives it. */
export function resultAnswer(op: Operation, urls: OperationUrls, retryAfter: number): ArmResult {
  if (op.status === 'InProgress') {
    return { status: 202, headers: { location: urls.location, 'retry-after': String(retryAfter) } };
  }
  if (op.status === 'Failed' && op.error) {
    return { status: op.error.status, body: op.error.toBody() };
  }
  return op.result === undefined ? { status: 204 } : { status: 200, body: op.result };
}

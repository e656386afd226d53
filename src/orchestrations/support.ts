/**
 * The few building blocks every orchestration here uses: typed activity calls that retry what
 * Azure says is worth retrying (after a durable timer, honouring Retry-After), durable waits raced
 * against external events, and a replay-safe way to build instants.
 */
import type * as df from 'durable-functions';
import type { ActivityInput, ActivityName, ActivityOutput, ActivityResult } from '../activities/contract';

export type Orchestration<T> = Generator<df.Task, T, unknown>;

/** A Date for an instant taken from the orchestration's clock, which makes it replay-safe. */
export function instant(ms: number) {
  // biome-ignore lint/style/noRestrictedGlobals: built from context.df.currentUtcDateTime, so deterministic
  return new Date(ms);
}

export type Instant = ReturnType<typeof instant>;

/**
 * The lint rule that keeps `Math.random` out of orchestrations bans all of `Math`; these two are
 * the deterministic parts we need.
 */
export function smaller(a: number, b: number): number {
  // biome-ignore lint/complexity/useMathMinMax: Math is banned here (see above)
  return a < b ? a : b;
}

export function larger(a: number, b: number): number {
  // biome-ignore lint/complexity/useMathMinMax: Math is banned here (see above)
  return a > b ? a : b;
}

export function nowMs(context: df.OrchestrationContext): number {
  return context.df.currentUtcDateTime.getTime();
}

export function nowIso(context: df.OrchestrationContext): string {
  return context.df.currentUtcDateTime.toISOString();
}

export const MINUTE_MS = 60_000;

/**
 * One waiter per event name for the life of the orchestration. Creating a fresh waiter at every
 * wait would lose events: durable-functions hands an event to the newest open waiter of that name,
 * and an abandoned waiter from an earlier wait still counts as open. Keeping one waiter per name
 * and renewing it only once it has received its event means every event is seen exactly once,
 * even one that arrives while the orchestration is busy with an activity.
 */
export class Inbox<Name extends string> {
  private readonly waiters = new Map<Name, df.Task>();

  constructor(
    private readonly context: df.OrchestrationContext,
    names: readonly Name[],
  ) {
    for (const name of names) this.waiters.set(name, context.df.waitForExternalEvent(name));
  }

  /** The payload of `name` if it arrived since the last take (and starts listening again), else undefined. */
  take(name: Name): { data: unknown } | undefined {
    const waiter = this.waiters.get(name)!;
    if (!waiter.isCompleted) return undefined;
    this.waiters.set(name, this.context.df.waitForExternalEvent(name));
    return { data: waiter.result };
  }

  /** Whether `name` arrived and has not been taken. */
  has(name: Name): boolean {
    return this.waiters.get(name)!.isCompleted;
  }

  /**
   * Waits until `fireAt` (epoch ms) or until one of `names` arrives, whichever is first. Answers
   * the event's name (not yet taken) or `timer`.
   */
  *wait(fireAt: number, names: readonly Name[]): Orchestration<Name | 'timer'> {
    const arrived = names.find((name) => this.has(name));
    if (arrived !== undefined) return arrived;
    const timer = this.context.df.createTimer(instant(fireAt));
    const listening = names.map((name) => this.waiters.get(name)!);
    const winner = yield this.context.df.Task.any([timer, ...listening]);
    if (winner === timer) return 'timer';
    timer.cancel();
    return names[listening.indexOf(winner as df.Task)]!;
  }

  /** Waits for one of `names` with no deadline. */
  *waitForAny(names: readonly Name[]): Orchestration<Name> {
    const arrived = names.find((name) => this.has(name));
    if (arrived !== undefined) return arrived;
    const listening = names.map((name) => this.waiters.get(name)!);
    const winner = yield this.context.df.Task.any(listening);
    return names[listening.indexOf(winner as df.Task)]!;
  }
}

export interface RetryPolicy {
  /** Attempts in all, for a step Azure says may succeed later. */
  attempts: number;
  /** Shortest wait between attempts, in ms; doubled each attempt unless Azure asks for longer. */
  minDelayMs: number;
  maxDelayMs: number;
}

/** Delay before attempt `attempt + 1` (attempt counted from 1), in ms: Azure's Retry-After or exponential back-off. */
export function retryDelay(policy: RetryPolicy, attempt: number, retryAfterMs: number): number {
  const backoff = smaller(policy.maxDelayMs, policy.minDelayMs * 2 ** (attempt - 1));
  return larger(retryAfterMs, backoff);
}

/**
 * Calls an activity; when it answers with a retriable failure, waits on a durable timer (never in
 * the activity) and calls it again, up to `policy.attempts`. Returns the last answer.
 */
export function* callActivity<N extends ActivityName>(
  context: df.OrchestrationContext,
  name: N,
  input: ActivityInput<N>,
  policy: RetryPolicy,
): Orchestration<ActivityResult<ActivityOutput<N>>> {
  for (let attempt = 1; ; attempt++) {
    const result = (yield context.df.callActivity(name, input)) as ActivityResult<ActivityOutput<N>>;
    if (result.ok || result.retryAfterMs === undefined || attempt >= policy.attempts) return result;
    yield context.df.createTimer(instant(nowMs(context) + retryDelay(policy, attempt, result.retryAfterMs)));
  }
}

/** Like `callActivity`, for steps that must succeed (journal writes): a final failure fails the orchestration. */
export function* mustCall<N extends ActivityName>(
  context: df.OrchestrationContext,
  name: N,
  input: ActivityInput<N>,
  policy: RetryPolicy,
): Orchestration<ActivityOutput<N>> {
  const result = yield* callActivity(context, name, input, policy);
  if (!result.ok) throw new Error(`${name} failed: ${result.error.code}: ${result.error.message}`);
  return result.value;
}

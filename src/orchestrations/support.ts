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
 * External events, none lost. durable-functions hands an event to the newest open waiter of its
 * name, keeps an event that no waiter of its name was ever yielded for until one is, and a waiter
 * that lost a race (the timer fired first) stays open, so an event arriving while the orchestration
 * is busy with an activity completes such an old waiter. So every wait yields fresh waiters for
 * every name the inbox knows (re-yielding a waiter would register it twice), every waiter is kept,
 * and an event counts as arrived when any waiter of its name completed and has not been taken.
 */
export class Inbox<Name extends string> {
  private readonly waiters = new Map<Name, df.Task[]>();
  private readonly taken = new Set<df.Task>();

  constructor(
    private readonly context: df.OrchestrationContext,
    private readonly names: readonly Name[],
  ) {
    for (const name of names) this.waiters.set(name, []);
  }

  private arrived(name: Name): df.Task | undefined {
    return this.waiters.get(name)!.find((waiter) => waiter.isCompleted && !this.taken.has(waiter));
  }

  /** Whether `name` arrived and has not been taken. */
  has(name: Name): boolean {
    return this.arrived(name) !== undefined;
  }

  /** The payload of the oldest untaken `name`, marking it taken; undefined if none arrived. */
  take(name: Name): { data: unknown } | undefined {
    const waiter = this.arrived(name);
    if (waiter === undefined) return undefined;
    this.taken.add(waiter);
    return { data: waiter.result };
  }

  /** Takes every arrived `name`, answering their payloads in the order the waiters were created. */
  drain(name: Name): unknown[] {
    const payloads: unknown[] = [];
    for (let next = this.take(name); next !== undefined; next = this.take(name)) payloads.push(next.data);
    return payloads;
  }

  /**
   * Waits until `fireAt` (epoch ms; undefined: no deadline), one of `names` arriving, or one of
   * `tasks` finishing. `tasks` must be tasks never yielded before: yielding them here is what
   * schedules them. Answers the first of `names` that arrived (not taken), else `timer` or `task`.
   * Other events arriving meanwhile stay in the inbox.
   */
  *wait(
    fireAt: number | undefined,
    names: readonly Name[],
    tasks: df.Task[] = [],
  ): Orchestration<Name | 'timer' | 'task'> {
    let unscheduled = tasks;
    for (;;) {
      const pending = names.find((name) => this.has(name));
      if (pending !== undefined && unscheduled.length === 0) return pending;
      const deadline = pending !== undefined ? nowMs(this.context) : fireAt;
      const timer = deadline === undefined ? undefined : this.context.df.createTimer(instant(deadline));
      const fresh = this.names.map((name) => {
        const waiter = this.context.df.waitForExternalEvent(name);
        this.waiters.get(name)!.push(waiter);
        return waiter;
      });
      const winner = yield this.context.df.Task.any([...(timer ? [timer] : []), ...fresh, ...unscheduled]);
      if (timer !== undefined && winner !== timer && !timer.isCompleted && !timer.isFaulted) timer.cancel();
      const arrived = names.find((name) => this.has(name));
      if (arrived !== undefined) return arrived;
      if (winner === timer) return 'timer';
      if (unscheduled.includes(winner as df.Task)) return 'task';
      unscheduled = [];
    }
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

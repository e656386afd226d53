/**
 * The replay engine against durable-functions' own orchestrator runtime (its Orchestrator class,
 * called directly instead of through the worker): task ids stay aligned with the JS side when
 * id-reserving events (retries, long timers) arrive in the same batch as ordinary completions.
 */
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../local/clock';
import { EventType, type HistoryEvent, newEvent } from '../../local/host/durable/history';
import {
  type Incoming,
  type OrchestrationContext,
  type OrchestratorState,
  processOrchestration,
} from '../../local/host/durable/orchestration';
import { engineSettings, parseTimeSpan, withEnvironmentOverrides } from '../../local/host/durable/settings';
import type { Snapshot } from '../../local/host/durable/store';

// The library's runtime, without the functions host around it.
const { Orchestrator } = require('durable-functions/lib/src/orchestrations/Orchestrator') as {
  Orchestrator: new (
    fn: unknown,
  ) => { listen(): (trigger: unknown, context: unknown) => Promise<OrchestratorState> };
};
const { RetryOptions } = require('durable-functions') as {
  RetryOptions: new (first: number, attempts: number) => object;
};

/** The part of durable-functions' DurableOrchestrationContext these orchestrators use. */
interface Df {
  currentUtcDateTime: Date;
  callActivity(name: string, input?: unknown): unknown;
  callActivityWithRetry(name: string, options: object, input?: unknown): unknown;
  createTimer(fireAt: Date): unknown;
  Task: { any(tasks: unknown[]): unknown };
}

type Generator = (context: { df: Df }) => Iterator<unknown, unknown, unknown>;

/** A clock that moves one virtual second per reading. */
function steppingClock(): Clock {
  let now = Date.parse('2026-01-01T00:00:00Z');
  return {
    now: () => (now += 1000),
    realDelayUntil: () => 0,
    sleepUntil: async () => {},
    scale: 1,
    origin: 0,
  };
}

function contextFor(fn: Generator): OrchestrationContext {
  const settings = engineSettings({});
  return {
    clock: steppingClock(),
    timers: settings.timers,
    invoke: async (_name, trigger) => {
      try {
        const handler = new Orchestrator(fn).listen();
        return { ok: true, state: await handler(JSON.parse(JSON.stringify(trigger)), {}) };
      } catch (error) {
        const message = (error as Error).message;
        const state = JSON.parse(
          message.slice(message.indexOf('$OutOfProcData$:') + 16),
        ) as OrchestratorState;
        return { ok: false, error: state.error ?? message };
      }
    },
  };
}

type Script = (name: string, input: unknown, attempt: number) => { result: unknown } | { error: string };

/** Runs an orchestration to the end: activities answer per `script`, timers fire at once. */
async function run(fn: Generator, script: Script, input: unknown = null) {
  const ctx = contextFor(fn);
  const attempts = new Map<string, number>();
  let snapshot: Snapshot | undefined;
  let pending: Incoming[] = [
    {
      event: newEvent(EventType.ExecutionStarted, ctx.clock.now(), {
        Name: 'test',
        Input: JSON.stringify(input),
      }),
      messageId: 'start',
    },
  ];
  let batches = 0;
  while (pending.length > 0 && batches++ < 50) {
    const result = await processOrchestration(ctx, 'instance', snapshot, pending);
    snapshot = { record: result.record, history: result.history, etag: String(batches) };
    pending = [];
    for (const item of result.work) {
      const attempt = (attempts.get(item.name) ?? 0) + 1;
      attempts.set(item.name, attempt);
      const outcome = script(item.name, JSON.parse(item.input), attempt);
      const event =
        'result' in outcome
          ? newEvent(EventType.TaskCompleted, ctx.clock.now(), {
              TaskScheduledId: item.taskId,
              Result: JSON.stringify(outcome.result),
            })
          : newEvent(EventType.TaskFailed, ctx.clock.now(), {
              TaskScheduledId: item.taskId,
              Reason: outcome.error,
              Details: '',
            });
      pending.push({ event, executionId: item.executionId, messageId: `${item.id}|${attempt}` });
    }
    for (const message of result.control) {
      if (message.kind === 'event' && message.event.EventType === EventType.TimerFired) {
        pending.push({ event: message.event, executionId: message.executionId!, messageId: message.id });
      }
    }
  }
  return snapshot!;
}

function scheduledIds(history: HistoryEvent[], type: EventType): number[] {
  return history.filter((e) => e.EventType === type).map((e) => e.EventId);
}

describe('replay against the durable-functions runtime', () => {
  it('keeps ids aligned when a retry failure and a completion that resumes the code share a batch', async () => {
    const options = new RetryOptions(1000, 3);
    const orchestrator: Generator = function* (context) {
      const fast = context.df.callActivity('fast');
      const retried = context.df.callActivityWithRetry('flaky', options);
      yield context.df.Task.any([fast, retried]);
      const after = yield context.df.callActivity('after');
      const flaky = yield retried;
      return { after, flaky };
    };
    const snapshot = await run(orchestrator, (name, _input, attempt) =>
      name === 'flaky' && attempt === 1 ? { error: 'first try fails' } : { result: `${name}#${attempt}` },
    );
    expect(snapshot.record.status).toBe('Completed');
    expect(JSON.parse(snapshot.record.output!)).toEqual({ after: 'after#1', flaky: 'flaky#2' });
    // fast 0, flaky 1, retry timer 2 (reserved while the failure replays), after 3, flaky again 4.
    expect(scheduledIds(snapshot.history, EventType.TaskScheduled)).toEqual([0, 1, 3, 4]);
    expect(scheduledIds(snapshot.history, EventType.TimerCreated)).toEqual([2]);
  });

  it('fails after the last attempt, with a retry timer after each failure (DTFx RetryInterceptor)', async () => {
    const options = new RetryOptions(1000, 2);
    const orchestrator: Generator = function* (context) {
      return yield context.df.callActivityWithRetry('never', options, 'x');
    };
    const snapshot = await run(orchestrator, (_name, _input, attempt) => ({ error: `attempt ${attempt}` }));
    expect(snapshot.record.status).toBe('Failed');
    expect(JSON.parse(snapshot.record.output!)).toMatch(/^Orchestrator function 'test' failed: attempt 2/);
    expect(scheduledIds(snapshot.history, EventType.TimerCreated)).toHaveLength(2);
  });

  it('splits long timers into the intervals the JS side tracks', async () => {
    const orchestrator: Generator = function* (context) {
      const start = context.df.currentUtcDateTime.getTime();
      yield context.df.createTimer(new Date(start + 10 * 24 * 3600_000));
      return yield context.df.callActivity('after');
    };
    const snapshot = await run(orchestrator, (name) => ({ result: name }));
    expect(snapshot.record.status).toBe('Completed');
    // 10 days: 3 + 3 days of intervals (remaining 7, then 4 days), then the final timer; the activity gets id 3.
    expect(scheduledIds(snapshot.history, EventType.TimerCreated)).toEqual([0, 1, 2]);
    expect(scheduledIds(snapshot.history, EventType.TaskScheduled)).toEqual([3]);
  });

  it('reports an orchestrator that throws with the failure message the extension uses', async () => {
    const orchestrator: Generator = function* () {
      yield* [];
      throw new Error('bad input');
    };
    const snapshot = await run(orchestrator, () => ({ result: null }));
    expect(snapshot.record.status).toBe('Failed');
    expect(JSON.parse(snapshot.record.output!)).toBe("Orchestrator function 'test' failed: bad input");
  });
});

describe('settings', () => {
  it('parses .NET TimeSpans', () => {
    expect(parseTimeSpan('00:00:30')).toBe(30_000);
    expect(parseTimeSpan('6.00:00:00')).toBe(6 * 24 * 3600_000);
    expect(parseTimeSpan('00:00:01.5')).toBe(1500);
    expect(() => parseTimeSpan('soon')).toThrow(/TimeSpan/);
  });

  it('takes host.json values and lets AzureFunctionsJobHost__ app settings override them', () => {
    const merged = withEnvironmentOverrides(
      { maxConcurrentActivityFunctions: 4, storageProvider: { partitionCount: 2 } },
      {
        AzureFunctionsJobHost__extensions__durableTask__storageProvider__partitionCount: '3',
        AzureFunctionsJobHost__extensions__durableTask__maxConcurrentOrchestratorFunctions: '6',
      },
    );
    const settings = engineSettings(merged);
    expect(settings.maxConcurrentActivityFunctions).toBe(4);
    expect(settings.maxConcurrentOrchestratorFunctions).toBe(6);
    expect(settings.partitionCount).toBe(3);
  });
});

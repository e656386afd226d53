/**
 * The engine holds back queued work while the host has requests waiting for their answer: at most
 * two sessions and two activities start at a time, and the rest start once no request is open.
 * Orchestrations run through durable-functions' own orchestrator runtime; every invocation waits
 * until the test releases it, so what started is counted exactly.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createClock } from '../../local/clock';
import { DurableEngine } from '../../local/host/durable/engine';
import { MemoryStore } from '../../local/host/durable/memory-store';
import { engineSettings } from '../../local/host/durable/settings';
import type {
  FunctionInvoker,
  InvocationResult,
  RegisteredFunction,
  RpcTypedData,
} from '../../local/host/types';

const { Orchestrator } = require('durable-functions/lib/src/orchestrations/Orchestrator') as {
  Orchestrator: new (fn: unknown) => { listen(): (trigger: unknown, context: unknown) => Promise<unknown> };
};

const FAN_OUT = 6;

interface Df {
  callActivity(name: string, input?: unknown): unknown;
  Task: { all(tasks: unknown[]): unknown };
}

const fan = new Orchestrator(function* (context: { df: Df }): Generator<unknown, unknown, unknown> {
  return yield context.df.Task.all(
    Array.from({ length: FAN_OUT }, (_, i) => context.df.callActivity('hold', i)),
  );
}).listen();

function registered(name: string, type: string): RegisteredFunction {
  return {
    name,
    functionId: name,
    bindings: {},
    triggerBindingName: 'context',
    trigger: { type, direction: 'in' },
  };
}

/** Holds every invocation until the test releases it (or stops holding). */
class HeldInvoker implements FunctionInvoker {
  readonly held: { name: string; release: () => void }[] = [];
  started = { fan: 0, hold: 0 };
  #holding = true;

  functions(): RegisteredFunction[] {
    return [registered('fan', 'orchestrationTrigger'), registered('hold', 'activityTrigger')];
  }

  async invoke(name: string, trigger: RpcTypedData): Promise<InvocationResult> {
    const key = name as 'fan' | 'hold';
    this.started[key]++;
    if (this.#holding) await new Promise<void>((release) => this.held.push({ name, release }));
    const state = key === 'fan' ? await fan(JSON.parse(trigger.string!), {}) : Number(trigger.string);
    return { returnValue: { json: JSON.stringify(state) }, outputData: [] };
  }

  release(name: string, count = Number.POSITIVE_INFINITY): void {
    let left = count;
    for (let i = 0; i < this.held.length && left > 0; ) {
      if (this.held[i]!.name !== name) {
        i++;
        continue;
      }
      this.held.splice(i, 1)[0]!.release();
      left--;
    }
  }

  /** Releases what is held; later invocations run at once. */
  stopHolding(): void {
    this.#holding = false;
    for (const { release } of this.held.splice(0)) release();
  }
}

let invoker: HeldInvoker;
let engine: DurableEngine;

beforeEach(async () => {
  invoker = new HeldInvoker();
  engine = new DurableEngine({
    store: new MemoryStore(1),
    invoker,
    clock: createClock({ scale: 1, origin: Date.now() }),
    settings: engineSettings({ maxConcurrentActivityFunctions: 20, maxConcurrentOrchestratorFunctions: 20 }),
    log: () => {},
  });
  await engine.start();
});

afterEach(async () => {
  invoker.stopHolding();
  await engine.stop();
});

describe('durable engine while requests wait for their answer', () => {
  it('starts two sessions at a time, and the rest once no request is open', async () => {
    engine.setAnswering(true);
    for (const id of ['a', 'b', 'c', 'd', 'e']) await engine.startNew('fan', id, undefined);
    await vi.waitFor(() => expect(invoker.started.fan).toBe(2));

    invoker.release('fan', 1);
    await vi.waitFor(() => expect(invoker.started.fan).toBe(3));
    expect(invoker.held.filter((h) => h.name === 'fan')).toHaveLength(2);

    engine.setAnswering(false);
    expect(invoker.started.fan).toBe(5);
  });

  it('starts two activities at a time, and the rest once no request is open', async () => {
    await engine.startNew('fan', 'fan', undefined);
    await vi.waitFor(() => expect(invoker.started.fan).toBe(1));
    engine.setAnswering(true);
    invoker.release('fan');
    await vi.waitFor(() => expect(invoker.started.hold).toBe(2));

    invoker.release('hold', 1);
    await vi.waitFor(() => expect(invoker.started.hold).toBe(3));
    expect(invoker.held.filter((h) => h.name === 'hold')).toHaveLength(2);

    engine.setAnswering(false);
    expect(invoker.started.hold).toBe(FAN_OUT);
    invoker.stopHolding();
    await vi.waitFor(async () => expect(await engine.status('fan')).toMatchObject({ status: 'Completed' }));
    expect(JSON.parse((await engine.status('fan'))!.output!)).toEqual([0, 1, 2, 3, 4, 5]);
  });
});

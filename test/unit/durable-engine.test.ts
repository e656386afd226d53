/**
 * The durable engine's scheduling of starts, with orchestrations run through durable-functions' own
 * orchestrator runtime:
 * - it holds back queued work while the host has requests waiting for their answer: at most two
 *   sessions and two activities start at a time; once no request is open, the rest start
 *   gradually (twice as many as run at that moment, then doubling). Every invocation waits until
 *   the test releases it, so what started is counted exactly;
 * - a start of an instance this process holds in a session is answered without storage requests: a
 *   start still queued or an instance running refuses it (409), and a finished one is replaced
 *   through the store as before.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createClock } from '../../local/clock';
import { DurableEngine } from '../../local/host/durable/engine';
import { MemoryStore } from '../../local/host/durable/memory-store';
import { engineSettings } from '../../local/host/durable/settings';
import type { InstanceRecord } from '../../local/host/durable/store';
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
  waitForExternalEvent(name: string): unknown;
  Task: { all(tasks: unknown[]): unknown };
}

const fan = new Orchestrator(function* (context: { df: Df }): Generator<unknown, unknown, unknown> {
  return yield context.df.Task.all(
    Array.from({ length: FAN_OUT }, (_, i) => context.df.callActivity('hold', i)),
  );
}).listen();

/** Runs until it is sent the event `go`. */
const waits = new Orchestrator(function* (context: { df: Df }): Generator<unknown, unknown, unknown> {
  return yield context.df.waitForExternalEvent('go');
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

describe('durable engine while requests wait for their answer', () => {
  let invoker: HeldInvoker;
  let engine: DurableEngine;

  beforeEach(async () => {
    invoker = new HeldInvoker();
    engine = new DurableEngine({
      store: new MemoryStore(1),
      invoker,
      clock: createClock({ scale: 1, origin: Date.now() }),
      settings: engineSettings({
        maxConcurrentActivityFunctions: 20,
        maxConcurrentOrchestratorFunctions: 20,
      }),
      log: () => {},
    });
    await engine.start();
  });

  afterEach(async () => {
    invoker.stopHolding();
    await engine.stop();
  });

  it('starts two sessions at a time, and the rest gradually once no request is open', async () => {
    engine.setAnswering(true);
    const ids = Array.from({ length: 12 }, (_, i) => `i${i}`);
    for (const id of ids) await engine.startNew('fan', id, undefined);
    await vi.waitFor(() => expect(invoker.started.fan).toBe(2));

    invoker.release('fan', 1);
    await vi.waitFor(() => expect(invoker.started.fan).toBe(3));
    expect(invoker.held.filter((h) => h.name === 'fan')).toHaveLength(2);

    // Two run: four may, then eight, then sixteen.
    engine.setAnswering(false);
    expect(invoker.started.fan).toBe(5);
    await vi.waitFor(() => expect(invoker.started.fan).toBe(ids.length));
  });

  it('starts two activities at a time, and the rest gradually once no request is open', async () => {
    await engine.startNew('fan', 'fan', undefined);
    await vi.waitFor(() => expect(invoker.started.fan).toBe(1));
    engine.setAnswering(true);
    invoker.release('fan');
    await vi.waitFor(() => expect(invoker.started.hold).toBe(2));

    invoker.release('hold', 1);
    await vi.waitFor(() => expect(invoker.started.hold).toBe(3));
    expect(invoker.held.filter((h) => h.name === 'hold')).toHaveLength(2);

    engine.setAnswering(false);
    expect(invoker.started.hold).toBe(5);
    await vi.waitFor(() => expect(invoker.started.hold).toBe(FAN_OUT));
    invoker.stopHolding();
    await vi.waitFor(async () => expect(await engine.status('fan')).toMatchObject({ status: 'Completed' }));
    expect(JSON.parse((await engine.status('fan'))!.output!)).toEqual([0, 1, 2, 3, 4, 5]);
  });
});

/** Runs `waits` at once. */
class Invoker implements FunctionInvoker {
  functions(): RegisteredFunction[] {
    return [registered('waits', 'orchestrationTrigger')];
  }

  async invoke(_name: string, trigger: RpcTypedData): Promise<InvocationResult> {
    const state = await waits(JSON.parse(trigger.string!), {});
    return { returnValue: { json: JSON.stringify(state) }, outputData: [] };
  }
}

/** Counts the status requests a start makes. */
class CountingStore extends MemoryStore {
  statusRequests = 0;

  override async createStatus(record: InstanceRecord): Promise<boolean> {
    this.statusRequests++;
    return super.createStatus(record);
  }

  override async readStatus(instanceId: string): Promise<InstanceRecord | undefined> {
    this.statusRequests++;
    return super.readStatus(instanceId);
  }
}

describe('starting an instance this process holds', () => {
  let store: CountingStore;
  let engine: DurableEngine;

  beforeEach(async () => {
    store = new CountingStore(1);
    engine = new DurableEngine({
      store,
      invoker: new Invoker(),
      clock: createClock({ scale: 1, origin: Date.now() }),
      settings: engineSettings({}),
      log: () => {},
    });
    await engine.start();
  });

  afterEach(async () => {
    await engine.stop();
  });

  it('refuses a second start while the first is queued or running, without a storage request', async () => {
    // Held back as while requests are open, so the first start is still queued.
    engine.setAnswering(true);
    for (const id of ['a', 'b', 'c']) await engine.startNew('waits', id, undefined);
    const requests = store.statusRequests;
    expect(await engine.startNew('waits', 'c', undefined)).toMatchObject({ conflict: { status: 'Pending' } });
    expect(store.statusRequests).toBe(requests);

    engine.setAnswering(false);
    await vi.waitFor(async () => expect((await engine.status('c'))?.status).toBe('Running'));
    const running = store.statusRequests;
    expect(await engine.startNew('waits', 'c', undefined)).toMatchObject({ conflict: { status: 'Running' } });
    expect(store.statusRequests).toBe(running);
  });

  it('replaces an instance that finished', async () => {
    await engine.startNew('waits', 'x', undefined);
    await vi.waitFor(async () => expect((await engine.status('x'))?.status).toBe('Running'));
    await engine.raiseEvent('x', 'go', '"now"');
    await vi.waitFor(async () => expect((await engine.status('x'))?.status).toBe('Completed'));
    const first = (await engine.status('x'))!.executionId;
    expect(await engine.startNew('waits', 'x', undefined)).toEqual({ instanceId: 'x' });
    await vi.waitFor(async () => {
      const status = await engine.status('x');
      expect(status?.status).toBe('Running');
      expect(status?.executionId).not.toBe(first);
    });
  });
});

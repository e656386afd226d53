import { describe, expect, it } from 'vitest';
import { SharedBatches } from '../../src/azure/batching';

/** A send whose calls stay pending until the test settles them. */
function controlledSend() {
  const calls: { items: string[]; resolve: () => void; reject: (error: Error) => void }[] = [];
  const send = (items: string[]) =>
    new Promise<void>((resolve, reject) => {
      calls.push({ items, resolve, reject });
    });
  return { calls, send };
}

const settled = (promise: Promise<void>) =>
  promise.then(
    () => 'sent',
    (error: Error) => `failed: ${error.message}`,
  );

/** Lets the batches' promise callbacks run. */
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('shared batches', () => {
  it('sends at once while fewer than the limit are in flight', async () => {
    const { calls, send } = controlledSend();
    const batches = new SharedBatches(send, { maxItems: 10, maxInFlight: 2 });
    void batches.add(['a']);
    void batches.add(['b']);
    expect(calls.map((c) => c.items)).toEqual([['a'], ['b']]);
  });

  it('puts what arrives while the limit is in flight into the next send, callers whole, up to the size', async () => {
    const { calls, send } = controlledSend();
    const batches = new SharedBatches(send, { maxItems: 4, maxInFlight: 1 });
    const first = settled(batches.add(['a']));
    const waiting = [
      settled(batches.add(['b', 'c'])),
      settled(batches.add(['d'])),
      settled(batches.add(['e', 'f'])),
      settled(batches.add(['g', 'h', 'i', 'j', 'k'])),
    ];
    expect(calls).toHaveLength(1);
    calls[0]!.resolve();
    expect(await first).toBe('sent');
    await tick();
    expect(calls.map((c) => c.items)).toEqual([['a'], ['b', 'c', 'd']]);
    calls[1]!.resolve();
    await tick();
    calls[2]!.resolve();
    await tick();
    // A caller with more than the size goes alone and whole; the send splits it as it must.
    expect(calls.map((c) => c.items)).toEqual([
      ['a'],
      ['b', 'c', 'd'],
      ['e', 'f'],
      ['g', 'h', 'i', 'j', 'k'],
    ]);
    calls[3]!.resolve();
    expect(await Promise.all(waiting)).toEqual(['sent', 'sent', 'sent', 'sent']);
  });

  it('fails every caller of a failed send, and only them', async () => {
    const { calls, send } = controlledSend();
    const batches = new SharedBatches(send, { maxItems: 10, maxInFlight: 1 });
    const first = settled(batches.add(['a']));
    const second = settled(batches.add(['b']));
    const third = settled(batches.add(['c']));
    calls[0]!.resolve();
    await tick();
    calls[1]!.reject(new Error('topic unavailable'));
    expect([await first, await second, await third]).toEqual([
      'sent',
      'failed: topic unavailable',
      'failed: topic unavailable',
    ]);
    expect(calls.map((c) => c.items)).toEqual([['a'], ['b', 'c']]);
    // The failure freed its place: the next caller is sent.
    const fourth = settled(batches.add(['d']));
    expect(calls[2]!.items).toEqual(['d']);
    calls[2]!.resolve();
    expect(await fourth).toBe('sent');
  });

  it('sends nothing for nothing', async () => {
    const { calls, send } = controlledSend();
    await new SharedBatches(send, { maxItems: 10, maxInFlight: 1 }).add([]);
    expect(calls).toHaveLength(0);
  });
});

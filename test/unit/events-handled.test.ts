import { describe, expect, it } from 'vitest';
import { HandledEvents } from '../../src/functions/handledEvents';

/** A promise and the functions that settle it. */
function deferred() {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('HandledEvents', () => {
  it('runs the work of an event once, and a copy after it succeeded does nothing', async () => {
    const handled = new HandledEvents(10);
    const runs: string[] = [];
    await handled.once('e1 vm-1', async () => {
      runs.push('e1');
    });
    await handled.once('e1 vm-1', async () => {
      runs.push('e1 again');
    });
    await handled.once('e2 vm-1', async () => {
      runs.push('e2');
    });
    expect(runs).toEqual(['e1', 'e2']);
  });

  it('makes a copy that arrives while the work runs wait for its outcome, then run nothing', async () => {
    const handled = new HandledEvents(10);
    const first = deferred();
    const runs: string[] = [];
    const settled: string[] = [];
    const original = handled.once('e1 vm-1', () => {
      runs.push('original');
      return first.promise;
    });
    const copy = handled.once('e1 vm-1', async () => {
      runs.push('copy');
    });
    void copy.then(() => settled.push('copy'));
    await Promise.resolve();
    expect(settled).toEqual([]);
    first.resolve();
    await Promise.all([original, copy]);
    expect(runs).toEqual(['original']);
    expect(settled).toEqual(['copy']);
  });

  it('fails the copies waiting on a failed run, and runs the work again for the retry', async () => {
    const handled = new HandledEvents(10);
    const first = deferred();
    const original = handled.once('e1 vm-1', () => first.promise);
    const copy = handled.once('e1 vm-1', async () => undefined);
    first.reject(new Error('storage down'));
    await expect(original).rejects.toThrow('storage down');
    await expect(copy).rejects.toThrow('storage down');
    const runs: string[] = [];
    await handled.once('e1 vm-1', async () => {
      runs.push('retry');
    });
    expect(runs).toEqual(['retry']);
  });

  it('forgets the oldest events beyond its capacity', async () => {
    const handled = new HandledEvents(2);
    const runs: string[] = [];
    const handle = (key: string) =>
      handled.once(key, async () => {
        runs.push(key);
      });
    await handle('e1');
    await handle('e2');
    await handle('e3');
    await handle('e3');
    await handle('e2');
    await handle('e1');
    expect(runs).toEqual(['e1', 'e2', 'e3', 'e1']);
  });
});

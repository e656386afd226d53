import { afterEach, describe, expect, it, vi } from 'vitest';
import { Turns } from '../../src/store/tables';

afterEach(() => {
  vi.useRealTimers();
});

/** A promise and the function that resolves it. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((res) => {
    resolve = res;
  });
  return { promise, resolve };
}

describe('Turns', () => {
  it('runs the pieces of one key one after another, in order, and those of other keys beside them', async () => {
    const turns = new Turns(60_000);
    const log: string[] = [];
    const first = deferred<string>();
    const a1 = turns.run('a', async () => {
      log.push('a1 start');
      return first.promise;
    });
    const a2 = turns.run('a', async () => {
      log.push('a2 start');
      return 'a2';
    });
    const b1 = turns.run('b', async () => {
      log.push('b1 start');
      return 'b1';
    });
    expect(await b1).toBe('b1');
    expect(log).toEqual(['a1 start', 'b1 start']);
    first.resolve('a1');
    expect(await a1).toBe('a1');
    expect(await a2).toBe('a2');
    expect(log).toEqual(['a1 start', 'b1 start', 'a2 start']);
  });

  it('starts the next piece after one that failed, and hands each caller its own outcome', async () => {
    const turns = new Turns(60_000);
    const failing = turns.run('a', async () => {
      throw new Error('refused');
    });
    const next = turns.run('a', async () => 'ran');
    await expect(failing).rejects.toThrow('refused');
    expect(await next).toBe('ran');
  });

  it('waits at most maxWaitMs for a piece that never ends', async () => {
    vi.useFakeTimers();
    const turns = new Turns(30_000);
    void turns.run('a', () => new Promise<never>(() => {}));
    let ran = false;
    const next = turns.run('a', async () => {
      ran = true;
      return 'ran';
    });
    await vi.advanceTimersByTimeAsync(29_999);
    expect(ran).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await next).toBe('ran');
  });
});

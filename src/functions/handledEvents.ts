/**
 * The first line of the Event Grid handlers' idempotence (DESIGN.md, "Events": dedup by event id):
 * Event Grid delivers at least once, and its duplicates and retries mostly come back to the
 * process that handled the first copy.
 */

/**
 * The events handled to the end in this process, the most recent `capacity` of them. An event's
 * work runs once: a copy that arrives while it runs waits for its outcome, one that arrives after
 * it succeeded ends at once. A failure is forgotten, so the retry runs the work again.
 */
export class HandledEvents {
  readonly #done = new Set<string>();
  readonly #running = new Map<string, Promise<void>>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** Runs `work` for the event `key` unless it ran here already, or waits for it while it runs. */
  async once(key: string, work: () => Promise<void>): Promise<void> {
    if (this.#done.has(key)) return;
    const running = this.#running.get(key);
    if (running !== undefined) return running;
    const run = work();
    this.#running.set(key, run);
    try {
      await run;
    } finally {
      this.#running.delete(key);
    }
    this.#done.add(key);
    if (this.#done.size > this.#capacity) this.#done.delete(this.#done.values().next().value!);
  }
}

/**
 * Shares requests between concurrent callers: what callers hand in while `maxInFlight` sends are
 * under way waits and goes out together in the next send, up to `maxItems` items. An idle sender
 * sends at once, so batching costs a caller nothing unless it would have queued anyway.
 */
export class SharedBatches<T> {
  readonly #send: (items: T[]) => Promise<void>;
  readonly #maxItems: number;
  readonly #maxInFlight: number;
  readonly #waiting: { items: T[]; resolve: () => void; reject: (error: unknown) => void }[] = [];
  #inFlight = 0;

  constructor(send: (items: T[]) => Promise<void>, options: { maxItems: number; maxInFlight: number }) {
    this.#send = send;
    this.#maxItems = options.maxItems;
    this.#maxInFlight = options.maxInFlight;
  }

  /** Settles when the send that carried `items` did; its failure is every one of its callers' failure. */
  add(items: T[]): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#waiting.push({ items, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#inFlight < this.#maxInFlight && this.#waiting.length > 0) {
      // A caller's items stay together, even when they alone exceed `maxItems`.
      const taken = [this.#waiting.shift()!];
      let count = taken[0]!.items.length;
      while (this.#waiting.length > 0 && count + this.#waiting[0]!.items.length <= this.#maxItems) {
        const next = this.#waiting.shift()!;
        taken.push(next);
        count += next.items.length;
      }
      this.#inFlight++;
      this.#send(taken.flatMap((caller) => caller.items))
        .then(
          () => {
            for (const caller of taken) caller.resolve();
          },
          (error: unknown) => {
            for (const caller of taken) caller.reject(error);
          },
        )
        .finally(() => {
          this.#inFlight--;
          this.#pump();
        });
    }
  }
}

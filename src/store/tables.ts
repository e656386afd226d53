/**
 * The few Table storage operations the journal needs, so its logic is written once and runs on
 * Azure Table storage (and Azurite) or in memory with the same semantics: point reads, row-key range
 * queries within a partition or a range of partitions with paging, and atomic batches within a
 * partition with ETag checks.
 */

/** Property values the journal stores: strings, numbers (Int32/Double), booleans. */
export type Value = string | number | boolean;

export interface Row {
  partitionKey: string;
  rowKey: string;
  /** Set on rows read from the store. */
  etag?: string;
  [property: string]: Value | undefined;
}

export interface RowQuery {
  /** The partition; with `partitionKeyBefore`, the inclusive lower bound of a range of them. */
  partitionKey: string;
  /** Exclusive upper bound of PartitionKey: rows come in PartitionKey, then RowKey order. */
  partitionKeyBefore?: string;
  /** Inclusive lower bound of RowKey. */
  rowKeyFrom?: string;
  /** Exclusive upper bound of RowKey. */
  rowKeyBefore?: string;
  /** Server-side equality filter on one property. */
  where?: { property: string; equals: Value };
  /** At most 1000. A page may hold fewer rows and still have a continuation token (Azure does so at partition boundaries). */
  pageSize?: number;
  continuationToken?: string;
}

export type RowOperation =
  /** Fails with `RowExistsError` when the row exists. */
  | { kind: 'create'; row: Row }
  /** Replaces the row; with `etag`, only if unchanged (else `ConcurrencyError`), and it must exist. */
  | { kind: 'replace'; row: Row; etag?: string }
  /** Merges properties into an existing row (`ConcurrencyError` if the etag differs). */
  | { kind: 'merge'; row: Row; etag?: string }
  /** Creates or replaces. */
  | { kind: 'upsert'; row: Row }
  /** Merges properties into the row, creating it when missing. */
  | { kind: 'mergeOrCreate'; row: Row }
  | { kind: 'delete'; partitionKey: string; rowKey: string; etag?: string };

export interface TableStore {
  /** Creates the tables if missing. */
  ensureTables(tables: string[]): Promise<void>;
  get(table: string, partitionKey: string, rowKey: string): Promise<Row | undefined>;
  query(table: string, query: RowQuery): Promise<{ rows: Row[]; continuationToken?: string }>;
  /**
   * Applies all operations or none (one partition, at most 100 operations). Returns the new ETag of
   * each written row by row key.
   */
  transact(table: string, operations: RowOperation[]): Promise<Map<string, string>>;
}

/** A `create` found the row already there. */
export class RowExistsError extends Error {
  override name = 'RowExistsError';
}

/** A `replace`, `merge` or `delete` found no row. */
export class RowMissingError extends Error {
  override name = 'RowMissingError';
}

/** Largest batch Table storage accepts. */
export const MAX_BATCH = 100;

/** `items` in consecutive slices of at most `size` (e.g. batches of `MAX_BATCH` operations). */
export function chunks<T>(items: T[], size: number): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += size) result.push(items.slice(i, i + size));
  return result;
}

/** Requests kept in flight at once when writing or reading many rows. */
const PARALLELISM = 8;

/** `work` for every item, `PARALLELISM` at a time; the results in the items' order. */
export async function inParallel<T, R>(items: T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLELISM, items.length) }, worker));
  return results;
}

/**
 * Rows as last read or written here, with their ETags, least recently used first: a
 * read-modify-write may start from one. Every such write checks the ETag, so a row another writer
 * changed meanwhile costs one retry with a fresh read (the caller forgets the row), never a lost
 * update.
 */
export class RowCache {
  /** null: the row was last seen missing. */
  readonly #rows = new Map<string, Row | null>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** The row as last seen, null when it was last seen missing, undefined when not known here. */
  get(partitionKey: string, rowKey: string): Row | null | undefined {
    return this.#rows.get(`${partitionKey} ${rowKey}`);
  }

  remember(row: Row): Row {
    this.#keep(`${row.partitionKey} ${row.rowKey}`, row);
    return row;
  }

  rememberMissing(partitionKey: string, rowKey: string): void {
    this.#keep(`${partitionKey} ${rowKey}`, null);
  }

  forget(partitionKey: string, ...rowKeys: string[]): void {
    for (const rowKey of rowKeys) this.#rows.delete(`${partitionKey} ${rowKey}`);
  }

  #keep(id: string, row: Row | null): void {
    this.#rows.delete(id);
    this.#rows.set(id, row);
    if (this.#rows.size > this.#capacity) this.#rows.delete(this.#rows.keys().next().value!);
  }
}

/**
 * Work run one piece at a time per key, in the order it was handed in: writers in this process of
 * the same row take turns, where running together would fail all but one ETag check. Taking turns
 * only saves those retries (the ETag checks keep the writes right), so a piece waits for the one
 * before it at most `maxWaitMs`: a request that hangs holds up only its own caller for longer.
 */
export class Turns {
  /** The end of the last piece handed in per key, while one is pending. */
  readonly #last = new Map<string, Promise<void>>();
  readonly #maxWaitMs: number;

  constructor(maxWaitMs: number) {
    this.#maxWaitMs = maxWaitMs;
  }

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = this.#last.get(key);
    const result = (before === undefined ? Promise.resolve() : this.#atMost(before)).then(work);
    const ended = result.then(
      () => undefined,
      () => undefined,
    );
    this.#last.set(key, ended);
    void ended.then(() => {
      if (this.#last.get(key) === ended) this.#last.delete(key);
    });
    return result;
  }

  #atMost(before: Promise<void>): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, this.#maxWaitMs);
      void before.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/**
 * `TableStore` in memory, with Table storage's semantics (ordinal key order, ETags, atomic batches,
 * paging with continuation tokens, short pages at partition boundaries), so the journal and
 * activities can be unit-tested without Azurite.
 */
import { ConcurrencyError } from '../domain/errors';
import {
  type Row,
  RowExistsError,
  RowMissingError,
  type RowOperation,
  type RowQuery,
  type TableStore,
} from './tables';

export class MemoryTableStore implements TableStore {
  readonly #tables = new Map<string, Map<string, Map<string, Row>>>();
  #version = 0;

  async ensureTables(tables: string[]): Promise<void> {
    for (const table of tables) if (!this.#tables.has(table)) this.#tables.set(table, new Map());
  }

  #partition(table: string, partitionKey: string): Map<string, Row> {
    const rows = this.#tables.get(table);
    if (rows === undefined) throw new RowMissingError(`${table}: the table does not exist`);
    let partition = rows.get(partitionKey);
    if (partition === undefined) {
      partition = new Map();
      rows.set(partitionKey, partition);
    }
    return partition;
  }

  async get(table: string, partitionKey: string, rowKey: string): Promise<Row | undefined> {
    const row = this.#partition(table, partitionKey).get(rowKey);
    return row === undefined ? undefined : { ...row };
  }

  async query(table: string, query: RowQuery): Promise<{ rows: Row[]; continuationToken?: string }> {
    const pageSize = Math.min(query.pageSize ?? 1000, 1000);
    // The token names the first row not returned yet: its PartitionKey and RowKey.
    const [fromPk, fromRk] =
      query.continuationToken === undefined
        ? [query.partitionKey, '']
        : (JSON.parse(Buffer.from(query.continuationToken, 'base64url').toString()) as [string, string]);
    const token = (pk: string, rk: string) => Buffer.from(JSON.stringify([pk, rk])).toString('base64url');
    const partitionKeys =
      query.partitionKeyBefore === undefined
        ? [query.partitionKey]
        : [...(this.#tables.get(table)?.keys() ?? [])]
            .filter((pk) => ordinal(pk, fromPk) >= 0 && ordinal(pk, query.partitionKeyBefore!) < 0)
            .sort(ordinal);
    const pk = partitionKeys[0];
    if (pk === undefined) return { rows: [] };
    const partition = this.#partition(table, pk);
    const rows: Row[] = [];
    for (const key of [...partition.keys()].sort(ordinal)) {
      if (pk === fromPk && ordinal(key, fromRk) < 0) continue;
      if (query.rowKeyFrom !== undefined && ordinal(key, query.rowKeyFrom) < 0) continue;
      if (query.rowKeyBefore !== undefined && ordinal(key, query.rowKeyBefore) >= 0) break;
      const row = partition.get(key)!;
      if (query.where !== undefined && row[query.where.property] !== query.where.equals) continue;
      if (rows.length === pageSize) return { rows, continuationToken: token(pk, key) };
      rows.push({ ...row });
    }
    // Like Azure, a query over several partitions may end its page where it crosses to the next one.
    const next = partitionKeys[1];
    return next === undefined ? { rows } : { rows, continuationToken: token(next, '') };
  }

  async transact(table: string, operations: RowOperation[]): Promise<Map<string, string>> {
    // Check every operation before applying any, as a batch does.
    for (const op of operations) {
      const key = op.kind === 'delete' ? op.rowKey : op.row.rowKey;
      const pk = op.kind === 'delete' ? op.partitionKey : op.row.partitionKey;
      const current = this.#partition(table, pk).get(key);
      if (op.kind === 'create' && current !== undefined)
        throw new RowExistsError(`${table}: the row already exists`);
      if (op.kind === 'replace' || op.kind === 'merge' || op.kind === 'delete') {
        if (current === undefined) throw new RowMissingError(`${table}: the row does not exist`);
        if (op.etag !== undefined && op.etag !== current.etag) {
          throw new ConcurrencyError(`${table}: the row changed since it was read`);
        }
      }
    }
    const etags = new Map<string, string>();
    for (const op of operations) {
      if (op.kind === 'delete') {
        this.#partition(table, op.partitionKey).delete(op.rowKey);
        continue;
      }
      const partition = this.#partition(table, op.row.partitionKey);
      const base =
        op.kind === 'merge' || op.kind === 'mergeOrCreate' ? partition.get(op.row.rowKey) : undefined;
      const etag = `W/"${++this.#version}"`;
      const row: Row = { ...base, ...withoutUndefined(op.row), etag };
      partition.set(op.row.rowKey, row);
      etags.set(op.row.rowKey, etag);
    }
    return etags;
  }
}

/** Table storage compares keys by UTF-16 code units, as `<` does on strings. */
function ordinal(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function withoutUndefined(row: Row): Row {
  const copy: Row = { partitionKey: row.partitionKey, rowKey: row.rowKey };
  for (const [key, value] of Object.entries(row)) {
    if (value !== undefined && key !== 'etag') copy[key] = value;
  }
  return copy;
}

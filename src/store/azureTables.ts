/** `TableStore` over @azure/data-tables: Azure Table storage, or Azurite with its connection string. */

import type { TokenCredential } from '@azure/core-auth';
import { odata, TableClient, type TableEntity, type TransactionAction } from '@azure/data-tables';
import { DefaultAzureCredential } from '@azure/identity';
import type { JournalStorageSettings } from '../config';
import { ConcurrencyError } from '../domain/errors';
import {
  type Row,
  RowExistsError,
  RowMissingError,
  type RowOperation,
  type RowQuery,
  type TableStore,
} from './tables';

export type TableConnection =
  | { connectionString: string }
  /** Identity-based: the table service URL and a credential with Storage Table Data Contributor. */
  | { endpoint: string; credential: TokenCredential };

interface RestErrorLike {
  name: string;
  statusCode?: number;
  code?: string;
  message: string;
}

function isRestError(error: unknown): error is RestErrorLike {
  return error instanceof Error && error.name === 'RestError';
}

/** Maps a storage answer to the store's errors; anything else passes through. */
function mapError(error: unknown, table: string): unknown {
  if (!isRestError(error)) return error;
  switch (error.statusCode) {
    case 409:
      if (error.code === 'TableAlreadyExists') return error;
      return new RowExistsError(`${table}: the row already exists`, { cause: error });
    case 412:
      return new ConcurrencyError(`${table}: the row changed since it was read`, { cause: error });
    case 404:
      return new RowMissingError(`${table}: the row does not exist`, { cause: error });
    default:
      return error;
  }
}

function toRow(entity: Record<string, unknown>): Row {
  const row: Row = {
    partitionKey: String(entity.partitionKey),
    rowKey: String(entity.rowKey),
  };
  for (const [key, value] of Object.entries(entity)) {
    if (key === 'partitionKey' || key === 'rowKey' || key === 'timestamp' || key === 'odata.metadata')
      continue;
    if (key === 'etag') {
      row.etag = String(value);
    } else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      row[key] = value;
    }
  }
  return row;
}

function toEntity(row: Row): TableEntity<Record<string, unknown>> {
  const entity: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    if (key !== 'etag' && value !== undefined) entity[key] = value;
  }
  return entity as TableEntity<Record<string, unknown>>;
}

function toAction(op: RowOperation): TransactionAction {
  switch (op.kind) {
    case 'create':
      return ['create', toEntity(op.row)];
    case 'replace':
      return ['update', toEntity(op.row), 'Replace', { etag: op.etag ?? '*' }];
    case 'merge':
      return ['update', toEntity(op.row), 'Merge', { etag: op.etag ?? '*' }];
    case 'upsert':
      return ['upsert', toEntity(op.row), 'Replace'];
    case 'mergeOrCreate':
      return ['upsert', toEntity(op.row), 'Merge'];
    case 'delete':
      return ['delete', { partitionKey: op.partitionKey, rowKey: op.rowKey }];
  }
}

export class AzureTableStore implements TableStore {
  readonly #connection: TableConnection;
  readonly #clients = new Map<string, TableClient>();

  constructor(connection: TableConnection) {
    this.#connection = connection;
  }

  #client(table: string): TableClient {
    let client = this.#clients.get(table);
    if (client === undefined) {
      client =
        'connectionString' in this.#connection
          ? TableClient.fromConnectionString(this.#connection.connectionString, table, {
              // Azurite serves http on loopback; the SDK refuses http with shared keys unless allowed.
              allowInsecureConnection: this.#connection.connectionString.includes('http://'),
            })
          : new TableClient(this.#connection.endpoint, table, this.#connection.credential);
      this.#clients.set(table, client);
    }
    return client;
  }

  async ensureTables(tables: string[]): Promise<void> {
    // createTable ignores "already exists".
    await Promise.all(tables.map((table) => this.#client(table).createTable()));
  }

  async get(table: string, partitionKey: string, rowKey: string): Promise<Row | undefined> {
    try {
      const entity = await this.#client(table).getEntity(partitionKey, rowKey);
      return toRow(entity as Record<string, unknown>);
    } catch (error) {
      if (isRestError(error) && error.statusCode === 404) return undefined;
      throw error;
    }
  }

  async query(table: string, query: RowQuery): Promise<{ rows: Row[]; continuationToken?: string }> {
    const clauses =
      query.partitionKeyBefore === undefined
        ? [odata`PartitionKey eq ${query.partitionKey}`]
        : [odata`PartitionKey ge ${query.partitionKey}`, odata`PartitionKey lt ${query.partitionKeyBefore}`];
    if (query.rowKeyFrom !== undefined) clauses.push(odata`RowKey ge ${query.rowKeyFrom}`);
    if (query.rowKeyBefore !== undefined) clauses.push(odata`RowKey lt ${query.rowKeyBefore}`);
    if (query.where !== undefined) {
      // Property names are ours (identifiers); string values are quoted with quotes doubled (OData).
      const value = query.where.equals;
      clauses.push(
        `${query.where.property} eq ${typeof value === 'string' ? `'${value.replaceAll("'", "''")}'` : String(value)}`,
      );
    }
    const pages = this.#client(table)
      .listEntities({ queryOptions: { filter: clauses.join(' and ') } })
      .byPage({
        maxPageSize: Math.min(query.pageSize ?? 1000, 1000),
        ...(query.continuationToken === undefined ? {} : { continuationToken: query.continuationToken }),
      });
    const first = await pages.next();
    if (first.done) return { rows: [] };
    const page = first.value;
    const rows = page.map((entity) => toRow(entity as Record<string, unknown>));
    return page.continuationToken === undefined
      ? { rows }
      : { rows, continuationToken: page.continuationToken };
  }

  async transact(table: string, operations: RowOperation[]): Promise<Map<string, string>> {
    const client = this.#client(table);
    const etags = new Map<string, string>();
    try {
      if (operations.length === 1) {
        const [op] = operations as [RowOperation];
        const etag = await this.#single(client, op);
        if (etag !== undefined && op.kind !== 'delete') etags.set(op.row.rowKey, etag);
        return etags;
      }
      const actions = operations.map(toAction);
      const response = await client.submitTransaction(actions);
      // Sub-responses come in the order of the operations; only inserts name their row.
      response.subResponses.forEach((sub, i) => {
        const op = operations[i];
        if (op !== undefined && op.kind !== 'delete' && sub.etag !== undefined)
          etags.set(op.row.rowKey, sub.etag);
      });
      return etags;
    } catch (error) {
      throw mapError(error, table);
    }
  }

  async #single(client: TableClient, op: RowOperation): Promise<string | undefined> {
    switch (op.kind) {
      case 'create':
        return (await client.createEntity(toEntity(op.row))).etag;
      case 'replace':
        return (await client.updateEntity(toEntity(op.row), 'Replace', { etag: op.etag ?? '*' })).etag;
      case 'merge':
        return (await client.updateEntity(toEntity(op.row), 'Merge', { etag: op.etag ?? '*' })).etag;
      case 'upsert':
        return (await client.upsertEntity(toEntity(op.row), 'Replace')).etag;
      case 'mergeOrCreate':
        return (await client.upsertEntity(toEntity(op.row), 'Merge')).etag;
      case 'delete':
        await client.deleteEntity(op.partitionKey, op.rowKey, { etag: op.etag ?? '*' });
        return undefined;
    }
  }
}

/**
 * The table service the settings name: a connection string (Azurite or an account key) uses no
 * credential; an endpoint signs in with `credential`, else the identity in `clientId` (or the
 * default chain).
 */
export function tableStoreFor(
  settings: JournalStorageSettings,
  credential?: TokenCredential,
): AzureTableStore {
  if (settings.connectionString !== undefined) {
    return new AzureTableStore({ connectionString: settings.connectionString });
  }
  return new AzureTableStore({
    endpoint: settings.tableEndpoint ?? '',
    credential:
      credential ??
      new DefaultAzureCredential(
        settings.clientId === undefined ? {} : { managedIdentityClientId: settings.clientId },
      ),
  });
}

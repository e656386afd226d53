/**
 * Azure Storage store, shaped like the Durable Task Azure Storage provider: `<Hub>History`
 * (PartitionKey = instance id; one row per committed batch of events, RowKey
 * `<executionId>|<first event index>`, and a `sentinel` row holding the instance's state whose
 * ETag guards every commit), `<Hub>Instances` (the status read model), `<hub>-control-NN` and
 * `<hub>-workitems` queues, and `<hub>-largemessages` blobs for payloads queues cannot carry.
 * Works against Azurite and a real account alike.
 */
import { randomUUID } from 'node:crypto';
import { TableClient, type TransactionAction } from '@azure/data-tables';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { type QueueClient, QueueServiceClient } from '@azure/storage-queue';
import type { ControlMessage, HistoryEvent, WorkItem } from './history';
import {
  ConflictError,
  type DurableQueue,
  type DurableStore,
  type InstanceRecord,
  type Received,
  type Snapshot,
  type StatusQuery,
} from './store';
import { type TableEntity, type TableOperation, TableRest, TableRestError } from './table-rest';

/** Characters per string property (64 KiB of UTF-16). */
const CHUNK_CHARS = 30_000;
/** Characters of event JSON per history row (entities are limited to 1 MiB). */
const ROW_CHARS = 400_000;
/** Characters per entity group transaction (4 MiB limit). */
const TRANSACTION_CHARS = 2_000_000;
const TRANSACTION_ROWS = 99;
/** Queue messages are limited to 64 KiB; larger bodies go to a blob. */
const MAX_MESSAGE_CHARS = 45_000;
const SEND_CONCURRENCY = 64;
const SENTINEL = 'sentinel';

function pack(prefix: string, text: string): Record<string, string | number> {
  const props: Record<string, string | number> = { [`${prefix}N`]: Math.ceil(text.length / CHUNK_CHARS) };
  for (let i = 0; i * CHUNK_CHARS < text.length; i++) {
    props[`${prefix}${i}`] = text.slice(i * CHUNK_CHARS, (i + 1) * CHUNK_CHARS);
  }
  return props;
}

function unpack(prefix: string, entity: Record<string, unknown>): string {
  const count = Number(entity[`${prefix}N`] ?? 0);
  let text = '';
  for (let i = 0; i < count; i++) text += String(entity[`${prefix}${i}`] ?? '');
  return text;
}

function pad(n: number): string {
  return String(n).padStart(10, '0');
}

function odataString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

function isStatus(error: unknown, ...codes: number[]): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    codes.includes((error as { statusCode?: number }).statusCode ?? 0)
  );
}

async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(workers);
}

function statusEntity(record: InstanceRecord): TableEntity {
  const view: InstanceRecord = { ...record, outbox: { control: [], work: [] } };
  return {
    partitionKey: record.instanceId,
    rowKey: '',
    Name: record.name,
    RuntimeStatus: record.status,
    CreatedTime: new Date(record.createdTime),
    LastUpdatedTime: new Date(record.lastUpdatedTime),
    IsEntity: record.instanceId.startsWith('@'),
    ...pack('R', JSON.stringify(view)),
  };
}

interface Handle {
  messageId: string;
  popReceipt: string;
  blob?: string;
}

class AzureQueue<T> implements DurableQueue<T> {
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly client: QueueClient,
    private readonly blobs: ContainerClient,
  ) {}

  async send(items: T[]): Promise<void> {
    await inParallel(items, SEND_CONCURRENCY, async (body) => {
      await this.sendOne(body, 0);
    });
    this.notify();
  }

  async sendLeased(items: T[], leaseMs: number): Promise<Received<T>[]> {
    const leaseS = Math.max(1, Math.ceil(leaseMs / 1000));
    const received: Received<T>[] = new Array(items.length);
    await inParallel(
      items.map((body, i) => ({ body, i })),
      SEND_CONCURRENCY,
      async ({ body, i }) => {
        received[i] = { body, dequeueCount: 1, handle: await this.sendOne(body, leaseS) };
      },
    );
    return received;
  }

  private async sendOne(body: T, visibilityS: number): Promise<Handle> {
    let text = JSON.stringify(body);
    let blob: string | undefined;
    if (text.length > MAX_MESSAGE_CHARS) {
      blob = `${randomUUID()}.json`;
      await this.blobs.getBlockBlobClient(blob).upload(text, Buffer.byteLength(text));
      text = JSON.stringify({ $blob: blob });
    }
    const sent = await this.client.sendMessage(
      text,
      visibilityS > 0 ? { visibilityTimeout: visibilityS } : {},
    );
    return { messageId: sent.messageId, popReceipt: sent.popReceipt, ...(blob ? { blob } : {}) };
  }

  async receive(max: number, visibilityMs: number): Promise<Received<T>[]> {
    const response = await this.client.receiveMessages({
      numberOfMessages: Math.max(1, Math.min(32, max)),
      visibilityTimeout: Math.max(1, Math.ceil(visibilityMs / 1000)),
    });
    return Promise.all(
      response.receivedMessageItems.map(async (item) => {
        let body = JSON.parse(item.messageText) as T | { $blob: string };
        const handle: Handle = { messageId: item.messageId, popReceipt: item.popReceipt };
        if (typeof body === 'object' && body !== null && '$blob' in body) {
          handle.blob = body.$blob;
          body = JSON.parse(
            (await this.blobs.getBlockBlobClient(body.$blob).downloadToBuffer()).toString('utf8'),
          ) as T;
        }
        return { body: body as T, dequeueCount: item.dequeueCount, handle };
      }),
    );
  }

  async delete(message: Received<T>): Promise<void> {
    const handle = message.handle as Handle;
    try {
      await this.client.deleteMessage(handle.messageId, handle.popReceipt);
    } catch (error) {
      // 404: already deleted, or the lease ran out and another receive owns it now.
      if (!isStatus(error, 404)) throw error;
    }
    if (handle.blob) await this.blobs.getBlockBlobClient(handle.blob).deleteIfExists();
  }

  async extend(message: Received<T>, visibilityMs: number): Promise<void> {
    const handle = message.handle as Handle;
    const response = await this.client.updateMessage(
      handle.messageId,
      handle.popReceipt,
      undefined,
      Math.ceil(visibilityMs / 1000),
    );
    if (response.popReceipt) handle.popReceipt = response.popReceipt;
  }

  wait(ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

export interface AzureStoreOptions {
  connectionString: string;
  hubName: string;
  partitionCount: number;
}

export class AzureStore implements DurableStore {
  readonly controlQueues: AzureQueue<ControlMessage>[];
  readonly workItems: AzureQueue<WorkItem>;
  private readonly history: TableClient;
  private readonly instances: TableClient;
  /** The requests of every episode, without the SDK's cost (table-rest.ts). */
  private readonly tables: TableRest;
  private readonly historyTable: string;
  private readonly instancesTable: string;
  private readonly blobs: ContainerClient;

  constructor(options: AzureStoreOptions) {
    const tableOptions = {
      allowInsecureConnection: /DefaultEndpointsProtocol=http;/i.test(options.connectionString),
    };
    this.history = TableClient.fromConnectionString(
      options.connectionString,
      `${options.hubName}History`,
      tableOptions,
    );
    this.instances = TableClient.fromConnectionString(
      options.connectionString,
      `${options.hubName}Instances`,
      tableOptions,
    );
    this.tables = new TableRest(options.connectionString);
    this.historyTable = `${options.hubName}History`;
    this.instancesTable = `${options.hubName}Instances`;
    const lower = options.hubName.toLowerCase();
    this.blobs = BlobServiceClient.fromConnectionString(options.connectionString).getContainerClient(
      `${lower}-largemessages`,
    );
    const queues = QueueServiceClient.fromConnectionString(options.connectionString);
    this.controlQueues = Array.from(
      { length: options.partitionCount },
      (_, i) =>
        new AzureQueue<ControlMessage>(
          queues.getQueueClient(`${lower}-control-${String(i).padStart(2, '0')}`),
          this.blobs,
        ),
    );
    this.workItems = new AzureQueue<WorkItem>(queues.getQueueClient(`${lower}-workitems`), this.blobs);
  }

  async init(): Promise<void> {
    await Promise.all([
      this.history.createTable(),
      this.instances.createTable(),
      this.blobs.createIfNotExists(),
      ...this.controlQueues.map((q) => q.client.createIfNotExists()),
      this.workItems.client.createIfNotExists(),
    ]);
  }

  async load(instanceId: string): Promise<Snapshot | undefined> {
    const sentinel = await this.tables.get(this.historyTable, instanceId, SENTINEL);
    if (sentinel === undefined) return undefined;
    const record = JSON.parse(unpack('R', sentinel.entity)) as InstanceRecord;
    const prefix = `${record.executionId}|`;
    const rows: { start: number; events: HistoryEvent[] }[] = [];
    const pages = this.history.listEntities<Record<string, unknown>>({
      queryOptions: {
        filter: `PartitionKey eq ${odataString(instanceId)} and RowKey ge ${odataString(prefix)} and RowKey lt ${odataString(`${record.executionId}}`)}`,
      },
    });
    for await (const row of pages) {
      rows.push({
        start: Number(row.rowKey!.slice(prefix.length)),
        events: JSON.parse(unpack('E', row)) as HistoryEvent[],
      });
    }
    rows.sort((a, b) => a.start - b.start);
    // Rows left behind by a commit that never got its sentinel written are skipped.
    const history: HistoryEvent[] = [];
    for (const row of rows) {
      if (history.length >= record.historyCount) break;
      if (row.start !== history.length) continue;
      history.push(...row.events);
    }
    history.length = Math.min(history.length, record.historyCount);
    return { record, history, etag: sentinel.etag };
  }

  async commit(record: InstanceRecord, appended: HistoryEvent[], etag: string | undefined): Promise<string> {
    const base = record.historyCount - appended.length;
    const rows: TableEntity[] = [];
    let start = 0;
    while (start < appended.length) {
      let end = start;
      let chars = 0;
      const parts: string[] = [];
      while (end < appended.length && (end === start || chars < ROW_CHARS)) {
        const text = JSON.stringify(appended[end]);
        chars += text.length + 1;
        parts.push(text);
        end++;
      }
      rows.push({
        partitionKey: record.instanceId,
        rowKey: `${record.executionId}|${pad(base + start)}`,
        ...pack('E', `[${parts.join(',')}]`),
      });
      start = end;
    }
    const sentinel: TableEntity = {
      partitionKey: record.instanceId,
      rowKey: SENTINEL,
      ExecutionId: record.executionId,
      HistoryCount: record.historyCount,
      ...pack('R', JSON.stringify(record)),
    };
    const sentinelAction: TableOperation = etag
      ? { kind: 'replace', entity: sentinel, etag }
      : { kind: 'insert', entity: sentinel };
    const batches: TableOperation[][] = [[]];
    let batchChars = 0;
    for (const row of rows) {
      const size = Number(row.EN ?? 0) * CHUNK_CHARS;
      if (batches.at(-1)!.length >= TRANSACTION_ROWS || batchChars + size > TRANSACTION_CHARS) {
        batches.push([]);
        batchChars = 0;
      }
      batches.at(-1)!.push({ kind: 'upsert', entity: row });
      batchChars += size;
    }
    for (const batch of batches.slice(0, -1)) await this.tables.transact(this.historyTable, batch);
    const last = batches.at(-1)!;
    last.push(sentinelAction);
    try {
      // The sentinel's write is the last operation.
      return (await this.tables.transact(this.historyTable, last)).at(-1)!;
    } catch (error) {
      if (error instanceof TableRestError && (error.statusCode === 409 || error.statusCode === 412)) {
        throw new ConflictError(record.instanceId);
      }
      throw error;
    }
  }

  async readStatus(instanceId: string): Promise<InstanceRecord | undefined> {
    const row = await this.tables.get(this.instancesTable, instanceId, '');
    return row === undefined ? undefined : (JSON.parse(unpack('R', row.entity)) as InstanceRecord);
  }

  async writeStatus(record: InstanceRecord): Promise<void> {
    await this.tables.upsert(this.instancesTable, statusEntity(record));
  }

  async createStatus(record: InstanceRecord): Promise<boolean> {
    return this.tables.insert(this.instancesTable, statusEntity(record));
  }

  async queryStatus(query: StatusQuery): Promise<{ records: InstanceRecord[]; continuation?: string }> {
    const filters: string[] = [];
    if (!query.entities) filters.push('IsEntity eq false');
    if (query.createdFrom !== undefined)
      filters.push(`CreatedTime ge datetime'${new Date(query.createdFrom).toISOString()}'`);
    if (query.createdTo !== undefined)
      filters.push(`CreatedTime le datetime'${new Date(query.createdTo).toISOString()}'`);
    if (query.statuses?.length) {
      filters.push(`(${query.statuses.map((s) => `RuntimeStatus eq ${odataString(s)}`).join(' or ')})`);
    }
    const pages = this.instances
      .listEntities<Record<string, unknown>>({ queryOptions: { filter: filters.join(' and ') } })
      .byPage({
        maxPageSize: query.top ?? 100,
        ...(query.continuation ? { continuationToken: query.continuation } : {}),
      });
    const page = await pages.next();
    if (page.done) return { records: [] };
    const records = page.value.map((entity) => JSON.parse(unpack('R', entity)) as InstanceRecord);
    const continuation = page.value.continuationToken;
    return { records, ...(continuation ? { continuation } : {}) };
  }

  async purge(instanceId: string): Promise<boolean> {
    const keys: string[] = [];
    for await (const row of this.history.listEntities({
      queryOptions: { filter: `PartitionKey eq ${odataString(instanceId)}`, select: ['RowKey'] },
    })) {
      keys.push(row.rowKey!);
    }
    for (let i = 0; i < keys.length; i += 100) {
      await this.history.submitTransaction(
        keys
          .slice(i, i + 100)
          .map((rowKey) => ['delete', { partitionKey: instanceId, rowKey }] as TransactionAction),
      );
    }
    let deleted = keys.length > 0;
    try {
      await this.instances.deleteEntity(instanceId, '');
      deleted = true;
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
    }
    return deleted;
  }
}

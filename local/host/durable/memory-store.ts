/** In-memory store: same contract as the Azure one, for fast tests and benchmarks. */
import type { ControlMessage, HistoryEvent, WorkItem } from './history';
import {
  ConflictError,
  type DurableQueue,
  type DurableStore,
  type InstanceRecord,
  matchesQuery,
  type Received,
  type Snapshot,
  type StatusQuery,
} from './store';

interface Held<T> {
  body: T;
  dequeueCount: number;
}

class MemoryQueue<T> implements DurableQueue<T> {
  private ready: Held<T>[] = [];
  private waiters = new Set<() => void>();

  async send(items: T[]): Promise<void> {
    for (const body of items) this.ready.push({ body, dequeueCount: 0 });
    this.notify();
  }

  async sendLeased(items: T[]): Promise<Received<T>[]> {
    return items.map((body) => ({ body, dequeueCount: 1, handle: undefined }));
  }

  async receive(max: number): Promise<Received<T>[]> {
    const taken = this.ready.splice(0, max);
    return taken.map((held) => {
      held.dequeueCount++;
      return { body: held.body, dequeueCount: held.dequeueCount, handle: held };
    });
  }

  async delete(): Promise<void> {}

  async extend(): Promise<void> {}

  wait(ms: number, signal: AbortSignal): Promise<void> {
    if (this.ready.length > 0 || signal.aborted) return Promise.resolve();
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

interface Stored {
  record: InstanceRecord;
  history: HistoryEvent[];
  etag: number;
}

export class MemoryStore implements DurableStore {
  readonly controlQueues: MemoryQueue<ControlMessage>[];
  readonly workItems = new MemoryQueue<WorkItem>();
  private readonly states = new Map<string, Stored>();
  private readonly statuses = new Map<string, InstanceRecord>();

  constructor(partitionCount: number) {
    this.controlQueues = Array.from({ length: partitionCount }, () => new MemoryQueue<ControlMessage>());
  }

  async init(): Promise<void> {}

  async load(instanceId: string): Promise<Snapshot | undefined> {
    const stored = this.states.get(instanceId);
    if (!stored) return undefined;
    return {
      record: structuredClone(stored.record),
      history: stored.history.slice(),
      etag: String(stored.etag),
    };
  }

  async commit(record: InstanceRecord, appended: HistoryEvent[], etag: string | undefined): Promise<string> {
    const stored = this.states.get(record.instanceId);
    if ((stored ? String(stored.etag) : undefined) !== etag) throw new ConflictError(record.instanceId);
    const base = record.historyCount - appended.length;
    const history = base === 0 ? [] : stored!.history.slice(0, base);
    history.push(...appended);
    const next = { record: structuredClone(record), history, etag: (stored?.etag ?? 0) + 1 };
    this.states.set(record.instanceId, next);
    return String(next.etag);
  }

  async readStatus(instanceId: string): Promise<InstanceRecord | undefined> {
    const record = this.statuses.get(instanceId);
    return record && structuredClone(record);
  }

  async writeStatus(record: InstanceRecord): Promise<void> {
    this.statuses.set(record.instanceId, structuredClone({ ...record, outbox: { control: [], work: [] } }));
  }

  async createStatus(record: InstanceRecord): Promise<boolean> {
    if (this.statuses.has(record.instanceId)) return false;
    await this.writeStatus(record);
    return true;
  }

  async queryStatus(query: StatusQuery): Promise<{ records: InstanceRecord[]; continuation?: string }> {
    const all = [...this.statuses.values()]
      .filter((record) => matchesQuery(record, query))
      .sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1));
    const start = query.continuation ? all.findIndex((r) => r.instanceId > query.continuation!) : 0;
    if (start < 0) return { records: [] };
    const top = query.top && query.top > 0 ? query.top : all.length;
    const page = all.slice(start, start + top);
    const more = start + top < all.length;
    return { records: page, ...(more ? { continuation: page.at(-1)!.instanceId } : {}) };
  }

  async purge(instanceId: string): Promise<boolean> {
    const had = this.states.delete(instanceId);
    return this.statuses.delete(instanceId) || had;
  }
}

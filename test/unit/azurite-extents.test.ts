/**
 * The fix `azurite-preload` loads into an in-memory Azurite (local/azurite-extents.ts), on
 * Azurite's own classes: the extents its queue collection deletes go in one pass, and the index of
 * the extents collection is rebuilt once instead of once per extent.
 */
import { describe, expect, it, vi } from 'vitest';
import {
  batchExtentDeletion,
  MEMORY_EXTENT_STORE_MODULE,
  type MemoryExtentStoreLike,
} from '../../local/azurite-extents';

interface Extent {
  id: string;
  offset: number;
  count: number;
}

interface Store {
  init(): Promise<void>;
  appendExtent(data: Buffer): Promise<Extent>;
  readExtent(extent: Extent): Promise<NodeJS.ReadableStream>;
  deleteExtents(ids: Iterable<string>): Promise<number>;
}

interface Collection {
  prepareFullDocIndex(): unknown;
}

interface Metadata {
  db: { getCollection(name: string): Collection };
  EXTENTS_COLLECTION: string;
  listExtents(id?: string, maxResults?: number): Promise<[{ id: string }[], unknown]>;
}

type StoreClass = new (
  category: string,
  chunks: unknown,
  metadata: Metadata,
  logger: unknown,
  makeError: unknown,
) => Store;

const { default: MemoryExtentStore, MemoryExtentChunkStore } = require(MEMORY_EXTENT_STORE_MODULE) as {
  default: StoreClass;
  MemoryExtentChunkStore: new (sizeLimit: number) => unknown;
};
const { default: LokiExtentMetadata } =
  require('azurite/dist/src/common/persistence/LokiExtentMetadataStore') as {
    default: new (path: string, inMemory: boolean) => Metadata & { init(): Promise<void> };
  };

const quiet = { info() {}, debug() {}, warn() {}, error() {}, verbose() {} };

/** An in-memory extent store as Azurite's queue service builds it, with `count` extents. */
async function storeWith(Store: StoreClass, count: number) {
  const metadata = new LokiExtentMetadata('extents', true);
  const store = new Store('queue', new MemoryExtentChunkStore(64 * 1024 * 1024), metadata, quiet, () => {});
  await store.init();
  const extents: Extent[] = [];
  for (let i = 0; i < count; i++) extents.push(await store.appendExtent(Buffer.from(`message ${i}`)));
  const collection = metadata.db.getCollection(metadata.EXTENTS_COLLECTION);
  const rebuilds = vi.spyOn(collection, 'prepareFullDocIndex');
  return { store, metadata, extents, rebuilds };
}

async function text(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString();
}

class BatchedStore extends MemoryExtentStore {}
batchExtentDeletion(BatchedStore.prototype as unknown as MemoryExtentStoreLike);

describe('batched extent deletion in Azurite', () => {
  it('deletes exactly the collected extents, rebuilding the index once', async () => {
    const { store, metadata, extents, rebuilds } = await storeWith(BatchedStore, 600);
    const collected = extents.filter((_, i) => i % 3 !== 0);

    expect(await store.deleteExtents(collected.map((e) => e.id))).toBe(collected.length);

    const [left] = await metadata.listExtents(undefined, 10_000);
    const kept = extents.filter((_, i) => i % 3 === 0);
    expect(left.map((e) => e.id).sort()).toEqual(kept.map((e) => e.id).sort());
    expect(await text(await store.readExtent(kept[7]!))).toBe('message 21');
    await expect(store.readExtent(collected[0]!)).rejects.toThrow(/does not exist/);
    expect(rebuilds.mock.calls.length).toBeLessThanOrEqual(1);
  });

  it('is needed: Azurite as shipped rebuilds the index for every extent it deletes', async () => {
    const { store, extents, rebuilds } = await storeWith(MemoryExtentStore, 300);

    await store.deleteExtents(extents.slice(0, 200).map((e) => e.id));

    // When this fails, Azurite has fixed it upstream and local/azurite-preload.ts can go.
    expect(rebuilds.mock.calls.length).toBeGreaterThanOrEqual(199);
  });

  it('deletes one by one through a metadata store that is not LokiJS', async () => {
    const { store, metadata, extents } = await storeWith(BatchedStore, 3);
    const deleted: string[] = [];
    const plain = Object.assign(Object.create(BatchedStore.prototype) as Store, store, {
      metadataStore: { deleteExtent: async (id: string) => void deleted.push(id) },
    });

    expect(await plain.deleteExtents(extents.map((e) => e.id))).toBe(3);

    expect(deleted).toEqual(extents.map((e) => e.id));
    await expect(store.readExtent(extents[0]!)).rejects.toThrow(/does not exist/);
    const [left] = await metadata.listExtents(undefined, 10);
    expect(left).toHaveLength(3);
  });

  it('refuses a class without the method it replaces', () => {
    expect(() => batchExtentDeletion({} as never)).toThrow(/check the Azurite version/);
  });
});

/**
 * A fix for Azurite's in-memory store, loaded into Azurite's process by `azurite-preload`.
 *
 * Azurite's queue service collects the extents of deleted messages every minute (its
 * `QueueGCManager`; the interval is not configurable), and the in-memory extent store removes
 * them one at a time. Each removal marks the binary index of the extents collection dirty, and
 * the next removal's lookup sorts the whole collection again. A 1,000-machine rehearsal sent
 * 4,086 queue messages in about 140 s (one extent each in memory); the collection about two
 * minutes in froze Azurite, and every table and queue request with it, for 8 s and more.
 *
 * `batchExtentDeletion` removes the collected extents in one pass: the same extents go, the index
 * is rebuilt once. Azurite's own code is untouched on disk: `azurite-preload` replaces the one
 * method of its class in the process that runs it, and stops Azurite from starting if that class
 * is not as expected.
 */

/** Azurite's in-memory chunk store (`MemoryExtentChunkStore`). */
interface ExtentChunks {
  delete(categoryName: string, id: string): boolean;
}

/** The LokiJS collection of extents in Azurite's `LokiExtentMetadata`. */
interface ExtentCollection {
  removeWhere(filter: (extent: { id: string }) => boolean): void;
}

/** Azurite's extent metadata store: LokiJS-backed (`db`), or another kind. */
interface ExtentMetadata {
  db?: { getCollection(name: string): ExtentCollection | null };
  EXTENTS_COLLECTION?: string;
  deleteExtent(id: string): Promise<unknown>;
}

/** What `deleteExtents` of Azurite's `MemoryExtentStore` works with. */
export interface MemoryExtentStoreLike {
  categoryName: string;
  chunks: ExtentChunks;
  metadataStore: ExtentMetadata;
  deleteExtents(extents: Iterable<string>): Promise<number>;
}

/** The module of Azurite's in-memory extent store, as `require` resolves it in Azurite's process. */
export const MEMORY_EXTENT_STORE_MODULE = 'azurite/dist/src/common/persistence/MemoryExtentStore';

/** Makes `deleteExtents` of Azurite's `MemoryExtentStore` remove all the given extents at once. */
export function batchExtentDeletion(prototype: MemoryExtentStoreLike): void {
  if (typeof prototype.deleteExtents !== 'function') {
    throw new Error(`${MEMORY_EXTENT_STORE_MODULE}: no deleteExtents to replace; check the Azurite version`);
  }
  prototype.deleteExtents = async function deleteExtents(this: MemoryExtentStoreLike, extents) {
    const ids = new Set(extents);
    for (const id of ids) this.chunks.delete(this.categoryName, id);
    const { db, EXTENTS_COLLECTION } = this.metadataStore;
    const collection = db && EXTENTS_COLLECTION ? db.getCollection(EXTENTS_COLLECTION) : null;
    if (collection) {
      collection.removeWhere((extent) => ids.has(extent.id));
    } else {
      for (const id of ids) await this.metadataStore.deleteExtent(id);
    }
    return ids.size;
  };
}

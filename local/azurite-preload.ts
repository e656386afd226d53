/**
 * Azurite's process loads this first (`node --require`) when `startAzurite` keeps its data in
 * memory: see `batchExtentDeletion`.
 */
import {
  batchExtentDeletion,
  MEMORY_EXTENT_STORE_MODULE,
  type MemoryExtentStoreLike,
} from './azurite-extents';

const { default: MemoryExtentStore } = require(MEMORY_EXTENT_STORE_MODULE) as {
  default: { prototype: MemoryExtentStoreLike };
};
batchExtentDeletion(MemoryExtentStore.prototype);

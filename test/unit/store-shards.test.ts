import { describe, expect, it } from 'vitest';
import { MAX_MACHINES_PER_SHARD, MIN_SHARDS, shardBoundaries, shardOf } from '../../src/store/journal';
import { MemoryTableStore } from '../../src/store/memoryTables';

function keys(count: number): string[] {
  // Not in key order, as plans list them.
  return Array.from({ length: count }, (_, i) => `vm-${String((i * 7919) % count).padStart(5, '0')}`);
}

function shardSizes(machineKeys: string[]): number[] {
  const boundaries = shardBoundaries(machineKeys);
  const sizes = new Array<number>(boundaries.length + 1).fill(0);
  for (const key of machineKeys) sizes[shardOf(boundaries, key)]! += 1;
  return sizes;
}

describe('wave shards', () => {
  it.each([
    [1, 1],
    [15, 15],
    [16, 16],
    [25, 16],
    [1_024, 16],
    [1_025, 17],
    [2_500, 40],
    [10_000, 157],
  ])('splits %i machines into %i shards of at most 64, none empty, sizes within one', (count, shards) => {
    const sizes = shardSizes(keys(count));
    expect(sizes).toHaveLength(shards);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(MAX_MACHINES_PER_SHARD);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(count);
    expect(shards).toBe(Math.min(count, Math.max(MIN_SHARDS, Math.ceil(count / MAX_MACHINES_PER_SHARD))));
  });

  it('gives each shard a run of consecutive keys, so shards in order list the wave in key order', () => {
    const machineKeys = keys(300);
    const boundaries = shardBoundaries(machineKeys);
    const shards = [...machineKeys].sort().map((key) => shardOf(boundaries, key));
    expect(shards).toEqual([...shards].sort((a, b) => a - b));
    expect(new Set(shards).size).toBe(boundaries.length + 1);
  });

  it('places a name outside the wave in some shard, where it is simply not found', () => {
    const boundaries = shardBoundaries(keys(100));
    expect(shardOf(boundaries, '')).toBe(0);
    expect(shardOf(boundaries, '~')).toBe(boundaries.length);
  });

  it('has one shard for an empty wave', () => {
    expect(shardBoundaries([])).toEqual([]);
  });
});

describe('in-memory table store: queries over a range of partitions', () => {
  async function store(): Promise<MemoryTableStore> {
    const tables = new MemoryTableStore();
    await tables.ensureTables(['t']);
    for (const pk of ['w|0', 'w|1', 'w|2', 'x|0']) {
      await tables.transact(
        't',
        ['a', 'b', 'c'].map((rk) => ({ kind: 'create', row: { partitionKey: pk, rowKey: rk, n: 1 } })),
      );
    }
    return tables;
  }

  it('returns rows in PartitionKey then RowKey order, ending pages where partitions change', async () => {
    const tables = await store();
    const seen: string[][] = [];
    let token: string | undefined;
    do {
      const page = await tables.query('t', {
        partitionKey: 'w|',
        partitionKeyBefore: 'w}',
        rowKeyFrom: 'b',
        pageSize: 5,
        ...(token === undefined ? {} : { continuationToken: token }),
      });
      seen.push(page.rows.map((row) => `${row.partitionKey} ${row.rowKey}`));
      token = page.continuationToken;
    } while (token !== undefined);
    expect(seen).toEqual([
      ['w|0 b', 'w|0 c'],
      ['w|1 b', 'w|1 c'],
      ['w|2 b', 'w|2 c'],
    ]);
  });

  it('ends a page at its size within a partition and resumes at the next row', async () => {
    const tables = await store();
    const first = await tables.query('t', { partitionKey: 'w|', partitionKeyBefore: 'w}', pageSize: 2 });
    expect(first.rows.map((row) => row.rowKey)).toEqual(['a', 'b']);
    const next = await tables.query('t', {
      partitionKey: 'w|',
      partitionKeyBefore: 'w}',
      pageSize: 2,
      continuationToken: first.continuationToken!,
    });
    expect(next.rows.map((row) => `${row.partitionKey} ${row.rowKey}`)).toEqual(['w|0 c']);
  });
});

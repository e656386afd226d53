import { beforeAll, describe, expect, it } from 'vitest';
import { TableJournal, tableNames } from '../../src/store/journal';
import { MemoryTableStore } from '../../src/store/memoryTables';
import type { RowOperation } from '../../src/store/tables';
import { journalContract } from './store-journal-contract';

const store = new MemoryTableStore();
const journal = new TableJournal(store, tableNames('factory'));
const another = new TableJournal(store, tableNames('factory'));
beforeAll(async () => {
  await journal.initialise();
});

journalContract(
  'in-memory journal',
  () => journal,
  () => another,
);

describe('in-memory journal: batches', () => {
  /** A journal over a store that keeps every batch it is asked for, written or refused. */
  async function countedJournal(prefix: string) {
    const batches: RowOperation[][] = [];
    const counting = new (class extends MemoryTableStore {
      override async transact(table: string, operations: RowOperation[]) {
        batches.push(operations);
        return super.transact(table, operations);
      }
    })();
    const counted = new TableJournal(counting, tableNames(prefix));
    await counted.initialise();
    return { counted, batches };
  }

  it("writes a machine's consecutive changes in one batch, and another machine's in its own", async () => {
    const { counted, batches } = await countedJournal('batches');
    const created = await counted.createWave({
      id: 'w-batches',
      name: 'batches',
      cutover: 'auto',
      at: '2026-11-21T10:00:00.000Z',
      machines: [{ name: 'a' }, { name: 'b' }],
    });
    if (created.kind !== 'created') throw new Error('wave not created');
    batches.length = 0;
    const change = (machineName: string, to: 'Validating' | 'Replicating', changeId: string) => ({
      waveId: 'w-batches',
      machineName,
      to,
      at: '2026-11-21T10:01:00.000Z',
      changeId,
    });
    await counted.recordStages([
      change('a', 'Validating', '1'),
      change('a', 'Replicating', '2'),
      change('b', 'Validating', '3'),
    ]);
    // A batch: the machine's row, its shard's counts, an audit row per change.
    expect(batches.map((ops) => ops.map((op) => op.kind))).toEqual([
      ['replace', 'merge', 'create', 'create'],
      ['replace', 'merge', 'create'],
    ]);
  });

  it('lets concurrent changes to machines of one shard take turns, a batch each and no retry', async () => {
    const { counted, batches } = await countedJournal('turns');
    // 128 machines make 16 shards of 8: the first 8 names share the first shard.
    const machines = Array.from({ length: 128 }, (_, i) => ({ name: `m${String(i).padStart(3, '0')}` }));
    const firstShard = machines.slice(0, 8);
    const created = await counted.createWave({
      id: 'w-turns',
      name: 'turns',
      cutover: 'auto',
      at: '2026-11-21T10:00:00.000Z',
      machines,
    });
    if (created.kind !== 'created') throw new Error('wave not created');
    batches.length = 0;
    await Promise.all(
      firstShard.map(({ name }) =>
        counted.recordStage({
          waveId: 'w-turns',
          machineName: name,
          to: 'Validating',
          at: '2026-11-21T10:01:00.000Z',
          changeId: `${name}:1`,
        }),
      ),
    );
    expect(batches).toHaveLength(firstShard.length);
    const partitions = new Set(batches.map((ops) => ops[0]!.kind === 'replace' && ops[0]!.row.partitionKey));
    expect(partitions.size).toBe(1);
    expect((await counted.countByStage('w-turns')).Validating).toBe(firstShard.length);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AzuriteInstance, startAzurite } from '../../local/azurite';
import { createJournal } from '../../src/store';
import { AzureTableStore } from '../../src/store/azureTables';
import { MAX_MACHINES_PER_SHARD } from '../../src/store/journal';
import type { Journal } from '../../src/store/types';
import { journalContract } from '../unit/store-journal-contract';

let azurite: AzuriteInstance;
let journal: Journal;
let another: Journal;

beforeAll(async () => {
  azurite = await startAzurite();
  journal = await createJournal({ connectionString: azurite.connectionString, tablePrefix: 'factory' });
  another = await createJournal({ connectionString: azurite.connectionString, tablePrefix: 'factory' });
});

afterAll(async () => {
  await azurite?.stop();
});

journalContract(
  'Table storage journal (Azurite)',
  () => journal,
  () => another,
);

describe('Table storage journal at scale (Azurite)', () => {
  const waveId = 'wave-big';
  const machines = Array.from({ length: 2_500 }, (_, i) => `big-${String(i).padStart(5, '0')}`);

  beforeAll(async () => {
    const result = await journal.createWave({
      id: waveId,
      name: 'big',
      cutover: 'auto',
      at: '2026-11-21T12:00:00.000Z',
      // Listed out of name order, as a plan may list them.
      machines: [...machines].reverse().map((name) => ({ name })),
    });
    expect(result.kind).toBe('created');
  });

  it('keeps a shard of at most 64 machines and its counts in each partition of its own', async () => {
    const store = new AzureTableStore({ connectionString: azurite.connectionString });
    const shards = Math.ceil(machines.length / MAX_MACHINES_PER_SHARD);
    const perShard: string[][] = [];
    for (let shard = 0; shard < shards; shard++) {
      const { rows } = await store.query('factoryMachines', {
        partitionKey: `${waveId}|${String(shard).padStart(4, '0')}`,
      });
      expect(rows.map((row) => row.rowKey).filter((rk) => !rk.startsWith('m|'))).toEqual(['c']);
      perShard.push(rows.filter((row) => row.rowKey.startsWith('m|')).map((row) => String(row.name)));
    }
    expect(perShard.every((names) => names.length > 0 && names.length <= MAX_MACHINES_PER_SHARD)).toBe(true);
    expect(perShard.flat()).toEqual(machines);
    const beyond = await store.query('factoryMachines', {
      partitionKey: `${waveId}|${String(shards).padStart(4, '0')}`,
    });
    expect(beyond.rows).toEqual([]);
  });

  it('pages the wave in full pages in name order and counts it from its counters', async () => {
    const counts = await journal.countByStage(waveId);
    expect(counts.Queued).toBe(2_500);
    const names: string[] = [];
    const sizes: number[] = [];
    let token: string | undefined;
    do {
      const page = await journal.listMachines(waveId, {
        pageSize: 1000,
        ...(token === undefined ? {} : { continuationToken: token }),
      });
      sizes.push(page.items.length);
      names.push(...page.items.map((m) => m.name));
      token = page.continuationToken;
    } while (token !== undefined);
    expect(sizes).toEqual([1000, 1000, 500]);
    expect(names).toEqual(machines);
  });

  it('keeps counts, audit and stage listings exact under concurrent changes across shards', async () => {
    // Every 25th machine: 100 machines spread over every shard, changed all at once, each twice.
    const moved = machines.filter((_, i) => i % 25 === 0);
    for (const to of ['Validating', 'Replicating'] as const) {
      await Promise.all(
        moved.map((machineName) =>
          journal.recordStage({
            waveId,
            machineName,
            to,
            at: to === 'Validating' ? '2026-11-21T12:01:00.000Z' : '2026-11-21T12:02:00.000Z',
            changeId: `${machineName}:${to}`,
          }),
        ),
      );
    }
    const counts = await journal.countByStage(waveId);
    expect(counts.Replicating).toBe(100);
    expect(counts.Validating).toBe(0);
    expect(counts.Queued).toBe(2_400);
    const listed = await journal.listMachines(waveId, { stage: 'Replicating', pageSize: 1000 });
    expect(listed.items.map((m) => m.name)).toEqual(moved);
    expect(listed.continuationToken).toBeUndefined();
    const timeline = await journal.listAudit(waveId, { machineName: moved[57]! });
    expect(timeline.items.map((e) => [e.machineName, e.from, e.to])).toEqual([
      [moved[57], 'Queued', 'Validating'],
      [moved[57], 'Validating', 'Replicating'],
    ]);
    let events = 0;
    let token: string | undefined;
    do {
      const page = await journal.listAudit(waveId, {
        pageSize: 1000,
        ...(token === undefined ? {} : { continuationToken: token }),
      });
      events += page.items.length;
      token = page.continuationToken;
    } while (token !== undefined);
    expect(events).toBe(200);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AzuriteInstance, startAzurite } from '../../local/azurite';
import { createJournal } from '../../src/store';
import type { Journal } from '../../src/store/types';
import { journalContract } from '../unit/store-journal-contract';

let azurite: AzuriteInstance;
let journal: Journal;

beforeAll(async () => {
  azurite = await startAzurite();
  journal = await createJournal({ connectionString: azurite.connectionString, tablePrefix: 'factory' });
});

afterAll(async () => {
  await azurite?.stop();
});

journalContract('Table storage journal (Azurite)', () => journal);

describe('Table storage journal at scale (Azurite)', () => {
  it('pages a 2,500-machine wave in full pages and counts it from its counters', async () => {
    const machines = Array.from({ length: 2_500 }, (_, i) => ({ name: `big-${String(i).padStart(5, '0')}` }));
    const result = await journal.createWave({
      id: 'wave-big',
      name: 'big',
      cutover: 'auto',
      at: '2026-11-21T12:00:00.000Z',
      machines,
    });
    expect(result.kind).toBe('created');
    const counts = await journal.countByStage('wave-big');
    expect(counts.Queued).toBe(2_500);
    let token: string | undefined;
    const sizes: number[] = [];
    do {
      const page = await journal.listMachines('wave-big', {
        pageSize: 1000,
        ...(token === undefined ? {} : { continuationToken: token }),
      });
      sizes.push(page.items.length);
      token = page.continuationToken;
    } while (token !== undefined);
    expect(sizes.slice(0, 2)).toEqual([1000, 1000]);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(2_500);
  });
});

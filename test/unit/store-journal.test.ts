import { beforeAll } from 'vitest';
import { createMemoryJournal } from '../../src/store';
import type { Journal } from '../../src/store/types';
import { journalContract } from './store-journal-contract';

let journal: Journal;
beforeAll(async () => {
  journal = await createMemoryJournal();
});

journalContract('in-memory journal', () => journal);

import { beforeAll } from 'vitest';
import { TableJournal, tableNames } from '../../src/store/journal';
import { MemoryTableStore } from '../../src/store/memoryTables';
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

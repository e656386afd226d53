/** Builds the journal from settings (Table storage) or in memory (unit tests of activities). */
import type { TokenCredential } from '@azure/core-auth';
import type { JournalStorageSettings } from '../config';
import { tableStoreFor } from './azureTables';
import { TableJournal, tableNames } from './journal';
import { MemoryTableStore } from './memoryTables';

export { TableJournal } from './journal';
export type { Journal } from './types';

/** The journal over the Table storage the settings name (`tableStoreFor`), its tables created. */
export async function createJournal(
  settings: JournalStorageSettings,
  credential?: TokenCredential,
): Promise<TableJournal> {
  const store = tableStoreFor(settings, credential);
  const journal = new TableJournal(store, tableNames(settings.tablePrefix));
  await journal.initialise();
  return journal;
}

/** The same journal logic over an in-memory table store. */
export async function createMemoryJournal(tablePrefix = 'factory'): Promise<TableJournal> {
  const journal = new TableJournal(new MemoryTableStore(), tableNames(tablePrefix));
  await journal.initialise();
  return journal;
}

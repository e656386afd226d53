/** Builds the journal from settings (Table storage) or in memory (unit tests of activities). */
import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential } from '@azure/identity';
import type { JournalStorageSettings } from '../config';
import { AzureTableStore } from './azureTables';
import { TableJournal, tableNames } from './journal';
import { MemoryTableStore } from './memoryTables';

export { TableJournal } from './journal';
export type { Journal } from './types';

/**
 * The journal over Table storage, its tables created. With a connection string (Azurite or an
 * account key) no credential is used; with an endpoint the identity in `clientId` (or the default
 * chain) signs in.
 */
export async function createJournal(
  settings: JournalStorageSettings,
  credential?: TokenCredential,
): Promise<TableJournal> {
  const store =
    settings.connectionString !== undefined
      ? new AzureTableStore({ connectionString: settings.connectionString })
      : new AzureTableStore({
          endpoint: settings.tableEndpoint ?? '',
          credential:
            credential ??
            new DefaultAzureCredential(
              settings.clientId === undefined ? {} : { managedIdentityClientId: settings.clientId },
            ),
        });
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

/**
 * The entity `migrationItemOwner@<item>`: which pipeline instance owns a migration item, so the
 * Event Grid handler can wake that pipeline when Azure reports a change to the item (an operator
 * acting in the portal). The pipeline sets it once the item exists and clears it when it is done.
 *
 * Operations: `set` (instance id), `clear`, `get` (the instance id or null).
 */
import * as df from 'durable-functions';

export const ITEM_OWNER_ENTITY = 'migrationItemOwner';

/**
 * The entity key of a migration item: its ARM id, lower case (ARM ids are case-insensitive), with
 * `/` (refused in storage keys) replaced by `|`, which ARM ids never contain.
 */
export function itemOwnerKey(migrationItemId: string): string {
  return migrationItemId.toLowerCase().replaceAll('/', '|');
}

export function migrationItemOwner(context: df.EntityContext<string | null>): void {
  switch (context.df.operationName) {
    case 'set':
      context.df.setState(context.df.getInput<string>() ?? null);
      return;
    case 'clear':
      context.df.destructOnExit();
      return;
    case 'get':
      context.df.return(context.df.getState(() => null) ?? null);
      return;
    default:
      throw new Error(`${ITEM_OWNER_ENTITY} has no operation '${context.df.operationName}'`);
  }
}

df.app.entity(ITEM_OWNER_ENTITY, migrationItemOwner);

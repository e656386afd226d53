/**
 * Resource events on migration items (an operator acting in the portal, or the factory itself)
 * wake the pipeline that owns the item, so it reads the item now instead of at its next poll.
 * Delivery is at least once and unordered: an event only makes the pipeline re-read Azure, so a
 * duplicate or a late event costs one read and changes nothing else.
 */
import type { EventGridEvent, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { ITEM_OWNER_ENTITY, itemOwnerKey } from '../orchestrations/migrationItemOwner';

/** The migration item a resource URI addresses (itself or one of its actions), or undefined. */
export function migrationItemIdOf(resourceUri: unknown): string | undefined {
  if (typeof resourceUri !== 'string') return undefined;
  return /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.RecoveryServices\/vaults\/[^/]+\/replicationFabrics\/[^/]+\/replicationProtectionContainers\/[^/]+\/replicationMigrationItems\/[^/]+/i.exec(
    resourceUri,
  )?.[0];
}

async function migrationItemChanged(
  event: EventGridEvent,
  client: df.DurableClient,
  context: InvocationContext,
): Promise<void> {
  const itemId = migrationItemIdOf((event.data as { resourceUri?: unknown } | undefined)?.resourceUri);
  if (itemId === undefined) return;
  const owner = await client.readEntityState<string | null>(
    new df.EntityId(ITEM_OWNER_ENTITY, itemOwnerKey(itemId)),
  );
  const instanceId = owner.entityExists ? owner.entityState : undefined;
  if (!instanceId) return;
  try {
    await client.raiseEvent(instanceId, 'MigrationItemChanged', {
      eventId: event.id,
      eventType: event.eventType,
    });
  } catch (error) {
    // The owner pointer can outlive its instance (purged history): nobody is waiting to be woken.
    if (!(error instanceof Error && error.message.startsWith('No instance with ID'))) throw error;
    context.warn(`migration item event ${event.id}: no instance ${instanceId}`);
  }
}

df.app.client.eventGrid('migrationItemChanged', { handler: migrationItemChanged });

/**
 * Event Grid: the subscription's resource events and the PolicyInsights events, one per
 * invocation, at least once and in any order. Every branch is idempotent:
 * - a VM written in a managed scope is onboarded by one orchestration per VM id
 *   (`onboardingInstanceId`); its first activity decides whether the VM is in scope at all;
 * - a policy state of a VM starts one correction per event (`remediationInstanceId`), which the
 *   VM's drift entity orders by `data.timestamp` and dedups;
 * - a change to a migration item (an operator in the portal) wakes the pipeline that owns it, so
 *   it reads the item now instead of at its next poll; a duplicate costs one read.
 * Malformed and unrelated events are acknowledged without acting (Event Grid would only retry them).
 */
import type { EventGridEvent, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { onboardingInstanceId } from '../domain/names';
import { classifyEvent, remediationInstanceId, vmIdParts } from '../domain/scope';
import { ITEM_OWNER_ENTITY, itemOwnerKey } from '../orchestrations/migrationItemOwner';
import { ONBOARD_VM, type OnboardingInput } from '../orchestrations/onboarding';
import { REMEDIATE_DRIFT, type RemediationInput } from '../orchestrations/remediation';
import { managementServices } from './managementServices';

async function isActive(client: df.DurableClient, instanceId: string): Promise<boolean | undefined> {
  try {
    const status = (await client.getStatus(instanceId)).runtimeStatus;
    return status === 'Running' || status === 'Pending';
  } catch (error) {
    if (error instanceof Error && /\b404\b/.test(error.message)) return undefined;
    throw error;
  }
}

async function wakePipeline(
  client: df.DurableClient,
  itemId: string,
  event: { eventId: string; operationName: string },
) {
  const owner = await client.readEntityState<string | null>(
    new df.EntityId(ITEM_OWNER_ENTITY, itemOwnerKey(itemId)),
  );
  const instanceId = owner.entityExists ? owner.entityState : undefined;
  if (!instanceId) return `no pipeline owns ${itemId}`;
  try {
    await client.raiseEvent(instanceId, 'MigrationItemChanged', event);
    return `woke ${instanceId}`;
  } catch (error) {
    // The owner pointer can outlive its instance (purged history): nobody is waiting to be woken.
    if (!(error instanceof Error && error.message.startsWith('No instance with ID'))) throw error;
    return `no instance ${instanceId}`;
  }
}

async function systemEvents(
  event: EventGridEvent,
  client: df.DurableClient,
  context: InvocationContext,
): Promise<void> {
  const fact = classifyEvent(event);
  switch (fact.kind) {
    case 'malformed':
    case 'ignored':
      context.log(`event acknowledged without action: ${fact.reason}`);
      return;
    case 'migrationItemChanged':
      context.log(
        await wakePipeline(client, fact.itemId, { eventId: fact.eventId, operationName: fact.operationName }),
      );
      return;
    case 'vmWritten': {
      const svc = await managementServices();
      const instanceId = onboardingInstanceId(fact.vmId);
      // A redelivered event finds the onboarding already running (or done) and starts nothing new.
      if ((await isActive(client, instanceId)) !== undefined) return;
      const input: OnboardingInput = { vmId: fact.vmId, eventId: fact.eventId, settings: svc.onboarding };
      await client.startNew(ONBOARD_VM, { instanceId, input });
      return;
    }
    case 'policyState': {
      if (vmIdParts(fact.resourceId) === undefined) {
        context.log(`policy state of ${fact.resourceId} acknowledged: not a virtual machine`);
        return;
      }
      const svc = await managementServices();
      const instanceId = remediationInstanceId(fact.resourceId, fact.eventId);
      if ((await isActive(client, instanceId)) !== undefined) return;
      const input: RemediationInput = {
        vmId: fact.resourceId,
        eventId: fact.eventId,
        timestampMs: Date.parse(fact.timestamp),
        complianceState: fact.complianceState,
        settings: svc.remediation,
      };
      await client.startNew(REMEDIATE_DRIFT, { instanceId, input });
      return;
    }
  }
}

df.app.client.eventGrid('systemEvents', { handler: systemEvents });

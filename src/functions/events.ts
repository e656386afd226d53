/**
 * The Event Grid handler of the subscription's system topics (DESIGN.md, "Events"): one function,
 * `systemEvents`, subscribed to the Microsoft.Resources and PolicyInsights system topics.
 *
 * - A VM written in a managed scope: a migration's test VM or migrated VM is recorded as skipped;
 *   any other starts its onboarding (`onboardingInstanceId(vmId)`) as the VM's record says
 *   (`onboardsFor`): a VM never seen, or one skipped or failed for another event. A running
 *   onboarding refuses the start; one that finished is replaced.
 * - A NonCompliant policy state of a VM: start its drift correction
 *   (`remediationInstanceId(vmId, eventId)`); other states only update the VM's drift entity.
 * - A write or action on the migration item of a wave's machine (found through the management
 *   store's index, `ownerOfItem`): raise `MigrationItemChanged` to the machine's pipeline, which
 *   ignores it unless it is waiting for the item (a finished one answers 410, which is quiet).
 *
 * Delivery is at least once and unordered: every step is idempotent by event id and resource. A
 * redelivery of an event this process handled a moment ago (Event Grid's duplicates and retries)
 * ends at `handledEvents`, without a read or a start; one handled elsewhere, or forgotten since,
 * goes through the steps, which find nothing new to do.
 * An event this handler cannot read is logged and acknowledged (never a poison loop); only a
 * failure of our own (storage, the durable engine) fails the delivery so Event Grid retries it.
 */
import { app, type EventGridEvent, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { onboardingInstanceId } from '../domain/names';
import {
  classifyEvent,
  driftEntityKey,
  type FactoryEvent,
  remediationInstanceId,
  vmIdParts,
} from '../domain/scope';
import { ONBOARD_VM, type OnboardingInput } from '../orchestrations/onboarding';
import { REMEDIATE_DRIFT, type RemediationInput } from '../orchestrations/remediation';
import { DRIFT_ENTITY } from '../orchestrations/vmDrift';
import { onboardsFor } from '../store/management';
import {
  durableClientInput,
  durableClientOf,
  isNotFound,
  startOnce,
  startUnlessRunning,
} from './durableClient';
import { HandledEvents } from './handledEvents';
import { type ManagementServices, managementServices } from './managementServices';

export const SYSTEM_EVENTS_FUNCTION = 'systemEvents';
export const MIGRATION_ITEM_CHANGED = 'MigrationItemChanged';
/** Events remembered as handled, per process: each key an event id and a resource id, a few MB in all. */
const handledEvents = new HandledEvents(20_000);

function inManagedGroup(svc: ManagementServices, resourceGroup: string): boolean {
  const group = resourceGroup.toLowerCase();
  return svc.config.managedResourceGroups.some((g) => g.toLowerCase() === group);
}

async function onVmWritten(
  event: Extract<FactoryEvent, { kind: 'vmWritten' }>,
  svc: ManagementServices,
  client: df.DurableClient,
  context: InvocationContext,
): Promise<void> {
  if (!inManagedGroup(svc, event.resourceGroup)) return;
  // A migration's own VMs (two per machine) need no orchestration, and the VM's record tells
  // whether this event asks for anything new: one read answers both.
  const at = event.eventTime === '' ? new Date().toISOString() : event.eventTime;
  const vm = await svc.management.lookUpWrittenVm({ vmId: event.vmId, eventId: event.eventId, at });
  if (vm.migrationVm) {
    context.info(`event ${event.eventId}: ${event.vmId} is a migration's VM; its pipeline decides`);
    return;
  }
  if (!onboardsFor(vm.managed, event.eventId)) return;
  const input: OnboardingInput = {
    vmId: event.vmId,
    eventId: event.eventId,
    settings: svc.onboarding,
    ownerChecked: true,
  };
  if (await startUnlessRunning(client, ONBOARD_VM, onboardingInstanceId(event.vmId), input)) {
    context.info(`event ${event.eventId}: onboarding ${event.vmId}`);
  }
}

async function onPolicyState(
  event: Extract<FactoryEvent, { kind: 'policyState' }>,
  svc: ManagementServices,
  client: df.DurableClient,
  context: InvocationContext,
): Promise<void> {
  const vm = vmIdParts(event.resourceId);
  if (vm === undefined || !inManagedGroup(svc, vm.resourceGroup)) return;
  const assignments = svc.config.management.driftPolicyAssignments;
  if (assignments.length > 0 && !assignments.includes(event.policyAssignmentId.toLowerCase())) return;
  const timestampMs = Date.parse(event.timestamp);
  if (event.complianceState.toLowerCase() !== 'noncompliant') {
    // Newer compliant states make older NonCompliant ones stale.
    await client.signalEntity(new df.EntityId(DRIFT_ENTITY, driftEntityKey(event.resourceId)), 'judge', {
      eventId: event.eventId,
      timestamp: timestampMs,
      complianceState: event.complianceState,
      now: Date.now(),
      quietPeriodMs: svc.remediation.quietPeriodMs,
    });
    return;
  }
  const managed = await svc.store.getVm(event.resourceId);
  if (managed?.state === 'Unmanaged') {
    context.info(`event ${event.eventId}: ${event.resourceId} is out of management; drift not corrected`);
    return;
  }
  const input: RemediationInput = {
    vmId: event.resourceId,
    eventId: event.eventId,
    timestampMs,
    complianceState: event.complianceState,
    settings: svc.remediation,
  };
  if (
    await startOnce(client, REMEDIATE_DRIFT, remediationInstanceId(event.resourceId, event.eventId), input)
  ) {
    context.info(`event ${event.eventId}: drift of ${event.resourceId} judged`);
  }
}

async function onMigrationItem(
  event: Extract<FactoryEvent, { kind: 'migrationItemChanged' }>,
  svc: ManagementServices,
  client: df.DurableClient,
  context: InvocationContext,
): Promise<void> {
  // The factory's own action: the pipeline that took it is waiting for its outcome already.
  const own = svc.config.management.ownClientId;
  if (own !== undefined && event.callerAppId === own) return;
  const owner = await svc.store.ownerOfItem(event.itemId, svc.journal);
  if (owner === undefined) return;
  const { instanceId } = owner;
  try {
    await client.raiseEvent(instanceId, MIGRATION_ITEM_CHANGED, {
      eventId: event.eventId,
      itemId: event.itemId,
      operationName: event.operationName,
    });
    context.info(`event ${event.eventId}: ${MIGRATION_ITEM_CHANGED} raised to ${instanceId}`);
  } catch (error) {
    // A pipeline that finished (or whose history was purged) waits for nothing.
    if (!isNotFound(error)) throw error;
  }
}

export async function handleSystemEvent(
  raw: unknown,
  client: df.DurableClient,
  context: InvocationContext,
): Promise<void> {
  const event = classifyEvent(raw);
  if (event.kind === 'malformed') {
    context.warn(`event acknowledged without action: ${event.reason}`);
    return;
  }
  if (event.kind === 'ignored') return;
  const svc = await managementServices();
  await handledEvents.once(`${event.eventId} ${resourceOf(event)}`, () => {
    switch (event.kind) {
      case 'vmWritten':
        return onVmWritten(event, svc, client, context);
      case 'policyState':
        return onPolicyState(event, svc, client, context);
      case 'migrationItemChanged':
        return onMigrationItem(event, svc, client, context);
    }
  });
}

function resourceOf(event: Exclude<FactoryEvent, { kind: 'malformed' | 'ignored' }>): string {
  switch (event.kind) {
    case 'vmWritten':
      return event.vmId.toLowerCase();
    case 'policyState':
      return event.resourceId.toLowerCase();
    case 'migrationItemChanged':
      return event.itemId.toLowerCase();
  }
}

app.eventGrid(SYSTEM_EVENTS_FUNCTION, {
  extraInputs: [durableClientInput],
  handler: (event: EventGridEvent, context: InvocationContext) =>
    handleSystemEvent(event, durableClientOf(context), context),
});

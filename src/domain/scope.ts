/**
 * Which Azure VMs the factory manages, what an Event Grid event means to it, and when policy drift
 * is corrected. Pure: the Event Grid handlers, activities and the drift entity apply these rules.
 */
import { TEST_VM_SUFFIX } from './names';

/** Tag the factory puts on (or an operator puts on) a VM that must never be onboarded, e.g. a test-migration VM. */
export const TEST_MIGRATION_TAG = 'migration-factory-test';

export interface TagRule {
  name: string;
  value?: string;
}

export interface ScopeSettings {
  /** Resource groups (case-insensitive) whose VMs are managed. */
  resourceGroups: string[];
  includeTags: TagRule[];
  excludeTags: TagRule[];
  /** Lower-case ARM locations; empty means every region. */
  regions: string[];
}

export interface VmFacts {
  id: string;
  name: string;
  resourceGroup: string;
  location: string;
  tags: Record<string, string>;
}

export type ScopeDecision = { inScope: true } | { inScope: false; reason: string };

/** The parts of a VM's ARM id, or undefined when `id` is not a VM id (extension resources are not VMs). */
export function vmIdParts(
  id: string,
): { subscriptionId: string; resourceGroup: string; name: string } | undefined {
  const match =
    /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Compute\/virtualMachines\/([^/]+)$/i.exec(
      id,
    );
  return match ? { subscriptionId: match[1]!, resourceGroup: match[2]!, name: match[3]! } : undefined;
}

/** The ARM id of the VM named `name` in the resource group with id `resourceGroupId`. */
export function vmResourceId(resourceGroupId: string, name: string): string {
  return `${resourceGroupId}/providers/Microsoft.Compute/virtualMachines/${name}`;
}

/** The ARM id of a migration item (`.../replicationMigrationItems/{name}`) and its name, or undefined. */
export function migrationItemParts(id: string): { itemId: string; name: string } | undefined {
  const match = /^(\/subscriptions\/.+\/replicationMigrationItems\/([^/]+))(?:\/.*)?$/i.exec(id);
  return match ? { itemId: match[1]!, name: match[2]! } : undefined;
}

function tagMatches(tags: Record<string, string>, rule: TagRule): boolean {
  const key = Object.keys(tags).find((k) => k.toLowerCase() === rule.name.toLowerCase());
  if (key === undefined) return false;
  return rule.value === undefined || tags[key]!.toLowerCase() === rule.value.toLowerCase();
}

export const TEST_VM_REASON = 'a test-migration VM';

/** A VM a test migration created (by name or by tag): never onboarded, it is deleted by the clean-up. */
export function isTestMigrationVm(name: string, tags: Record<string, string>): boolean {
  return name.toLowerCase().endsWith(TEST_VM_SUFFIX) || tagMatches(tags, { name: TEST_MIGRATION_TAG });
}

/** Whether the VM is one the factory manages (onboards and keeps conformant). */
export function scopeOf(vm: VmFacts, scope: ScopeSettings): ScopeDecision {
  if (isTestMigrationVm(vm.name, vm.tags)) return { inScope: false, reason: TEST_VM_REASON };
  const group = vm.resourceGroup.toLowerCase();
  if (!scope.resourceGroups.some((g) => g.toLowerCase() === group)) {
    return { inScope: false, reason: `resource group ${vm.resourceGroup} is not managed` };
  }
  const location = vm.location.toLowerCase().replaceAll(' ', '');
  if (scope.regions.length > 0 && !scope.regions.includes(location)) {
    return { inScope: false, reason: `region ${vm.location} is not managed` };
  }
  const excluded = scope.excludeTags.find((rule) => tagMatches(vm.tags, rule));
  if (excluded !== undefined) return { inScope: false, reason: `excluded by tag ${excluded.name}` };
  if (scope.includeTags.length > 0 && !scope.includeTags.some((rule) => tagMatches(vm.tags, rule))) {
    return { inScope: false, reason: 'carries none of the included tags' };
  }
  return { inScope: true };
}

// ---------------------------------------------------------------------------------------------
// Events

export const VM_WRITE = 'microsoft.compute/virtualmachines/write';
const ITEM_OPERATION =
  /^microsoft\.recoveryservices\/vaults\/replicationfabrics\/replicationprotectioncontainers\/replicationmigrationitems\//;

export type FactoryEvent =
  | { kind: 'vmWritten'; eventId: string; vmId: string; resourceGroup: string; eventTime: string }
  | {
      kind: 'policyState';
      eventId: string;
      resourceId: string;
      /** ISO instant of the evaluation (order by this, not eventTime). */
      timestamp: string;
      complianceState: string;
      policyAssignmentId: string;
    }
  | {
      kind: 'migrationItemChanged';
      eventId: string;
      itemId: string;
      itemName: string;
      operationName: string;
      /** Lower-case `data.claims.appid`: the application that made the change, when the event says. */
      callerAppId?: string;
    }
  | { kind: 'ignored'; eventId: string; reason: string }
  | { kind: 'malformed'; reason: string };

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * What an Event Grid event (Event Grid schema or CloudEvents 1.0, as the Functions trigger passes
 * it) means to the factory. Never throws: anything it cannot read is `malformed`.
 */
export function classifyEvent(raw: unknown): FactoryEvent {
  const event = record(raw);
  if (event === undefined) return { kind: 'malformed', reason: 'the event is not a JSON object' };
  const eventId = text(event.id);
  if (eventId === undefined) return { kind: 'malformed', reason: 'the event has no id' };
  const type = text(event.eventType) ?? text(event.type);
  if (type === undefined) return { kind: 'malformed', reason: `event ${eventId} has no type` };
  const data = record(event.data);
  if (data === undefined) return { kind: 'malformed', reason: `event ${eventId} has no data` };
  const subject = text(event.subject);

  if (type.startsWith('Microsoft.Resources.Resource')) {
    if (!/(Write|Action)Success$/.test(type)) {
      return { kind: 'ignored', eventId, reason: `${type} is not a successful write or action` };
    }
    const operationName = (text(data.operationName) ?? '').toLowerCase();
    const resourceUri = text(data.resourceUri) ?? subject;
    if (resourceUri === undefined)
      return { kind: 'malformed', reason: `event ${eventId} has no resourceUri` };
    if (operationName === VM_WRITE) {
      const vm = vmIdParts(resourceUri);
      if (vm === undefined)
        return { kind: 'malformed', reason: `event ${eventId}: ${resourceUri} is not a VM` };
      const eventTime = text(event.eventTime) ?? text(event.time) ?? '';
      return { kind: 'vmWritten', eventId, vmId: resourceUri, resourceGroup: vm.resourceGroup, eventTime };
    }
    if (ITEM_OPERATION.test(operationName)) {
      const item = migrationItemParts(resourceUri);
      if (item === undefined) {
        return { kind: 'malformed', reason: `event ${eventId}: ${resourceUri} is not a migration item` };
      }
      const callerAppId = text(record(data.claims)?.appid)?.toLowerCase();
      return {
        kind: 'migrationItemChanged',
        eventId,
        ...item,
        itemName: item.name,
        operationName,
        ...(callerAppId === undefined ? {} : { callerAppId }),
      };
    }
    return { kind: 'ignored', eventId, reason: `operation ${operationName || 'unknown'} is not handled` };
  }

  if (
    type === 'Microsoft.PolicyInsights.PolicyStateChanged' ||
    type === 'Microsoft.PolicyInsights.PolicyStateCreated'
  ) {
    const timestamp = text(data.timestamp);
    const complianceState = text(data.complianceState);
    const policyAssignmentId = text(data.policyAssignmentId);
    const resourceId = subject ?? text(data.resourceId);
    if (timestamp === undefined || Number.isNaN(Date.parse(timestamp))) {
      return { kind: 'malformed', reason: `event ${eventId} has no valid data.timestamp` };
    }
    if (complianceState === undefined || policyAssignmentId === undefined || resourceId === undefined) {
      return {
        kind: 'malformed',
        reason: `event ${eventId} lacks complianceState, policyAssignmentId or subject`,
      };
    }
    return { kind: 'policyState', eventId, resourceId, timestamp, complianceState, policyAssignmentId };
  }
  return { kind: 'ignored', eventId, reason: `event type ${type} is not handled` };
}

// ---------------------------------------------------------------------------------------------
// Drift correction (the per-VM drift entity applies these)

/** Event ids a VM's drift state remembers, to drop redelivered events. */
export const REMEMBERED_DRIFT_EVENTS = 20;

export interface DriftState {
  /** `data.timestamp` (epoch ms) of the newest policy state seen. */
  latestTimestamp?: number;
  latestCompliance?: string;
  /** Epoch ms (orchestration time) a correction last started. */
  lastRemediationAt?: number;
  /** Failed corrections in a row. */
  failures: number;
  escalated: boolean;
  recentEventIds: string[];
}

export const emptyDrift = (): DriftState => ({ failures: 0, escalated: false, recentEventIds: [] });

export interface DriftReport {
  eventId: string;
  /** Epoch ms of `data.timestamp`. */
  timestamp: number;
  complianceState: string;
  /** Epoch ms now (orchestration time). */
  now: number;
  quietPeriodMs: number;
}

export type DriftVerdict =
  | { action: 'remediate' }
  | { action: 'skip'; reason: 'duplicate' | 'stale' | 'compliant' | 'quietPeriod' };

/**
 * Decides on one policy state of a VM: a redelivered event or one older than the newest seen is
 * dropped; a NonCompliant state is corrected at most once per quiet period.
 */
export function judgeDrift(
  state: DriftState,
  report: DriftReport,
): { state: DriftState; verdict: DriftVerdict } {
  if (state.recentEventIds.includes(report.eventId))
    return { state, verdict: { action: 'skip', reason: 'duplicate' } };
  const recentEventIds = [...state.recentEventIds, report.eventId].slice(-REMEMBERED_DRIFT_EVENTS);
  if (state.latestTimestamp !== undefined && report.timestamp <= state.latestTimestamp) {
    return { state: { ...state, recentEventIds }, verdict: { action: 'skip', reason: 'stale' } };
  }
  const seen: DriftState = {
    ...state,
    recentEventIds,
    latestTimestamp: report.timestamp,
    latestCompliance: report.complianceState,
  };
  if (report.complianceState.toLowerCase() !== 'noncompliant') {
    return { state: seen, verdict: { action: 'skip', reason: 'compliant' } };
  }
  if (seen.lastRemediationAt !== undefined && report.now - seen.lastRemediationAt < report.quietPeriodMs) {
    return { state: seen, verdict: { action: 'skip', reason: 'quietPeriod' } };
  }
  return { state: { ...seen, lastRemediationAt: report.now }, verdict: { action: 'remediate' } };
}

/** The state after a correction ended; `escalate` is true exactly once, when failures reach the limit. */
export function afterRemediation(
  state: DriftState,
  succeeded: boolean,
  escalateAfter: number,
): { state: DriftState; escalate: boolean } {
  if (succeeded) return { state: { ...state, failures: 0, escalated: false }, escalate: false };
  const failures = state.failures + 1;
  const escalate = failures >= escalateAfter && !state.escalated;
  return { state: { ...state, failures, escalated: state.escalated || escalate }, escalate };
}

/** 32-bit FNV-1a as 8 hex digits. */
function fnv1a(value: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    hash ^= value.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

/** Key of a VM's drift entity: stable for its (case-insensitive) ARM id and free of `@`, `/` and `#`. */
export function driftEntityKey(vmId: string): string {
  const parts = vmIdParts(vmId);
  const lower = vmId.toLowerCase();
  const readable = parts === undefined ? 'vm' : `${parts.resourceGroup}.${parts.name}`.toLowerCase();
  return `${readable.replace(/[^a-z0-9.-]/g, '-').slice(0, 60)}.${fnv1a(lower)}`;
}

/** Instance id of the correction of one policy event: a redelivered event finds its instance. */
export function remediationInstanceId(vmId: string, eventId: string): string {
  return `drift:${fnv1a(vmId.toLowerCase())}:${eventId
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, '-')
    .slice(0, 80)}`;
}

/**
 * A configuration profile assignment's onboarding as a pure function of (record, now): each PUT
 * (re-)asserts the profile, which takes the timing model's onboarding time to reach Conformant (or
 * Failed, as the fault draw at the PUT decided); drift makes it NotConformant until re-asserted.
 */

export const BEST_PRACTICES = ['AzureBestPracticesProduction', 'AzureBestPracticesDevTest'] as const;

/** Regions where Automanage is offered (azure-facts.md), as ARM location names. */
export const SUPPORTED_REGIONS = [
  'westeurope',
  'northeurope',
  'centralus',
  'eastus',
  'eastus2',
  'westus',
  'westus2',
  'canadacentral',
  'westcentralus',
  'southcentralus',
  'japaneast',
  'uksouth',
  'australiaeast',
  'australiasoutheast',
  'southeastasia',
];

export const isSupportedRegion = (location: string) =>
  SUPPORTED_REGIONS.includes(location.toLowerCase().replace(/\s+/g, ''));

export type AssignmentStatus = 'Pending' | 'InProgress' | 'Conformant' | 'NotConformant' | 'Failed';

/** One assertion of the profile (a PUT), which Automanage reports on. */
export interface Assertion {
  reportName: string;
  type: 'Initial' | 'Consistency';
  at: number;
  /** Virtual ms when configuring ends. */
  doneAt: number;
  fails: boolean;
}

export interface AssignmentRecord {
  id: string;
  vmId: string;
  configurationProfile: string;
  createdAt: number;
  assertions: Assertion[];
  /** Drift detected (virtual ms) since the last assertion, if any. */
  driftedAt?: number;
  /** Every drift Automanage reported on (a Consistency report each), kept across re-assertions. */
  drifts: { reportName: string; at: number }[];
}

export function latestAssertion(record: AssignmentRecord): Assertion {
  return record.assertions[record.assertions.length - 1]!;
}

/** The assignment's `status` at `now`; a VM that is not running keeps it Pending. */
export function assignmentStatus(
  record: AssignmentRecord,
  now: number,
  vmRunning: boolean,
): AssignmentStatus {
  const current = latestAssertion(record);
  if (!vmRunning && now < current.doneAt) return 'Pending';
  if (now < current.doneAt) return 'InProgress';
  if (current.fails) return 'Failed';
  if (record.driftedAt !== undefined && now >= record.driftedAt) return 'NotConformant';
  return 'Conformant';
}

/** The record after a PUT at `now`: a new assertion, any drift cleared. */
export function assert(
  record: AssignmentRecord | undefined,
  base: { id: string; vmId: string; configurationProfile: string },
  now: number,
  onboardingMs: number,
  fails: boolean,
  reportName: string,
): AssignmentRecord {
  const assertion: Assertion = {
    reportName,
    type: record ? 'Consistency' : 'Initial',
    at: now,
    doneAt: now + onboardingMs,
    fails,
  };
  return {
    id: base.id,
    vmId: base.vmId,
    configurationProfile: base.configurationProfile,
    createdAt: record?.createdAt ?? now,
    assertions: [...(record?.assertions ?? []), assertion],
    drifts: record?.drifts ?? [],
  };
}

/** Drift only counts once the profile was applied; drift during configuration is corrected by it. */
export function drift(record: AssignmentRecord, now: number, reportName: string): AssignmentRecord {
  const current = latestAssertion(record);
  if (now < current.doneAt || current.fails || record.driftedAt !== undefined) return record;
  return { ...record, driftedAt: now, drifts: [...record.drifts, { reportName, at: now }] };
}

/**
 * What the onboarding and drift orchestrations know about their activities: names and shapes.
 * No side effects here, so orchestrations can import it. Results are `ActivityResult`s, as for the
 * pipeline's activities: Azure's failures come back as data.
 */
import type { AzureErrorInfo } from '../domain/errors';
import type { HistoryKind, ManagedVmState } from '../store/management';
import type { ActivityResult } from './contract';

export const MANAGEMENT_ACTIVITY = {
  startOnboarding: 'startVmOnboarding',
  readOnboarding: 'readVmOnboarding',
  recordVm: 'recordVmManagement',
  reassert: 'reassertVmProfile',
} as const;

export type ManagementActivityName = (typeof MANAGEMENT_ACTIVITY)[keyof typeof MANAGEMENT_ACTIVITY];

export interface VmInput {
  vmId: string;
  /** The event (or request) that started the work; recorded with what the activity does. */
  eventId: string;
  /** ISO instant of the orchestration's clock. */
  at: string;
}

export interface StartOnboardingInput extends VmInput {
  /** The Event Grid handler has just found no wave owning the VM: the assessment need not look again. */
  ownerChecked?: boolean;
}

/** The onboarding's first step: the assessment, and the assignment when the VM is to be onboarded. */
export type StartOnboardingOutput =
  | {
      action: 'onboard';
      /** Whether a PUT was sent now (false: a re-run of the step found the assignment it made). */
      assigned: boolean;
      status?: string;
      powerState?: string;
    }
  /** Nothing to do; the activity recorded why (`state` is what the VM's record now says). */
  | { action: 'skip'; reason: string; state: ManagedVmState };

export interface ReadOnboardingInput extends VmInput {
  /** Records the VM as onboarded, under this history id, when the read finds it Conformant. */
  onboardedId?: string;
}

export interface OnboardingRead {
  /** No assignment exists. */
  missing: boolean;
  assignmentStatus?: string;
  reportStatus?: string;
  error?: AzureErrorInfo;
}

export interface RecordVmInput extends VmInput {
  /** Unique per fact (e.g. instance id + step). */
  id: string;
  kind: HistoryKind;
  /** New state of the VM's record; undefined keeps it. */
  state?: ManagedVmState;
  reason?: string;
  /** Who asked (the management API's caller). */
  actor?: string;
  profileId?: string;
  /** A drift correction was started (counts it, stamps `lastRemediationAt`). */
  remediation?: boolean;
  escalated?: boolean;
  error?: AzureErrorInfo;
}

export type ReassertOutput =
  | { action: 'reasserted'; profileId: string }
  | { action: 'skipped'; reason: string };

export interface ManagementActivityTypes {
  startVmOnboarding: [StartOnboardingInput, StartOnboardingOutput];
  readVmOnboarding: [ReadOnboardingInput, OnboardingRead];
  recordVmManagement: [RecordVmInput, null];
  reassertVmProfile: [VmInput, ReassertOutput];
}

export type ManagementInput<N extends ManagementActivityName> = ManagementActivityTypes[N][0];
export type ManagementOutput<N extends ManagementActivityName> = ManagementActivityTypes[N][1];
export type ManagementResult<N extends ManagementActivityName> = ActivityResult<ManagementOutput<N>>;

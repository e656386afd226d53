/**
 * The activities of VM management (onboarding of VMs that appear, drift correction, taking a VM out
 * of management), built from their dependencies by `createManagementActivities`. Like the
 * pipeline's activities each reads first and acts only when still needed, so a replay or a
 * redelivered event never assigns twice; whatever they throw becomes data at the boundary.
 */
import { profileId } from '../azure/onboarding';
import type { AzureGateways, OnboardingProfile, OnboardingStatus } from '../azure/types';
import type { ManagementSettings } from '../config';
import { describeError, normaliseError, retryDelayOf } from '../domain/errors';
import { isTestMigrationVm, scopeOf, TEST_VM_REASON, vmIdParts } from '../domain/scope';
import type { HistoryKind, ManagedVm, ManagedVmState, ManagementStore, Owner } from '../store/management';
import type { Journal } from '../store/types';
import type { ActivityResult } from './contract';
import {
  MANAGEMENT_ACTIVITY,
  type ManagementActivityName,
  type ManagementInput,
  type ManagementOutput,
  type RecordVmInput,
  type StartOnboardingOutput,
} from './managementContract';
import { FACTORY_EVENT, type FactoryEventPublisher, type FactoryEventType } from './managementEvents';

export interface ManagementDeps {
  azure: AzureGateways;
  journal: Journal;
  store: ManagementStore;
  publisher: FactoryEventPublisher;
  settings: ManagementSettings;
  managedResourceGroups: string[];
  /** Reports what could not be done without failing (an event not published). */
  warn(message: string): void;
}

export type ManagementActivities = {
  [N in ManagementActivityName]: (input: ManagementInput<N>) => Promise<ActivityResult<ManagementOutput<N>>>;
};

const statusOf = (status: OnboardingStatus) => (status.status === undefined ? {} : { status: status.status });

const BEST_PRACTICES = /\/bestpractices\/azurebestpractices(production|devtest)$/i;

/** The profile an assignment names, as the onboarding gateway takes it. */
export function profileOf(profileId: string): OnboardingProfile {
  const match = BEST_PRACTICES.exec(profileId);
  if (match === null) return { kind: 'Custom', profileId };
  return match[1]!.toLowerCase() === 'production' ? { kind: 'Production' } : { kind: 'DevTest' };
}

const EVENT_OF: Partial<Record<HistoryKind, FactoryEventType>> = {
  Onboarded: FACTORY_EVENT.vmOnboarded,
  OnboardingSkipped: FACTORY_EVENT.vmOnboardingSkipped,
  OnboardingFailed: FACTORY_EVENT.vmOnboardingFailed,
  Remediated: FACTORY_EVENT.vmRemediated,
  RemediationFailed: FACTORY_EVENT.vmRemediationFailed,
  RemediationEscalated: FACTORY_EVENT.vmRemediationEscalated,
  Unmanaged: FACTORY_EVENT.vmUnmanaged,
  Managed: FACTORY_EVENT.vmManaged,
};

/** The management operations, shared by the activities and the management HTTP API. */
export class VmManagement {
  constructor(private readonly deps: ManagementDeps) {}

  /**
   * Records a fact about a VM: its history, its record (changed as the input says, or by `change`),
   * and a lifecycle event (best-effort). Answers the VM's record as `recordFact` does.
   */
  async record(
    input: RecordVmInput,
    change: ((current: ManagedVm | undefined) => ManagedVm | undefined) | undefined = recordChange(input),
  ): Promise<ManagedVm | undefined> {
    const recorded = await this.deps.store.recordFact(
      input.vmId,
      {
        id: input.id,
        kind: input.kind,
        at: input.at,
        eventId: input.eventId,
        ...(input.reason === undefined ? {} : { reason: input.reason }),
        ...(input.actor === undefined ? {} : { actor: input.actor }),
      },
      change,
    );
    const eventType = EVENT_OF[input.kind];
    if (eventType === undefined) return recorded;
    try {
      await this.deps.publisher.publish([
        {
          id: input.id,
          eventType,
          subject: input.vmId,
          at: input.at,
          data: {
            vmId: input.vmId,
            at: input.at,
            causedBy: input.eventId,
            ...(input.state === undefined ? {} : { state: input.state }),
            ...(input.reason === undefined ? {} : { reason: input.reason }),
            ...(input.actor === undefined ? {} : { actor: input.actor }),
            ...(input.profileId === undefined ? {} : { profileId: input.profileId }),
            ...(input.error === undefined ? {} : { error: input.error }),
          },
        },
      ]);
    } catch (error) {
      this.deps.warn(`lifecycle event ${input.id} not published: ${describeError(error).message}`);
    }
    return recorded;
  }

  /**
   * The onboarding's first step: checks the VM (still there, in scope, not a wave's, in a region
   * Automanage offers, not assigned yet, not out of management) and assigns the configured profile,
   * or records why not. The start is recorded before the PUT, so a re-run of this step (after a
   * host died past the PUT) finds its own record beside the assignment and carries on, rather than
   * taking the assignment for someone else's.
   */
  async startOnboarding({
    vmId,
    eventId,
    at,
    ownerChecked,
  }: ManagementInput<'startVmOnboarding'>): Promise<StartOnboardingOutput> {
    const { azure, store, settings } = this.deps;
    const skip = async (reason: string, state: ManagedVmState = 'Skipped') => {
      await this.#recordSkip({ vmId, eventId, at }, reason, state);
      return { action: 'skip' as const, reason, state };
    };
    const { managed, owner } = ownerChecked
      ? { managed: await store.getVm(vmId), owner: undefined }
      : await store.lookUpVm(vmId, this.deps.journal);
    if (managed?.state === 'Unmanaged') {
      return { action: 'skip' as const, reason: 'taken out of management', state: managed.state };
    }
    const parts = vmIdParts(vmId);
    if (parts === undefined) return skip('not a virtual machine id');
    const vm = await azure.compute.getVm(parts.resourceGroup, parts.name);
    if (vm === undefined) return skip('the VM no longer exists');
    const scope = scopeOf(vm, {
      resourceGroups: this.deps.managedResourceGroups,
      includeTags: settings.includeTags,
      excludeTags: settings.excludeTags,
      regions: settings.regions,
    });
    if (!scope.inScope) return skip(`out of scope: ${scope.reason}`);
    if (owner !== undefined) return skip(ownedBy(owner));
    if (!azure.onboarding.supportsRegion(vm.location)) {
      return skip(`Automanage is not offered in ${vm.location}`);
    }
    const power = vm.powerState === undefined ? {} : { powerState: vm.powerState };
    const started = `assign:${eventId}`;
    const current = await azure.onboarding.getAssignment(vm.id);
    if (current !== undefined) {
      if (await store.hasHistory(vmId, at, started)) {
        return { action: 'onboard', assigned: false, ...statusOf(current), ...power };
      }
      if (managed !== undefined && managed.state !== 'Skipped') {
        return { action: 'skip' as const, reason: 'already onboarded', state: managed.state };
      }
      return skip(`already assigned to ${current.profileId}`, 'Onboarded');
    }
    const profile = settings.onboardingProfile;
    await this.record({
      vmId,
      eventId,
      at,
      id: started,
      kind: 'OnboardingStarted',
      state: 'Onboarding',
      profileId: profileId(profile),
    });
    const assigned = await azure.onboarding.assign(vm.id, profile);
    return { action: 'onboard', assigned: true, ...statusOf(assigned), ...power };
  }

  /**
   * What a VM-written event needs to know, in at most one read: a VM a migration creates (a test VM
   * by its name, a migrated VM by the wave that owns it) is recorded as skipped and needs no
   * onboarding orchestration; for any other VM, its record (undefined before its first fact).
   */
  async lookUpWrittenVm({
    vmId,
    eventId,
    at,
  }: {
    vmId: string;
    eventId: string;
    at: string;
  }): Promise<{ migrationVm: true } | { migrationVm: false; managed?: ManagedVm }> {
    const parts = vmIdParts(vmId);
    if (parts === undefined) return { migrationVm: false };
    if (isTestMigrationVm(parts.name, {})) {
      await this.#recordSkip({ vmId, eventId, at }, `out of scope: ${TEST_VM_REASON}`, 'Skipped');
      return { migrationVm: true };
    }
    const { managed, owner } = await this.deps.store.lookUpVm(vmId, this.deps.journal);
    if (owner !== undefined) {
      await this.#recordSkip({ vmId, eventId, at }, ownedBy(owner), 'Skipped');
      return { migrationVm: true };
    }
    return managed === undefined ? { migrationVm: false } : { migrationVm: false, managed };
  }

  async #recordSkip(
    event: { vmId: string; eventId: string; at: string },
    reason: string,
    state: ManagedVmState,
  ): Promise<void> {
    await this.record({ ...event, id: `assess:${event.eventId}`, kind: 'OnboardingSkipped', state, reason });
  }

  async read({ vmId, eventId, at, onboardedId }: ManagementInput<'readVmOnboarding'>) {
    const status = await this.deps.azure.onboarding.getProgress(vmId);
    if (status === undefined) return { missing: true };
    const report = status.latestReport;
    if (report?.status === 'Conformant' && onboardedId !== undefined) {
      await this.record({ vmId, eventId, at, id: onboardedId, kind: 'Onboarded', state: 'Onboarded' });
    }
    return {
      missing: false,
      ...(status.status === undefined ? {} : { assignmentStatus: status.status }),
      ...(report?.status === undefined ? {} : { reportStatus: report.status }),
      ...(report?.error === undefined ? {} : { error: report.error }),
    };
  }

  /** Re-asserts the VM's assignment (a PUT of its current profile), unless it is out of management. */
  async reassert({ vmId }: ManagementInput<'reassertVmProfile'>) {
    const managed = await this.deps.store.getVm(vmId);
    if (managed?.state === 'Unmanaged')
      return { action: 'skipped' as const, reason: 'taken out of management' };
    const status = await this.deps.azure.onboarding.getAssignment(vmId);
    if (status === undefined) return { action: 'skipped' as const, reason: 'the VM has no assignment' };
    await this.deps.azure.onboarding.assign(vmId, profileOf(status.profileId));
    return { action: 'reasserted' as const, profileId: status.profileId };
  }

  /** Takes a VM out of management: deletes its assignment, stops drift correction, records who and why. */
  async unmanage(vmId: string, actor: string, reason: string, at: string): Promise<ManagedVm> {
    await this.deps.azure.onboarding.remove(vmId);
    const updated = await this.record(
      { vmId, eventId: `api:${at}`, at, id: `unmanage:${at}`, kind: 'Unmanaged', reason, actor },
      (current) => ({
        ...(current ?? { vmId, remediations: 0, escalated: false }),
        state: 'Unmanaged',
        updatedAt: at,
        unmanagedBy: actor,
        unmanagedReason: reason,
        unmanagedAt: at,
      }),
    );
    return updated!;
  }

  /** Puts a VM back under management; the next VM event (or the caller's onboarding) onboards it. */
  async manage(vmId: string, actor: string, reason: string, at: string): Promise<ManagedVm | undefined> {
    return this.record(
      { vmId, eventId: `api:${at}`, at, id: `manage:${at}`, kind: 'Managed', reason, actor },
      (current) => {
        if (current === undefined || current.state !== 'Unmanaged') return undefined;
        const {
          unmanagedBy: _by,
          unmanagedReason: _why,
          unmanagedAt: _at,
          reason: _reason,
          ...rest
        } = current;
        return { ...rest, state: 'Skipped', reason: 'put back under management', updatedAt: at };
      },
    );
  }
}

/** Why a wave's pipeline, not an event, decides about the VM the wave migrates to. */
function ownedBy(owner: Owner): string {
  return `migrated by wave ${owner.waveId} (${owner.name}); its pipeline onboards it as the plan says`;
}

/** How a fact changes the VM's record; undefined when it changes nothing. */
function recordChange(input: RecordVmInput): ((current: ManagedVm | undefined) => ManagedVm) | undefined {
  if (input.state === undefined && input.remediation !== true && input.escalated === undefined)
    return undefined;
  return (current) => {
    const base: ManagedVm = current ?? {
      vmId: input.vmId,
      state: input.state ?? 'Onboarding',
      updatedAt: input.at,
      remediations: 0,
      escalated: false,
    };
    // A VM taken out of management keeps that state until it is put back.
    const state: ManagedVmState = base.state === 'Unmanaged' ? 'Unmanaged' : (input.state ?? base.state);
    const next: ManagedVm = { ...base, state, updatedAt: input.at };
    if (input.reason !== undefined) next.reason = input.reason;
    else if (input.state !== undefined) delete next.reason;
    if (input.profileId !== undefined) next.profileId = input.profileId;
    if (input.remediation === true) {
      next.remediations = base.remediations + 1;
      next.lastRemediationAt = input.at;
    }
    if (input.escalated !== undefined) next.escalated = input.escalated;
    return next;
  };
}

/** The boundary: typed errors become data the orchestration can decide on. */
function boundary<I, O>(impl: (input: I) => Promise<O>): (input: I) => Promise<ActivityResult<O>> {
  return async (input) => {
    try {
      return { ok: true, value: await impl(input) };
    } catch (error) {
      const retryAfterMs = retryDelayOf(normaliseError(error));
      const info = describeError(error);
      return retryAfterMs === undefined
        ? { ok: false, error: info }
        : { ok: false, error: info, retryAfterMs };
    }
  };
}

export function createManagementActivities(management: VmManagement): ManagementActivities {
  return {
    [MANAGEMENT_ACTIVITY.startOnboarding]: boundary((input: ManagementInput<'startVmOnboarding'>) =>
      management.startOnboarding(input),
    ),
    [MANAGEMENT_ACTIVITY.readOnboarding]: boundary((input: ManagementInput<'readVmOnboarding'>) =>
      management.read(input),
    ),
    [MANAGEMENT_ACTIVITY.recordVm]: boundary(async (input: RecordVmInput) => {
      await management.record(input);
      return null;
    }),
    [MANAGEMENT_ACTIVITY.reassert]: boundary((input: ManagementInput<'reassertVmProfile'>) =>
      management.reassert(input),
    ),
  };
}

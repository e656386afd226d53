/**
 * Onboarding through Azure Automanage (@azure/arm-automanage): the VM's `default` configuration
 * profile assignment. Automanage Best Practices retire on 30 September 2027; a policy-based
 * `OnboardingGateway` can replace this class without touching activities.
 */

import { AutomanageClient, type ConfigurationProfileAssignment, type Report } from '@azure/arm-automanage';
import type { TokenCredential } from '@azure/core-auth';
import type { FactoryConfig } from '../config';
import { automanageSupportsRegion } from '../domain/environment';
import { NonRetriableError } from '../domain/errors';
import { type ArmClientOptions, armIdValue, callArm, collect, readArm } from './arm';
import type {
  OnboardingGateway,
  OnboardingProfile,
  OnboardingProgress,
  OnboardingReport,
  OnboardingStatus,
} from './types';

/** The assignment's name is fixed by Automanage. */
const ASSIGNMENT = 'default';

export const BEST_PRACTICES = {
  Production: '/providers/Microsoft.Automanage/bestPractices/AzureBestPracticesProduction',
  DevTest: '/providers/Microsoft.Automanage/bestPractices/AzureBestPracticesDevTest',
} as const;

export function profileId(profile: OnboardingProfile): string {
  return profile.kind === 'Custom' ? profile.profileId : BEST_PRACTICES[profile.kind];
}

export function toOnboardingReport(report: Report): OnboardingReport {
  const result: OnboardingReport = {
    id: report.id ?? '',
    resources: (report.resources ?? []).map((r) => {
      const entry: OnboardingReport['resources'][number] = {};
      if (r.name !== undefined) entry.name = r.name;
      if (r.type !== undefined) entry.type = r.type;
      if (r.status !== undefined) entry.status = r.status;
      if (r.error?.code !== undefined || r.error?.message !== undefined) {
        entry.error = { code: r.error.code ?? 'Unknown', message: r.error.message ?? '' };
      }
      return entry;
    }),
  };
  if (report.typePropertiesType !== undefined) result.type = report.typePropertiesType;
  if (report.status !== undefined) result.status = report.status;
  if (report.startTime !== undefined) result.startTime = report.startTime;
  if (report.endTime !== undefined) result.endTime = report.endTime;
  if (report.error?.code !== undefined || report.error?.message !== undefined) {
    result.error = { code: report.error.code ?? 'Unknown', message: report.error.message ?? '' };
  }
  return result;
}

function toStatus(assignment: ConfigurationProfileAssignment): OnboardingStatus {
  const status: OnboardingStatus = {
    id: assignment.id ?? '',
    profileId: assignment.properties?.configurationProfile ?? '',
  };
  if (assignment.properties?.status !== undefined) status.status = assignment.properties.status;
  const assignedAt = assignment.systemData?.lastModifiedAt?.getTime();
  if (assignedAt !== undefined && Number.isFinite(assignedAt)) status.assignedAt = assignedAt;
  return status;
}

export class AutomanageOnboardingGateway implements OnboardingGateway {
  readonly #client: AutomanageClient;

  constructor(config: FactoryConfig, credential: TokenCredential, options: ArmClientOptions) {
    this.#client = new AutomanageClient(credential, config.azure.subscriptionId, options);
  }

  supportsRegion(location: string): boolean {
    return automanageSupportsRegion(location);
  }

  async assign(vmId: string, profile: OnboardingProfile): Promise<OnboardingStatus> {
    const { group, vm } = vmAddress(vmId);
    const assignment = await callArm('Assign Automanage profile', () =>
      this.#client.configurationProfileAssignments.createOrUpdate(ASSIGNMENT, group, vm, {
        properties: { configurationProfile: profileId(profile) },
      }),
    );
    return toStatus(assignment);
  }

  async getAssignment(vmId: string): Promise<OnboardingStatus | undefined> {
    const { group, vm } = vmAddress(vmId);
    const assignment = await readArm('Read Automanage assignment', () =>
      this.#client.configurationProfileAssignments.get(group, ASSIGNMENT, vm),
    );
    return assignment === undefined ? undefined : toStatus(assignment);
  }

  async getProgress(vmId: string): Promise<OnboardingProgress | undefined> {
    const { group, vm } = vmAddress(vmId);
    // The reports are the assignment's children: a VM without an assignment has none to list.
    const reports = await readArm('List Automanage reports', () =>
      collect(this.#client.reports.listByConfigurationProfileAssignments(group, ASSIGNMENT, vm)),
    );
    if (reports === undefined) return undefined;
    const latest = reports.sort((a, b) => (b.startTime ?? '').localeCompare(a.startTime ?? ''))[0];
    const progress: OnboardingProgress =
      latest === undefined ? {} : { latestReport: toOnboardingReport(latest) };
    if (latest?.status === 'Conformant') return progress;
    const assignment = await this.getAssignment(vmId);
    if (assignment === undefined) return undefined;
    if (assignment.status !== undefined) progress.status = assignment.status;
    return progress;
  }

  async remove(vmId: string): Promise<void> {
    const { group, vm } = vmAddress(vmId);
    await readArm('Remove Automanage assignment', () =>
      this.#client.configurationProfileAssignments.delete(group, ASSIGNMENT, vm),
    );
  }
}

function vmAddress(vmId: string): { group: string; vm: string } {
  const group = armIdValue(vmId, 'resourceGroups');
  const vm = armIdValue(vmId, 'virtualMachines');
  if (group === undefined || vm === undefined) {
    throw new NonRetriableError(`'${vmId}' is not a virtual machine id`);
  }
  return { group, vm };
}

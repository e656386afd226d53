/**
 * Azure Migrate discovery and assessment (@azure/arm-migrate, api 2019-10-01): the project's
 * discovered machines joined with their results in one assessment, on the discovered VMware
 * machine's ARM id (`discoveryMachineArmId` = the assessed machine's `datacenterMachineArmId`).
 * Without a configured group and assessment, the most recently updated assessment is used.
 */

import { type AssessedMachine, AzureMigrateV2, type Machine } from '@azure/arm-migrate';
import type { TokenCredential } from '@azure/core-auth';
import type { FactoryConfig } from '../config';
import { NonRetriableError } from '../domain/errors';
import { type ArmClientOptions, armIdValue, callArm, collect } from './arm';
import type {
  AssessmentGateway,
  InventoryDisk,
  InventoryMachine,
  InventoryNic,
  RecommendedDiskType,
  Suitability,
} from './types';

const SUITABILITIES: readonly string[] = [
  'Suitable',
  'ConditionallySuitable',
  'NotSuitable',
  'ReadinessUnknown',
  'Unknown',
];
const DISK_TYPES: readonly string[] = ['Standard', 'StandardSSD', 'Premium', 'StandardOrPremium', 'Unknown'];

function suitabilityOf(value: string | undefined): Suitability {
  return value !== undefined && SUITABILITIES.includes(value) ? (value as Suitability) : 'Unknown';
}

const lower = (id: string | undefined) => (id ?? '').toLowerCase();

/** Joins a discovered machine with its assessed counterpart (if the assessment covers it). */
export function toInventoryMachine(
  machine: Machine,
  assessed: AssessedMachine | undefined,
): InventoryMachine {
  const p = machine.properties ?? {};
  const a = assessed?.properties;
  const machineId = p.discoveryMachineArmId ?? a?.datacenterMachineArmId ?? machine.id ?? '';
  const assessedDisks = a?.disks ?? {};
  const disks: InventoryDisk[] = Object.entries(p.disks ?? {}).map(([diskId, disk]) => {
    const result = assessedDisks[diskId];
    const recommended = result?.recommendedDiskType;
    const entry: InventoryDisk = { diskId };
    const displayName = disk.displayName ?? result?.displayName;
    if (displayName !== undefined) entry.displayName = displayName;
    const sizeGB = disk.gigabytesAllocated ?? result?.gigabytesProvisioned;
    if (sizeGB !== undefined) entry.sizeGB = sizeGB;
    if (recommended !== undefined && DISK_TYPES.includes(recommended)) {
      entry.recommendedDiskType = recommended as RecommendedDiskType;
    }
    if (result?.suitability !== undefined) entry.suitability = suitabilityOf(result.suitability);
    if (result?.suitabilityExplanation !== undefined && result.suitabilityExplanation !== 'NotApplicable') {
      entry.suitabilityExplanation = result.suitabilityExplanation;
    }
    return entry;
  });
  const nics: InventoryNic[] = Object.entries(p.networkAdapters ?? {}).map(([id, nic]) => ({
    id,
    ...(nic.macAddress === undefined ? {} : { macAddress: nic.macAddress }),
    ipAddresses: [...(nic.ipAddresses ?? [])],
  }));
  const record: InventoryMachine = {
    machineId,
    displayName: p.displayName ?? a?.displayName ?? armIdValue(machineId, 'machines') ?? machine.name ?? '',
    suitability: suitabilityOf(a?.suitability),
    disks,
    nics,
  };
  const optional: Partial<InventoryMachine> = {
    projectMachineId: machine.id,
    managementServerId: p.datacenterManagementServerArmId,
    bootType:
      p.bootType === 'BIOS' || p.bootType === 'EFI'
        ? p.bootType
        : p.bootType === undefined
          ? undefined
          : 'Unknown',
    osType: p.operatingSystemType,
    osName: p.operatingSystemName,
    osVersion: p.operatingSystemVersion,
    cores: p.numberOfCores,
    memoryMB: p.megabytesOfMemory,
    recommendedSize: a?.recommendedSize === 'Unknown' ? undefined : a?.recommendedSize,
    suitabilityExplanation:
      a?.suitabilityExplanation === undefined || a.suitabilityExplanation === 'NotApplicable'
        ? undefined
        : a.suitabilityExplanation,
  };
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined) (record as unknown as Record<string, unknown>)[key] = value;
  }
  return record;
}

export class MigrateAssessmentGateway implements AssessmentGateway {
  readonly #client: AzureMigrateV2;
  readonly #group: string;
  readonly #project: string;
  readonly #assessment: { group?: string; name?: string };

  constructor(config: FactoryConfig, credential: TokenCredential, options: ArmClientOptions) {
    this.#client = new AzureMigrateV2(credential, config.azure.subscriptionId, options);
    this.#group = config.migrate.resourceGroup;
    this.#project = config.migrate.assessmentProjectName;
    this.#assessment = { group: config.migrate.assessmentGroup, name: config.migrate.assessmentName };
  }

  async listInventory(): Promise<InventoryMachine[]> {
    const [machines, assessed] = await Promise.all([
      callArm('List discovered machines', () =>
        collect(this.#client.machines.listByProject(this.#group, this.#project)),
      ),
      this.#assessedMachines(),
    ]);
    const byMachine = new Map(assessed.map((a) => [lower(a.properties?.datacenterMachineArmId), a]));
    return machines.map((m) =>
      toInventoryMachine(m, byMachine.get(lower(m.properties?.discoveryMachineArmId))),
    );
  }

  async #assessedMachines(): Promise<AssessedMachine[]> {
    const { group, name } = await this.#whichAssessment();
    return callArm('List assessed machines', () =>
      collect(this.#client.assessedMachines.listByAssessment(this.#group, this.#project, group, name)),
    );
  }

  async #whichAssessment(): Promise<{ group: string; name: string }> {
    if (this.#assessment.group !== undefined && this.#assessment.name !== undefined) {
      return { group: this.#assessment.group, name: this.#assessment.name };
    }
    const all = await callArm('List assessments', () =>
      collect(this.#client.assessments.listByProject(this.#group, this.#project)),
    );
    const candidates = all.filter(
      (a) =>
        a.name !== undefined &&
        a.id !== undefined &&
        (this.#assessment.group === undefined ||
          lower(armIdValue(a.id, 'groups')) === lower(this.#assessment.group)),
    );
    const newest = candidates.sort(
      (x, y) =>
        (y.properties?.updatedTimestamp?.getTime() ?? 0) - (x.properties?.updatedTimestamp?.getTime() ?? 0),
    )[0];
    const group = newest?.id === undefined ? undefined : armIdValue(newest.id, 'groups');
    if (newest?.name === undefined || group === undefined) {
      throw new NonRetriableError(`Assessment project ${this.#project} has no assessment to read`);
    }
    return { group, name: newest.name };
  }
}

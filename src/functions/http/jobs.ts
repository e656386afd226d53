/**
 * From a checked plan to the work the orchestrations do: one `MachineJob` per machine (stored as
 * the machine's plan in the journal, read by the pipeline) and the compact `WaveMachine` list the
 * wave schedules. Pure.
 */
import type { MachineJob } from '../../activities/contract';
import type { EnableReplicationRequest, OnboardingProfile } from '../../azure/types';
import type { Inventory } from '../../domain/inventory';
import { parseVirtualNetworkId, virtualNetworkId } from '../../domain/inventory';
import type { Plan } from '../../domain/plan';
import type { ResolvedMachine } from '../../domain/resolve';
import { seedingMinutes, slotMinutes } from '../../domain/scheduling';
import type { WaveMachine } from '../../orchestrations/waveRules';

/**
 * Seeding rate assumed when Azure does not say (GB per hour, the estate example's). It only
 * ranks machines longest first, so its value does not matter, only that it is the same for all.
 */
export const NOMINAL_SEEDING_GB_PER_HOUR = 200;

/** A virtual network named in the plan (a name or an id) as a resource id in the landing zone. */
export function networkIdOf(value: string, subscriptionId: string, inventory: Inventory): string | undefined {
  if (parseVirtualNetworkId(value) !== undefined) return value;
  const matches = inventory.virtualNetworks.filter((v) => v.name.toLowerCase() === value.toLowerCase());
  if (matches.length !== 1) return undefined;
  const vnet = matches[0]!;
  return vnet.id ?? virtualNetworkId(subscriptionId, vnet.resourceGroup, vnet.name);
}

function onboardingOf(machine: ResolvedMachine): OnboardingProfile {
  const choice = machine.onboarding;
  if (choice.environment === 'Custom') return { kind: 'Custom', profileId: choice.profileId };
  return { kind: choice.environment };
}

function tagsOf(...maps: (Record<string, string> | undefined)[]): Record<string, string> | undefined {
  const merged = Object.assign({}, ...maps.filter((m) => m !== undefined)) as Record<string, string>;
  return Object.keys(merged).length === 0 ? undefined : merged;
}

/** The job of one checked, resolved machine. Throws when the plan was not checked against the inventory. */
export function machineJob(waveId: string, machine: ResolvedMachine, inventory: Inventory): MachineJob {
  const discovered = machine.discovered;
  if (discovered?.id === undefined || machine.appliance === undefined) {
    throw new Error(`${machine.sourceName} is not resolved against the inventory`);
  }
  const t = machine.target;
  const subscriptionId = t.subscriptionId ?? inventory.subscriptionId;
  const groupId = `/subscriptions/${subscriptionId}/resourceGroups/${t.resourceGroup}`;
  const targetNetworkId = networkIdOf(t.virtualNetwork, subscriptionId, inventory);
  if (targetNetworkId === undefined)
    throw new Error(`${machine.sourceName}: network ${t.virtualNetwork} is not known`);
  const testNetworkId =
    t.testNetwork === undefined ? undefined : networkIdOf(t.testNetwork, subscriptionId, inventory);
  const encryptionSetId =
    t.diskEncryption.type === 'platform' ? undefined : t.diskEncryption.diskEncryptionSetId;
  const vmTags = tagsOf(t.tags.all, t.tags.vm);
  const diskTags = tagsOf(t.tags.all, t.tags.disk);
  const nicTags = tagsOf(t.tags.all, t.tags.nic);
  const enable: EnableReplicationRequest = {
    machineId: discovered.id,
    disks: machine.disks.map((d) => ({
      diskId: d.id,
      isOSDisk: d.isOS,
      diskType: d.diskType,
      ...(encryptionSetId === undefined ? {} : { diskEncryptionSetId: encryptionSetId }),
    })),
    targetResourceGroupId: groupId,
    targetNetworkId,
    targetSubnetName: t.subnet,
    ...(testNetworkId === undefined ? {} : { testNetworkId }),
    ...(t.testSubnet === undefined ? {} : { testSubnetName: t.testSubnet }),
    targetVmName: machine.targetName,
    ...(machine.size === undefined ? {} : { targetVmSize: machine.size }),
    ...(t.availabilitySet === undefined
      ? {}
      : {
          targetAvailabilitySetId: `${groupId}/providers/Microsoft.Compute/availabilitySets/${t.availabilitySet}`,
        }),
    ...(t.availabilityZone === undefined ? {} : { targetAvailabilityZone: t.availabilityZone }),
    licenseType: t.licenseType,
    ...(t.sqlServerLicenseType === undefined ? {} : { sqlServerLicenseType: t.sqlServerLicenseType }),
    ...(vmTags === undefined ? {} : { vmTags }),
    ...(diskTags === undefined ? {} : { diskTags }),
    ...(nicTags === undefined ? {} : { nicTags }),
  };
  return {
    waveId,
    name: machine.sourceName,
    machineId: discovered.id,
    appliance: machine.appliance,
    enable,
    targetResourceGroup: t.resourceGroup,
    targetVmName: machine.targetName,
    performShutdown: machine.shutdownSource,
    ...(t.osUpgradeVersion === undefined ? {} : { osUpgradeVersion: t.osUpgradeVersion }),
    skipTestMigration: !machine.testMigration,
    diskGB: machine.disks.reduce((sum, d) => sum + d.sizeGB, 0),
    onboarding: onboardingOf(machine),
  };
}

/** The machine as the wave schedules it: its appliance and how long it holds a slot. */
export function waveMachine(machine: ResolvedMachine, inventory: Inventory): WaveMachine {
  const rate =
    inventory.appliances.find((a) => a.name.toLowerCase() === machine.appliance?.toLowerCase())
      ?.seedingGBPerHour ?? NOMINAL_SEEDING_GB_PER_HOUR;
  const totalGB = machine.disks.reduce((sum, d) => sum + d.sizeGB, 0);
  return {
    name: machine.sourceName,
    appliance: machine.appliance ?? '',
    slotMinutes: slotMinutes(seedingMinutes(totalGB, rate), machine.testMigration),
    ...(machine.priority === undefined ? {} : { priority: machine.priority }),
  };
}

/** Target resource groups a plan names, for the landing-zone lookups. */
export function targetGroupsOf(plan: Pick<Plan, 'machines'>): string[] {
  const groups = new Map<string, string>();
  for (const m of plan.machines) groups.set(m.target.resourceGroup.toLowerCase(), m.target.resourceGroup);
  return [...groups.values()];
}

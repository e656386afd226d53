/**
 * The inventory a submitted plan is checked against, read from Azure through the gateways: the
 * discovered and assessed machines, the appliances that discovered them, and the landing zone
 * (networks, the target resource groups and the VMs already in them, VM sizes of the region).
 */
import type { AzureGateways, InventoryMachine as DiscoveredMachine } from '../../azure/types';
import { AzureOperationError } from '../../domain/errors';
import type { AssessedDiskType, Inventory, InventoryMachine } from '../../domain/inventory';

/**
 * The appliance that discovered a machine, from its ARM id: Azure Migrate names an appliance's
 * VMware site `<appliance>site` (`.../Microsoft.OffAzure/VMwareSites/{site}/machines/{machine}`).
 */
export function applianceOfMachineId(machineId: string): string | undefined {
  const site = /\/VMwareSites\/([^/]+)\//i.exec(machineId)?.[1];
  if (site === undefined) return undefined;
  return site.toLowerCase().endsWith('site') && site.length > 4 ? site.slice(0, -4) : site;
}

export function toInventoryMachine(machine: DiscoveredMachine): InventoryMachine {
  const appliance = applianceOfMachineId(machine.machineId);
  const diskTypes: Record<string, AssessedDiskType> = {};
  for (const disk of machine.disks) {
    if (disk.recommendedDiskType !== undefined) diskTypes[disk.diskId] = disk.recommendedDiskType;
  }
  return {
    id: machine.machineId,
    name: machine.displayName,
    ...(appliance === undefined ? {} : { appliance }),
    os: {
      type: machine.osType ?? 'Unknown',
      ...(machine.osName === undefined ? {} : { name: machine.osName }),
    },
    disks: machine.disks.map((d) => ({ id: d.diskId, sizeGB: d.sizeGB ?? 0 })),
    nics: machine.nics.map((n) => ({
      id: n.id,
      ...(n.macAddress === undefined ? {} : { mac: n.macAddress }),
      ips: n.ipAddresses,
    })),
    assessment: {
      suitability: machine.suitability,
      explanations: machine.suitabilityExplanation === undefined ? [] : [machine.suitabilityExplanation],
      ...(machine.recommendedSize === undefined ? {} : { recommendedSize: machine.recommendedSize }),
      diskTypes,
    },
  };
}

export interface LoadedInventory {
  inventory: Inventory;
  /** VM sizes offered to the subscription in the target region. */
  vmSizes: string[];
}

/** Reads everything a plan is checked against; `targetGroups` are the resource groups the plan names. */
export async function loadInventory(
  azure: AzureGateways,
  settings: { subscriptionId: string; maxReplicationsPerAppliance: number },
  targetGroups: readonly string[],
): Promise<LoadedInventory> {
  const [discovered, vnets] = await Promise.all([
    azure.assessment.listInventory(),
    azure.network.listVnets(),
  ]);
  const groups = await Promise.all(
    targetGroups.map(async (group) => {
      try {
        return { group, vms: await azure.compute.listVms(group) };
      } catch (error) {
        if (error instanceof AzureOperationError && error.statusCode === 404) return undefined;
        throw error;
      }
    }),
  );
  const existing = groups.filter((g) => g !== undefined);
  const location = vnets[0]?.location ?? '';
  const machines = discovered.map(toInventoryMachine);
  const appliances = [...new Set(machines.map((m) => m.appliance).filter((a) => a !== undefined))].map(
    (name) => ({
      name,
      maxConcurrentReplications: settings.maxReplicationsPerAppliance,
    }),
  );
  const resourceGroups = new Map<string, { name: string; location?: string }>();
  for (const vnet of vnets)
    resourceGroups.set(vnet.resourceGroup.toLowerCase(), { name: vnet.resourceGroup });
  for (const { group } of existing) resourceGroups.set(group.toLowerCase(), { name: group });
  const skus = location === '' ? [] : await azure.compute.listSkus(location);
  return {
    inventory: {
      subscriptionId: settings.subscriptionId,
      location,
      appliances,
      machines,
      resourceGroups: [...resourceGroups.values()],
      virtualNetworks: vnets.map((v) => ({
        id: v.id,
        resourceGroup: v.resourceGroup,
        name: v.name,
        location: v.location,
        addressPrefixes: v.addressPrefixes,
        subnets: v.subnets.map((s) => ({
          name: s.name,
          ...(s.addressPrefix === undefined ? {} : { addressPrefix: s.addressPrefix }),
        })),
      })),
      virtualMachines: existing.flatMap(({ group, vms }) =>
        vms.map((vm) => ({ resourceGroup: group, name: vm.name })),
      ),
    },
    vmSizes: skus.filter((s) => !s.restricted).map((s) => s.name),
  };
}

/**
 * What the factory knows about the estate when it checks or resolves a plan: the machines as
 * Azure Migrate discovered and assessed them, the appliances, and the landing zone. The API
 * builds it from Azure through the gateways; the CLI builds it from an estate file. Optional
 * lists are checked only when present (an absent list means "not known", not "empty").
 */

export type Suitability =
  | 'Suitable'
  | 'ConditionallySuitable'
  | 'NotSuitable'
  | 'ReadinessUnknown'
  | 'Unknown';

/** Disk types as the assessment recommends them (`recommendedDiskType`). */
export type AssessedDiskType = 'Standard' | 'StandardSSD' | 'Premium' | 'StandardOrPremium' | 'Unknown';

export interface InventoryDisk {
  /** The VMware disk uuid (`diskId` in the enable input, OS_DISK_ID in Input.csv). */
  id: string;
  sizeGB: number;
  isOS?: boolean;
}

export interface InventoryNic {
  id?: string;
  mac?: string;
  /** On-premises IPv4 or IPv6 addresses of the NIC. */
  ips: string[];
}

export interface InventoryAssessment {
  suitability: Suitability;
  /** `suitabilityExplanation` values, e.g. GuestOperatingSystemNotSupported. */
  explanations: string[];
  recommendedSize?: string;
  /** Recommended type per disk id. */
  diskTypes: Record<string, AssessedDiskType>;
}

export interface InventoryMachine {
  /** Discovered machine resource id, when known (the join key to the assessment). */
  id?: string;
  /** vCenter display name. */
  name: string;
  appliance?: string;
  os: { type: string; name?: string };
  disks: InventoryDisk[];
  nics: InventoryNic[];
  assessment?: InventoryAssessment;
  tags?: Record<string, string>;
}

export interface InventoryAppliance {
  name: string;
  maxConcurrentReplications: number;
  /** Initial-seeding throughput per machine, GB per hour, when known. */
  seedingGBPerHour?: number;
}

export interface InventoryVirtualNetwork {
  /** Resource id; derived from subscription, group and name when absent. */
  id?: string;
  resourceGroup: string;
  name: string;
  location?: string;
  addressPrefixes: string[];
  subnets: { name: string; addressPrefix?: string }[];
}

export interface Inventory {
  /** The landing-zone subscription: landing-zone checks apply to targets in it. */
  subscriptionId: string;
  /** The target region of the migration (the project's replication region). */
  location: string;
  appliances: InventoryAppliance[];
  machines: InventoryMachine[];
  resourceGroups: { name: string; location?: string }[];
  virtualNetworks: InventoryVirtualNetwork[];
  /** Existing VMs in the landing zone (names are unique per resource group). */
  virtualMachines?: { resourceGroup: string; name: string }[];
  availabilitySets?: { resourceGroup: string; name: string }[];
}

export function virtualNetworkId(subscriptionId: string, resourceGroup: string, name: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Network/virtualNetworks/${name}`;
}

/** The parts of a virtual network resource id, or undefined if `value` is a plain name. */
export function parseVirtualNetworkId(
  value: string,
): { subscriptionId: string; resourceGroup: string; name: string } | undefined {
  const match =
    /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Network\/virtualNetworks\/([^/]+)$/i.exec(
      value,
    );
  return match ? { subscriptionId: match[1]!, resourceGroup: match[2]!, name: match[3]! } : undefined;
}

/** Estate file (contracts.md section 1) shape, as far as the inventory needs it. */
export interface EstateLike {
  subscriptionId: string;
  location: string;
  appliances: InventoryAppliance[];
  resourceGroups: { name: string; location?: string }[];
  virtualNetworks: Omit<InventoryVirtualNetwork, 'id'>[];
  machines: (Omit<InventoryMachine, 'nics' | 'id'> & {
    nics: { id?: string; mac?: string; ip?: string }[];
  })[];
}

/** The inventory an estate file describes: the estate's machines with their assessment, and its landing zone. */
export function inventoryFromEstate(estate: EstateLike): Inventory {
  return {
    subscriptionId: estate.subscriptionId,
    location: estate.location,
    appliances: estate.appliances.map((a) => ({ ...a })),
    resourceGroups: estate.resourceGroups.map((g) => ({ ...g })),
    virtualNetworks: estate.virtualNetworks.map((v) => ({
      ...v,
      id: virtualNetworkId(estate.subscriptionId, v.resourceGroup, v.name),
    })),
    machines: estate.machines.map((m) => ({
      ...m,
      nics: m.nics.map((n) => ({
        ...(n.id === undefined ? {} : { id: n.id }),
        ...(n.mac === undefined ? {} : { mac: n.mac }),
        ips: n.ip ? [n.ip] : [],
      })),
    })),
    virtualMachines: [],
  };
}

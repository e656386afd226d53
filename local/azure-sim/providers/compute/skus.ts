/**
 * The VM sizes a region offers, as `Microsoft.Compute/skus` lists them: the B, D, E and F families
 * of recent generations with their published vCPU and memory figures.
 */
export interface VmSize {
  name: string;
  family: string;
  vCPUs: number;
  memoryGB: number;
  premiumIO: boolean;
  maxDataDisks: number;
}

interface Series {
  /** e.g. `Standard_D{n}s_v5` with `{n}` the vCPU count. */
  pattern: string;
  family: string;
  vcpus: number[];
  /** GiB of memory per vCPU. */
  memoryPerVcpu: number;
  premiumIO: boolean;
}

const SERIES: Series[] = [
  {
    pattern: 'Standard_D{n}s_v5',
    family: 'standardDSv5Family',
    vcpus: [2, 4, 8, 16, 32, 48, 64, 96],
    memoryPerVcpu: 4,
    premiumIO: true,
  },
  {
    pattern: 'Standard_D{n}ds_v5',
    family: 'standardDDSv5Family',
    vcpus: [2, 4, 8, 16, 32, 48, 64, 96],
    memoryPerVcpu: 4,
    premiumIO: true,
  },
  {
    pattern: 'Standard_D{n}_v5',
    family: 'standardDv5Family',
    vcpus: [2, 4, 8, 16, 32, 48, 64, 96],
    memoryPerVcpu: 4,
    premiumIO: false,
  },
  {
    pattern: 'Standard_D{n}as_v5',
    family: 'standardDASv5Family',
    vcpus: [2, 4, 8, 16, 32, 48, 64, 96],
    memoryPerVcpu: 4,
    premiumIO: true,
  },
  {
    pattern: 'Standard_D{n}s_v6',
    family: 'standardDSv6Family',
    vcpus: [2, 4, 8, 16, 32, 48, 64, 96, 128],
    memoryPerVcpu: 4,
    premiumIO: true,
  },
  {
    pattern: 'Standard_E{n}s_v5',
    family: 'standardESv5Family',
    vcpus: [2, 4, 8, 16, 20, 32, 48, 64, 96],
    memoryPerVcpu: 8,
    premiumIO: true,
  },
  {
    pattern: 'Standard_E{n}as_v5',
    family: 'standardEASv5Family',
    vcpus: [2, 4, 8, 16, 20, 32, 48, 64, 96],
    memoryPerVcpu: 8,
    premiumIO: true,
  },
  {
    pattern: 'Standard_E{n}s_v6',
    family: 'standardESv6Family',
    vcpus: [2, 4, 8, 16, 20, 32, 48, 64, 96, 128],
    memoryPerVcpu: 8,
    premiumIO: true,
  },
  {
    pattern: 'Standard_F{n}s_v2',
    family: 'standardFSv2Family',
    vcpus: [2, 4, 8, 16, 32, 48, 64, 72],
    memoryPerVcpu: 2,
    premiumIO: true,
  },
];

/** The burstable B-series does not follow a fixed memory ratio. */
const B_SERIES: [string, number, number][] = [
  ['Standard_B1s', 1, 1],
  ['Standard_B1ms', 1, 2],
  ['Standard_B2s', 2, 4],
  ['Standard_B2ms', 2, 8],
  ['Standard_B4ms', 4, 16],
  ['Standard_B8ms', 8, 32],
  ['Standard_B12ms', 12, 48],
  ['Standard_B16ms', 16, 64],
  ['Standard_B20ms', 20, 80],
];

/** Azure's limit of data disks: 2 per vCPU, at most 64 (B-series: a little lower for small sizes). */
function maxDataDisks(vcpus: number): number {
  return Math.min(64, Math.max(2, vcpus * 2));
}

export const VM_SIZES: VmSize[] = [
  ...B_SERIES.map(([name, vCPUs, memoryGB]) => ({
    name,
    family: 'standardBSFamily',
    vCPUs,
    memoryGB,
    premiumIO: true,
    maxDataDisks: maxDataDisks(vCPUs),
  })),
  ...SERIES.flatMap((series) =>
    series.vcpus.map((n) => ({
      name: series.pattern.replace('{n}', String(n)),
      family: series.family,
      vCPUs: n,
      memoryGB: n * series.memoryPerVcpu,
      premiumIO: series.premiumIO,
      maxDataDisks: maxDataDisks(n),
    })),
  ),
];

const BY_NAME = new Map(VM_SIZES.map((s) => [s.name.toLowerCase(), s]));

export function findVmSize(name: string): VmSize | undefined {
  return BY_NAME.get(name.toLowerCase());
}

/** One `ResourceSku` of resource type virtualMachines, as the skus API answers it. */
export function skuResource(size: VmSize, location: string) {
  return {
    resourceType: 'virtualMachines',
    name: size.name,
    tier: 'Standard',
    size: size.name.replace(/^Standard_/, ''),
    family: size.family,
    locations: [location],
    locationInfo: [{ location, zones: ['1', '2', '3'], zoneDetails: [] }],
    capabilities: [
      { name: 'MaxResourceVolumeMB', value: String(size.name.includes('s_v6') ? 0 : size.vCPUs * 32768) },
      { name: 'OSVhdSizeMB', value: '1047552' },
      { name: 'vCPUs', value: String(size.vCPUs) },
      { name: 'MemoryPreservingMaintenanceSupported', value: 'True' },
      { name: 'HyperVGenerations', value: size.name.includes('_v6') ? 'V2' : 'V1,V2' },
      { name: 'MemoryGB', value: String(size.memoryGB) },
      { name: 'MaxDataDiskCount', value: String(size.maxDataDisks) },
      { name: 'CpuArchitectureType', value: 'x64' },
      { name: 'LowPriorityCapable', value: size.family === 'standardBSFamily' ? 'False' : 'True' },
      { name: 'PremiumIO', value: size.premiumIO ? 'True' : 'False' },
      { name: 'VMDeploymentTypes', value: 'IaaS' },
      { name: 'vCPUsAvailable', value: String(size.vCPUs) },
      { name: 'vCPUsPerCore', value: size.family === 'standardBSFamily' ? '1' : '2' },
      { name: 'EncryptionAtHostSupported', value: 'True' },
      { name: 'AcceleratedNetworkingEnabled', value: size.vCPUs >= 2 ? 'True' : 'False' },
      { name: 'RdmaEnabled', value: 'False' },
      { name: 'MaxNetworkInterfaces', value: String(Math.min(8, Math.max(2, size.vCPUs / 2))) },
    ],
    restrictions: [],
  };
}

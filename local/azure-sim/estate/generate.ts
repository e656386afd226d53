/**
 * A realistic estate of `n` machines, the same for the same seed: a mix of Windows and Linux
 * versions (with a few legacy ones the assessment finds unsuitable), sizes and disks, one
 * appliance per 300 machines (its replication limit), and a landing zone with production and test
 * networks whose address spaces do not overlap the on-premises 192.168.0.0/16.
 */
import { seededUuid } from '../framework/ids';
import { createRandomStreams, type RandomStreams } from '../framework/random';
import { VM_SIZES } from '../providers/compute/skus';
import type { Estate, EstateMachine } from './schema';

/** Machines per appliance: the simultaneous replications one appliance allows. */
const MACHINES_PER_APPLIANCE = 300;

interface OsChoice {
  type: 'Windows' | 'Linux';
  name: string;
  weight: number;
  suitability: EstateMachine['assessment']['suitability'];
  explanations: string[];
}

const OSES: OsChoice[] = [
  {
    type: 'Windows',
    name: 'Microsoft Windows Server 2022 (64-bit)',
    weight: 20,
    suitability: 'Suitable',
    explanations: [],
  },
  {
    type: 'Windows',
    name: 'Microsoft Windows Server 2019 (64-bit)',
    weight: 25,
    suitability: 'Suitable',
    explanations: [],
  },
  {
    type: 'Windows',
    name: 'Microsoft Windows Server 2016 (64-bit)',
    weight: 14,
    suitability: 'Suitable',
    explanations: [],
  },
  {
    type: 'Windows',
    name: 'Microsoft Windows Server 2012 R2 (64-bit)',
    weight: 5,
    suitability: 'ConditionallySuitable',
    explanations: ['WindowsServerVersionConditionallySupported'],
  },
  {
    type: 'Windows',
    name: 'Microsoft Windows Server 2008 R2 (64-bit)',
    weight: 2,
    suitability: 'ConditionallySuitable',
    explanations: ['WindowsServerVersionConditionallySupported'],
  },
  {
    type: 'Windows',
    name: 'Microsoft Windows Server 2003 Standard (32-bit)',
    weight: 1.5,
    suitability: 'NotSuitable',
    explanations: ['GuestOperatingSystemNotSupported'],
  },
  {
    type: 'Linux',
    name: 'Red Hat Enterprise Linux 8 (64-bit)',
    weight: 10,
    suitability: 'Suitable',
    explanations: [],
  },
  {
    type: 'Linux',
    name: 'Ubuntu Linux 22.04 (64-bit)',
    weight: 8,
    suitability: 'Suitable',
    explanations: [],
  },
  {
    type: 'Linux',
    name: 'Ubuntu Linux 20.04 (64-bit)',
    weight: 5,
    suitability: 'Suitable',
    explanations: [],
  },
  {
    type: 'Linux',
    name: 'SUSE Linux Enterprise 15 (64-bit)',
    weight: 3,
    suitability: 'Suitable',
    explanations: [],
  },
  {
    type: 'Linux',
    name: 'CentOS 7 (64-bit)',
    weight: 4,
    suitability: 'ConditionallySuitable',
    explanations: ['EndorsedWithConditionsLinuxDistributions'],
  },
  {
    type: 'Linux',
    name: 'CentOS 6 (64-bit)',
    weight: 1.5,
    suitability: 'NotSuitable',
    explanations: ['GuestOperatingSystemNotSupported'],
  },
];

const ROLES = [
  'web',
  'app',
  'api',
  'sql',
  'file',
  'dc',
  'batch',
  'mq',
  'cache',
  'mon',
  'jump',
  'print',
  'erp',
  'crm',
  'sap',
];
const CORES = [1, 2, 2, 4, 4, 4, 8, 8, 16, 32];
/** GiB of memory per core: compute-, general- and memory-optimised workloads. */
const MEMORY_PER_CORE = [2, 4, 4, 8];

export function generateEstate(n: number, seed: number): Estate {
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`the number of machines must be a whole number >= 0, got ${n}`);
  const random = createRandomStreams(seed);
  const applianceCount = Math.max(1, Math.ceil(n / MACHINES_PER_APPLIANCE));
  const appliances = Array.from({ length: applianceCount }, (_, i) => ({
    name: `contoso-app${String(i + 1).padStart(2, '0')}`,
    maxConcurrentReplications: MACHINES_PER_APPLIANCE,
    seedingGBPerHour: 150 + Math.floor(random('appliances') * 11) * 10,
  }));
  const machines = Array.from({ length: n }, (_, i) =>
    machine(random, i, appliances[Math.floor(i / MACHINES_PER_APPLIANCE)]!.name),
  );
  return {
    subscriptionId: seededUuid(random, 'ids'),
    location: 'westeurope',
    migrateProject: {
      resourceGroup: 'rg-migrate',
      name: 'contoso-migrate',
      vault: 'contoso-migrate-vault',
      assessmentGroup: 'all',
      assessment: 'default',
    },
    appliances,
    resourceGroups: [
      { name: 'rg-prod', location: 'westeurope' },
      { name: 'rg-dev', location: 'westeurope' },
      { name: 'rg-net', location: 'westeurope' },
    ],
    virtualNetworks: [
      {
        resourceGroup: 'rg-net',
        name: 'vnet-prod',
        addressPrefixes: ['10.10.0.0/16'],
        subnets: [
          { name: 'default', addressPrefix: '10.10.0.0/22' },
          { name: 'app', addressPrefix: '10.10.4.0/22' },
          { name: 'data', addressPrefix: '10.10.8.0/22' },
        ],
      },
      {
        resourceGroup: 'rg-net',
        name: 'vnet-test',
        addressPrefixes: ['10.20.0.0/16'],
        subnets: [{ name: 'default', addressPrefix: '10.20.0.0/20' }],
      },
    ],
    machines,
  };
}

function pick<T>(random: RandomStreams, stream: string, items: readonly T[]): T {
  return items[Math.floor(random(stream) * items.length)]!;
}

function pickOs(random: RandomStreams): OsChoice {
  const total = OSES.reduce((sum, os) => sum + os.weight, 0);
  let roll = random('os') * total;
  for (const os of OSES) {
    roll -= os.weight;
    if (roll < 0) return os;
  }
  return OSES[0]!;
}

/** The smallest size of the family that suits the memory ratio and holds the machine. */
function recommendedSize(cores: number, memoryGB: number): string | undefined {
  const ratio = memoryGB / cores;
  const series =
    ratio <= 2 ? /^Standard_F\d+s_v2$/ : ratio <= 4 ? /^Standard_D\d+s_v5$/ : /^Standard_E\d+s_v5$/;
  return VM_SIZES.filter((s) => series.test(s.name) && s.vCPUs >= cores && s.memoryGB >= memoryGB).sort(
    (a, b) => a.vCPUs - b.vCPUs,
  )[0]?.name;
}

function hex(value: number, width: number): string {
  return value.toString(16).padStart(width, '0');
}

function machine(random: RandomStreams, i: number, appliance: string): EstateMachine {
  const os = pickOs(random);
  const production = random('environment') < 0.7;
  const role = pick(random, 'roles', ROLES);
  const name = `${production ? 'prd' : 'dev'}-${role}-${String(i + 1).padStart(4, '0')}`;
  const cores = pick(random, 'cores', CORES);
  const memoryGB = cores * pick(random, 'memory', MEMORY_PER_CORE);
  const legacyBoot = os.name.includes('2003') || os.name.includes('2008') || os.name.includes('CentOS 6');
  const bootType = !legacyBoot && random('boot') < 0.3 ? 'EFI' : 'BIOS';
  const osDiskGB =
    os.type === 'Windows' ? pick(random, 'disks', [128, 128, 256]) : pick(random, 'disks', [32, 64, 64, 128]);
  const dataDiskCount = Math.floor(random('disks') * 4);
  const diskId = (d: number) => `6000C29${hex(i % 16, 1)}-${hex(i, 4)}-${hex(d + 1, 4)}`;
  const disks: EstateMachine['disks'] = [
    { id: diskId(0), sizeGB: osDiskGB, isOS: true },
    ...Array.from({ length: dataDiskCount }, (_, d) => ({
      id: diskId(d + 1),
      sizeGB: pick(random, 'disks', [128, 256, 512, 1024, 2048]),
    })),
  ];
  const oversizedDisk = random('oversized') < 0.01;
  if (oversizedDisk) disks[0]!.sizeGB = 3072;
  const nicCount = random('nics') < 0.1 ? 2 : 1;
  const nics = Array.from({ length: nicCount }, (_, k) => ({
    id: String(4000 + k),
    mac: `00:50:56:${hex((i >> 8) & 0xff, 2)}:${hex(i & 0xff, 2)}:${hex(k + 1, 2)}`,
    ip: `192.168.${10 + k * 100 + Math.floor(i / 240)}.${(i % 240) + 10}`,
  }));
  let suitability = os.suitability;
  let explanations = [...os.explanations];
  if (oversizedDisk) {
    suitability = 'NotSuitable';
    explanations = ['OneOrMoreDisksNotSuitable', ...explanations];
  }
  const size = suitability === 'NotSuitable' ? undefined : recommendedSize(cores, memoryGB);
  return {
    name,
    appliance,
    os: { type: os.type, name: os.name },
    bootType,
    cores,
    memoryMB: memoryGB * 1024,
    powerState: random('power') < 0.95 ? 'On' : 'Off',
    disks,
    nics,
    assessment: {
      suitability,
      explanations,
      ...(size === undefined ? {} : { recommendedSize: size }),
      diskTypes: Object.fromEntries(
        disks.map((d) => [
          d.id,
          d.isOS ? (production ? 'Premium' : 'StandardSSD') : production ? 'Premium' : 'Standard',
        ]),
      ),
    },
    tags: { environment: production ? 'Production' : 'Development', role },
  };
}

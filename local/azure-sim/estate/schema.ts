/**
 * The estate file (contracts.md section 1): what the simulated Azure starts with. Parsing checks
 * each field and then the references between them, so a bad file is refused with every problem.
 */
import { z } from 'zod';

const name = z.string().min(1);
const cidr = z
  .string()
  .regex(
    /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/,
    'must be an IPv4 CIDR such as 10.10.0.0/16',
  )
  .refine(
    (value) => parseCidr(value) !== undefined,
    'must be an IPv4 CIDR with octets 0-255 and prefix 0-32',
  );

export const SUITABILITIES = [
  'Suitable',
  'ConditionallySuitable',
  'NotSuitable',
  'ReadinessUnknown',
  'Unknown',
] as const;
export const DISK_TYPES = ['Standard', 'StandardSSD', 'Premium', 'StandardOrPremium', 'Unknown'] as const;

const diskSchema = z.strictObject({
  id: name,
  sizeGB: z.number().positive(),
  isOS: z.boolean().optional(),
});

const nicSchema = z.strictObject({
  id: name,
  mac: z
    .string()
    .regex(/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/, 'must be a MAC address such as 00:50:56:aa:00:01'),
  ip: z.string().optional(),
});

const machineSchema = z.strictObject({
  name,
  appliance: name,
  os: z.strictObject({ type: z.enum(['Windows', 'Linux']), name }),
  bootType: z.enum(['BIOS', 'EFI']),
  cores: z.number().int().positive(),
  memoryMB: z.number().int().positive(),
  powerState: z.enum(['On', 'Off']),
  disks: z.array(diskSchema).min(1),
  nics: z.array(nicSchema),
  assessment: z.strictObject({
    suitability: z.enum(SUITABILITIES),
    explanations: z.array(z.string()),
    recommendedSize: z.string().optional(),
    diskTypes: z.record(z.string(), z.enum(DISK_TYPES)),
  }),
  tags: z.record(z.string(), z.string()).optional(),
});

/** Overrides of the timing model (contracts.md section 3), in virtual minutes. */
const timingSchema = z.strictObject({
  enableReplicationMinutes: z.number().nonnegative().optional(),
  deltaCycleMinutes: z.number().positive().optional(),
  testMigrateMinutes: z.number().nonnegative().optional(),
  testCleanupMinutes: z.number().nonnegative().optional(),
  migrateMinutes: z.number().nonnegative().optional(),
  completeMinutes: z.number().nonnegative().optional(),
  onboardingMinutes: z.number().nonnegative().optional(),
});

export const estateSchema = z
  .strictObject({
    subscriptionId: z.guid(),
    location: name,
    migrateProject: z.strictObject({
      resourceGroup: name,
      name,
      vault: name,
      assessmentGroup: name,
      assessment: name,
    }),
    appliances: z
      .array(
        z.strictObject({
          name,
          maxConcurrentReplications: z.number().int().positive(),
          seedingGBPerHour: z.number().positive(),
        }),
      )
      .min(1),
    resourceGroups: z.array(z.strictObject({ name, location: name })),
    virtualNetworks: z.array(
      z.strictObject({
        resourceGroup: name,
        name,
        addressPrefixes: z.array(cidr).min(1),
        subnets: z.array(z.strictObject({ name, addressPrefix: cidr })),
      }),
    ),
    machines: z.array(machineSchema),
    timing: timingSchema.optional(),
  })
  .superRefine((estate, ctx) => {
    const problem = (path: (string | number)[], message: string) =>
      ctx.addIssue({ code: 'custom', path, message });
    const flagRepeats = (values: string[], path: (i: number) => (string | number)[], message: string) => {
      for (const i of duplicates(values)) problem(path(i), message);
    };
    flagRepeats(
      estate.appliances.map((a) => a.name),
      (i) => ['appliances', i, 'name'],
      'duplicate appliance name',
    );
    flagRepeats(
      estate.resourceGroups.map((g) => g.name.toLowerCase()),
      (i) => ['resourceGroups', i, 'name'],
      'duplicate resource group name',
    );
    flagRepeats(
      estate.virtualNetworks.map((v) => `${v.resourceGroup}/${v.name}`.toLowerCase()),
      (i) => ['virtualNetworks', i, 'name'],
      'duplicate virtual network in its resource group',
    );
    flagRepeats(
      estate.machines.map((m) => m.name.toLowerCase()),
      (i) => ['machines', i, 'name'],
      'duplicate machine name',
    );
    const appliances = new Set(estate.appliances.map((a) => a.name));
    const diskIds = new Map<string, number>();
    estate.machines.forEach((machine, m) => {
      if (!appliances.has(machine.appliance)) {
        problem(['machines', m, 'appliance'], `unknown appliance '${machine.appliance}'`);
      }
      const osDisks = machine.disks.filter((d) => d.isOS === true).length;
      if (osDisks !== 1) problem(['machines', m, 'disks'], `needs exactly one OS disk, has ${osDisks}`);
      machine.disks.forEach((disk, d) => {
        const other = diskIds.get(disk.id);
        if (other !== undefined) {
          problem(['machines', m, 'disks', d, 'id'], `disk id also used by machine ${other + 1}`);
        }
        diskIds.set(disk.id, m);
      });
      const ownDisks = new Set(machine.disks.map((d) => d.id));
      for (const diskId of Object.keys(machine.assessment.diskTypes)) {
        if (!ownDisks.has(diskId)) {
          problem(['machines', m, 'assessment', 'diskTypes', diskId], 'not a disk of this machine');
        }
      }
    });
    estate.virtualNetworks.forEach((vnet, v) => {
      const spaces = vnet.addressPrefixes.map(parseCidr);
      flagRepeats(
        vnet.subnets.map((s) => s.name.toLowerCase()),
        (i) => ['virtualNetworks', v, 'subnets', i, 'name'],
        'duplicate subnet name',
      );
      vnet.subnets.forEach((subnet, s) => {
        const range = parseCidr(subnet.addressPrefix);
        if (range && !spaces.some((space) => space && contains(space, range))) {
          problem(
            ['virtualNetworks', v, 'subnets', s, 'addressPrefix'],
            'is outside the address space of its virtual network',
          );
        }
      });
    });
  });

export type Estate = z.infer<typeof estateSchema>;
export type EstateMachine = Estate['machines'][number];
export type EstateTiming = NonNullable<Estate['timing']>;

interface Range {
  start: number;
  end: number;
}

/** An IPv4 CIDR as an inclusive integer range, or undefined if malformed. */
export function parseCidr(value: string): Range | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value);
  if (!match) return undefined;
  const octets = match.slice(1, 5).map(Number);
  const prefix = Number(match[5]);
  if (octets.some((o) => o > 255) || prefix > 32) return undefined;
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  const start = Math.floor(address / size) * size;
  return { start, end: start + size - 1 };
}

function contains(outer: Range, inner: Range): boolean {
  return inner.start >= outer.start && inner.end <= outer.end;
}

export function overlaps(a: Range, b: Range): boolean {
  return a.start <= b.end && b.start <= a.end;
}

/** Indexes of the entries that repeat an earlier one. */
function duplicates(values: string[]): number[] {
  const seen = new Set<string>();
  const repeated: number[] = [];
  values.forEach((value, i) => {
    if (seen.has(value)) repeated.push(i);
    seen.add(value);
  });
  return repeated;
}

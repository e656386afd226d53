/**
 * The wave plan: one zod schema is the validator, the TypeScript types and the JSON Schema the
 * HTTP API publishes. Field meanings follow the Site Recovery enable-migration input
 * (`VMwareCbtEnableMigrationInput`) and Microsoft's Input.csv (spec/azure-facts.md).
 */
import { z } from 'zod';
import { vmNameProblem } from './names';
import type { Locator, Problem, ProblemCode } from './problems';

/** Managed disk types a VMwareCbt migration accepts (`KnownDiskAccountType`, siterecovery 5.x). */
export const DISK_TYPES = ['Premium_LRS', 'StandardSSD_LRS', 'Standard_LRS'] as const;
export const LICENSE_TYPES = ['WindowsServer', 'NoLicenseType'] as const;
export const SQL_SERVER_LICENSE_TYPES = ['NoLicenseType', 'PAYG', 'AHUB'] as const;
export const AVAILABILITY_ZONES = ['1', '2', '3'] as const;
export const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;

/** Azure allows at most 50 tags on a resource. */
export const MAX_TAGS_PER_RESOURCE = 50;

export type DiskType = (typeof DISK_TYPES)[number];

const text = z.string().min(1);
const armId = z
  .string()
  .regex(/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/.+/i, 'must be an Azure resource id');
const profileId = z.string().regex(/^\/(subscriptions|providers)\//i, 'must be a configuration profile id');

const tagMap = z.record(
  z
    .string()
    .min(1)
    .max(512)
    .regex(/^[^<>%&\\?/]*$/, 'tag names must not contain < > % & \\ ? /'),
  z.string().max(256),
);

const recurringWindow = z.strictObject({
  days: z.array(z.enum(WEEKDAYS)).min(1),
  /** Opening time of day, UTC, HH:MM. */
  start: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (UTC)'),
  durationMinutes: z
    .number()
    .int()
    .positive()
    .max(24 * 60),
});

const cutoverSchema = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('auto') }),
  z.strictObject({ mode: z.literal('approval') }),
  z
    .strictObject({
      mode: z.literal('window'),
      start: z.iso.datetime({ offset: true }).optional(),
      end: z.iso.datetime({ offset: true }).optional(),
      recurring: recurringWindow.optional(),
    })
    .superRefine((window, ctx) => {
      const absolute = window.start !== undefined || window.end !== undefined;
      if (absolute === (window.recurring !== undefined)) {
        ctx.addIssue({ code: 'custom', message: 'give either start and end, or recurring' });
      } else if (absolute && (window.start === undefined || window.end === undefined)) {
        ctx.addIssue({ code: 'custom', message: 'a window needs both start and end' });
      } else if (absolute && Date.parse(window.end!) <= Date.parse(window.start!)) {
        ctx.addIssue({ code: 'custom', path: ['end'], message: 'must be after start' });
      }
    }),
]);

export const settingsSchema = z.strictObject({
  cutover: cutoverSchema.prefault({ mode: 'auto' }),
  testMigration: z.boolean().default(true),
  shutdownSource: z.boolean().default(true),
  /** Admission priority by source name (lower first); a machine's own `priority` wins. */
  priorities: z.record(z.string().min(1), z.number().int()).optional(),
  /** Replicate machines whose guest OS the assessment finds unsupported. */
  allowLegacyOs: z.boolean().optional(),
  /** At most this many of the wave's machines hold a replication slot at once. */
  maxParallel: z.number().int().positive().optional(),
});

export const migrateProjectSchema = z.strictObject({
  subscriptionId: z.guid(),
  resourceGroup: text,
  name: text,
  appliance: text.optional(),
  assessment: text.optional(),
  group: text.optional(),
});

const diskEncryptionSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('platform') }),
  z.strictObject({ type: z.literal('customerKey'), diskEncryptionSetId: armId }),
  z.strictObject({ type: z.literal('double'), diskEncryptionSetId: armId }),
]);

export const targetSchema = z.strictObject({
  subscriptionId: z.guid().optional(),
  resourceGroup: text,
  /** A virtual network name (in the target subscription) or its resource id. */
  virtualNetwork: text,
  subnet: text.default('default'),
  /** The network test VMs join: a name or a resource id. Required when the machine is test-migrated. */
  testNetwork: text.optional(),
  testSubnet: text.optional(),
  /** The Azure VM name; defaults to the source name. */
  name: z
    .string()
    .superRefine((name, ctx) => {
      const problem = vmNameProblem(name);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional(),
  size: z
    .string()
    .regex(/^[A-Za-z]+_[A-Za-z0-9_-]+$/, 'must be a VM size such as Standard_D4s_v5')
    .optional(),
  diskType: z.enum(DISK_TYPES).default('Standard_LRS'),
  /** Disk type per source disk id; wins over `diskType` and the assessment. */
  perDiskTypes: z.record(text, z.enum(DISK_TYPES)).optional(),
  /** Source disk id of the OS disk, when discovery does not say. */
  osDiskId: text.optional(),
  availabilityZone: z.enum(AVAILABILITY_ZONES).optional(),
  /** Name of an availability set in the target resource group. */
  availabilitySet: text.optional(),
  licenseType: z.enum(LICENSE_TYPES).default('NoLicenseType'),
  sqlServerLicenseType: z.enum(SQL_SERVER_LICENSE_TYPES).optional(),
  /** `all` applies to the VM, its disks and NICs; the others to one kind of resource. */
  tags: z
    .strictObject({
      all: tagMap.optional(),
      vm: tagMap.optional(),
      disk: tagMap.optional(),
      nic: tagMap.optional(),
    })
    .prefault({}),
  diskEncryption: diskEncryptionSchema.prefault({ type: 'platform' }),
  /** Storage account for replication over Private Link (the seed's private-endpoint setup). */
  replicationStorageAccountId: armId.optional(),
  /** Take the size and per-disk types from the assessment (Input.csv OK_TO_USE_ASSESSMENT). */
  useAssessment: z.boolean().default(false),
  /** `osUpgradeVersion` passed to test migrate and migrate. */
  osUpgradeVersion: text.optional(),
});

export const ONBOARDING_PROFILES = ['Production', 'DevTest'] as const;

export const machineSchema = z.strictObject({
  /** The vCenter display name, as discovery shows it (Input.csv SOURCE_MACHINE_NAME). */
  sourceName: text,
  appliance: text.optional(),
  target: targetSchema,
  /** Without a profile, the machine's `environment` tag decides (see environment.ts). */
  onboarding: z
    .strictObject({
      profile: z.union([z.enum(ONBOARDING_PROFILES), z.strictObject({ custom: profileId })]).optional(),
    })
    .prefault({}),
  priority: z.number().int().optional(),
  /** Overrides the wave's `settings.shutdownSource` for this machine. */
  shutdownSource: z.boolean().optional(),
  /** Overrides the wave's `settings.testMigration` for this machine. */
  testMigration: z.boolean().optional(),
});

export const planSchema = z.strictObject({
  name: text.max(128),
  settings: settingsSchema.prefault({}),
  migrateProject: migrateProjectSchema,
  machines: z.array(machineSchema).min(1),
});

export type Plan = z.output<typeof planSchema>;
export type PlanInput = z.input<typeof planSchema>;
export type PlanSettings = z.output<typeof settingsSchema>;
export type PlanSettingsInput = z.input<typeof settingsSchema>;
export type MigrateProject = z.output<typeof migrateProjectSchema>;
export type PlanMachine = z.output<typeof machineSchema>;
export type PlanMachineInput = z.input<typeof machineSchema>;
export type MachineTarget = z.output<typeof targetSchema>;
export type Cutover = z.output<typeof cutoverSchema>;
export type DiskEncryption = z.output<typeof diskEncryptionSchema>;
export type OnboardingProfile = NonNullable<PlanMachine['onboarding']['profile']>;

/** The plan as JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1), describing what callers send. */
export function planJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(planSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}

/**
 * A plan as far as it parsed: its machines (with their index in the file, from 0; bad fields
 * dropped, see parseMachine), the settings (defaults where they did not parse), and `plan` when
 * nothing failed.
 */
export interface PlanDraft {
  name?: string;
  settings: PlanSettings;
  migrateProject?: MigrateProject;
  machines: { index: number; machine: PlanMachine; dropped: string[] }[];
}

export interface PlanParseResult {
  plan?: Plan;
  draft: PlanDraft;
  problems: Problem[];
  locate: Locator;
}

/** Codes for a field that holds a bad value, chosen by the field's name. */
const CODE_BY_FIELD: Record<string, ProblemCode> = {
  availabilityZone: 'INVALID_ZONE',
  diskType: 'INVALID_DISK_TYPE',
  perDiskTypes: 'INVALID_DISK_TYPE',
  licenseType: 'INVALID_LICENSE_TYPE',
};

/** `target.tags.vm` style path, with `[i]` for array indexes. */
export function pathString(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** Turns zod issues into problems, located by `at` from the issue path as a string. */
export function issuesToProblems(
  issues: readonly z.core.$ZodIssue[],
  at: (path: string) => { row: number; column: string },
): Problem[] {
  const problems: Problem[] = [];
  for (const issue of issues) {
    for (const path of issuePaths(issue)) {
      const field = path.filter((k) => typeof k === 'string');
      let code: ProblemCode = 'INVALID_VALUE';
      if (issue.code === 'invalid_type' && issue.input === undefined) code = 'REQUIRED';
      else if (field[0] === 'target' && field[1] === 'name' && field.length === 2)
        code = 'INVALID_TARGET_NAME';
      else {
        for (const key of field) code = CODE_BY_FIELD[String(key)] ?? code;
      }
      const message =
        issue.code === 'unrecognized_keys'
          ? 'is not a field of the plan'
          : code === 'REQUIRED'
            ? 'is required'
            : issue.message;
      problems.push({ ...at(pathString(path)), code, message });
    }
  }
  return problems;
}

/** Removes the value at `path` from a plain-JSON value (a copy is made by the caller). */
function removeAt(value: unknown, path: readonly PropertyKey[]): void {
  let node = value;
  for (const key of path.slice(0, -1)) {
    if (typeof node !== 'object' || node === null) return;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  if (typeof node === 'object' && node !== null)
    delete (node as Record<PropertyKey, unknown>)[path[path.length - 1]!];
}

/** The paths an issue points at (each unrecognised key separately). */
function issuePaths(issue: z.core.$ZodIssue): PropertyKey[][] {
  return issue.code === 'unrecognized_keys' ? issue.keys.map((key) => [...issue.path, key]) : [issue.path];
}

/**
 * Parses one machine. When it fails, the bad fields are dropped and it is parsed again (a field
 * that is bad once dropped, because it is required, takes its parent with it), so the checks
 * across machines (duplicates, inventory, landing zone) still see it: `machine` then has defaults
 * in place of the bad values, `issues` are the original issues and `dropped` the dropped paths.
 */
export function parseMachine(raw: unknown): {
  machine?: PlanMachine;
  issues: z.core.$ZodIssue[];
  dropped: string[];
} {
  const first = machineSchema.safeParse(raw, { reportInput: true });
  if (first.success) return { machine: first.data, issues: [], dropped: [] };
  const repaired = structuredClone(raw);
  const dropped: string[] = [];
  let attempt: ReturnType<typeof machineSchema.safeParse> = first;
  for (let round = 0; round < 4 && !attempt.success; round++) {
    for (const path of attempt.error.issues.flatMap(issuePaths)) {
      const cut = dropped.includes(pathString(path)) ? path.slice(0, -1) : path;
      if (cut.length === 0) return { issues: first.error.issues, dropped };
      removeAt(repaired, cut);
      dropped.push(pathString(cut));
    }
    attempt = machineSchema.safeParse(repaired);
  }
  return attempt.success
    ? { machine: attempt.data, issues: first.error.issues, dropped }
    : { issues: first.error.issues, dropped };
}

/**
 * Parses a plan machine by machine, so one bad machine does not hide the problems of the others.
 * `locate` maps (machine index, path inside the machine or plan) to a row and column.
 */
export function parsePlanObject(value: unknown, locate: Locator): PlanParseResult {
  const problems: Problem[] = [];
  const draft: PlanDraft = { settings: settingsSchema.parse({}), machines: [] };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push({ row: 0, column: '', code: 'INVALID_VALUE', message: 'a plan must be a JSON object' });
    return { draft, problems, locate };
  }
  const { machines, ...rest } = value as Record<string, unknown>;
  const head = planSchema.omit({ machines: true }).safeParse(rest, { reportInput: true });
  if (head.success) {
    draft.name = head.data.name;
    draft.settings = head.data.settings;
    draft.migrateProject = head.data.migrateProject;
  } else {
    problems.push(...issuesToProblems(head.error.issues, (path) => locate(undefined, path)));
    const settings = settingsSchema.safeParse(rest.settings ?? {});
    if (settings.success) draft.settings = settings.data;
  }
  if (!Array.isArray(machines)) {
    problems.push({
      ...locate(undefined, 'machines'),
      code: machines === undefined ? 'REQUIRED' : 'INVALID_VALUE',
      message: 'must be a list of machines',
    });
  } else if (machines.length === 0) {
    problems.push({
      ...locate(undefined, 'machines'),
      code: 'PLAN_EMPTY',
      message: 'the plan has no machines',
    });
  } else {
    machines.forEach((raw, index) => {
      const { machine, issues, dropped } = parseMachine(raw);
      if (machine) draft.machines.push({ index, machine, dropped });
      problems.push(...issuesToProblems(issues, (path) => locate(index, path)));
    });
  }
  const plan =
    problems.length === 0 && draft.name !== undefined && draft.migrateProject !== undefined
      ? {
          name: draft.name,
          settings: draft.settings,
          migrateProject: draft.migrateProject,
          machines: draft.machines.map((m) => m.machine),
        }
      : undefined;
  return plan ? { plan, draft, problems, locate } : { draft, problems, locate };
}

/**
 * Microsoft's Input.csv (the at-scale Az.Migrate scripts, spec/azure-facts.md) to and from wave
 * plans, and the status report in the shape of their AzMigrate_UpdateReplicationStatus.ps1 output.
 *
 * Interpretation, following their scripts where they decide:
 * - A row is in the wave when OK_TO_MIGRATE is Y (their StartReplication skips other rows); a file
 *   without that column takes every row.
 * - Empty TARGET_SUBNET_NAME is `default`, empty TARGET_DISKTYPE is Standard_LRS, empty
 *   TARGET_MACHINE_NAME is the source name, empty LICENSE_TYPE is NoLicenseType.
 * - TURNOFF_SOURCESERVER and OK_TO_TESTMIGRATE set the machine's shutdownSource / testMigration;
 *   empty cells take the wave's settings. The wave settings are not in the file: the caller passes
 *   them. Unlike Microsoft's StartMigration, an empty TURNOFF_SOURCESERVER shuts the source down
 *   (the wave default): the final sync then loses no data, and a row must say N to skip it.
 * - Tag cells hold comma-separated lists ("t1,t2" with "v1,v2"); TAG_* applies to the VM, disks
 *   and NICs, VM_/DISK_/NIC_TAG_* to one kind.
 * - OK_TO_USE_ASSESSMENT=Y asks for size and per-disk types from the assessment (resolve.ts).
 * - The test network is TEST_NETWORK_ID (a resource id), else TESTMIGRATE_VNET_NAME, else
 *   TEST_VNET_NAME (read by their StartReplication though absent from their header).
 * - UPDATED_* columns (edits to a running replication), DATA_DISKn_ID and the OK_TO_* flags of
 *   their other scripts are not used by a wave; Y/N flags are still checked.
 * - FACTORY_* columns carry plan fields their format lacks; their scripts ignore unknown columns.
 */
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { parseVirtualNetworkId } from './inventory';
import type { Stage } from './lifecycle';
import {
  issuesToProblems,
  migrateProjectSchema,
  type Plan,
  type PlanDraft,
  type PlanMachine,
  type PlanParseResult,
  type PlanSettingsInput,
  parseMachine,
  pathString,
  settingsSchema,
} from './plan';
import type { Locator, Problem } from './problems';

/** The header of Microsoft's Input.csv, in their order. */
export const MICROSOFT_COLUMNS = [
  'AZMIGRATEPROJECT_SUBSCRIPTION_ID',
  'AZMIGRATEPROJECT_RESOURCE_GROUP_NAME',
  'AZMIGRATEPROJECT_NAME',
  'AZMIGRATE_APPLIANCE_NAME',
  'SOURCE_MACHINE_NAME',
  'OS_UPGRADE_VERSION',
  'AZMIGRATEASSESSMENT_NAME',
  'AZMIGRATEGROUP_NAME',
  'SQL_SERVER_LICENSE_TYPE',
  'TAG_KEY',
  'TAG_VALUE',
  'VM_TAG_KEY',
  'VM_TAG_VALUE',
  'DISK_TAG_KEY',
  'DISK_TAG_VALUE',
  'NIC_TAG_KEY',
  'NIC_TAG_VALUE',
  'TEST_NETWORK_ID',
  'TARGET_SUBSCRIPTION_ID',
  'TARGET_RESOURCE_GROUP_NAME',
  'TARGET_VNET_NAME',
  'TARGET_SUBNET_NAME',
  'TARGET_MACHINE_NAME',
  'TARGET_MACHINE_SIZE',
  'LICENSE_TYPE',
  'OS_DISK_ID',
  'DATA_DISK1_ID',
  'DATA_DISK2_ID',
  'TARGET_DISKTYPE',
  'AVAILABILITYZONE_NUMBER',
  'AVAILABILITYSET_NAME',
  'TURNOFF_SOURCESERVER',
  'TESTMIGRATE_VNET_NAME',
  'UPDATED_TAG_KEY',
  'UPDATED_TAG_VALUE',
  'UPDATED_TAG_OPERATION',
  'UPDATED_VMTAG_KEY',
  'UPDATED_VMTAG_VALUE',
  'UPDATED_VMTAG_OPERATION',
  'UPDATED_DISKTAG_KEY',
  'UPDATED_DISKTAG_VALUE',
  'UPDATED_DISKTAG_OPERATION',
  'UPDATED_NICTAG_KEY',
  'UPDATED_NICTAG_VALUE',
  'UPDATED_NICTAG_OPERATION',
  'UPDATED_TARGET_RESOURCE_GROUP_NAME',
  'UPDATED_TARGET_VNET_NAME',
  'UPDATED_TARGET_MACHINE_NAME',
  'UPDATED_TARGET_DISK_NAME',
  'UPDATED_TARGET_OS_DISK_NAME',
  'UPDATED_TARGET_DATA_DISK1_NAME',
  'UPDATED_TARGET_DATA_DISK2_NAME',
  'UPDATED_TARGET_MACHINE_SIZE',
  'UPDATED_AVAILABILITYZONE_NUMBER',
  'UPDATED_AVAILABILITYSET_NAME',
  'UPDATED_NIC1_ID',
  'UPDATED_TARGET_NIC1_NAME',
  'UPDATED_TARGET_NIC1_SELECTIONTYPE',
  'UPDATED_TARGET_NIC1_SUBNET_NAME',
  'UPDATED_TARGET_NIC1_IP',
  'UPDATED_TARGET_NIC1_TEST_IP',
  'UPDATED_TARGET_NIC1_TEST_SUBNET_NAME',
  'UPDATED_NIC2_ID',
  'UPDATED_TARGET_NIC2_NAME',
  'UPDATED_TARGET_NIC2_SELECTIONTYPE',
  'UPDATED_TARGET_NIC2_SUBNET_NAME',
  'UPDATED_TARGET_NIC2_IP',
  'UPDATED_TARGET_NIC2_TEST_IP',
  'UPDATED_TARGET_NIC2_TEST_SUBNET_NAME',
  'OK_TO_UPDATE',
  'OK_TO_MIGRATE',
  'OK_TO_USE_ASSESSMENT',
  'OK_TO_TESTMIGRATE',
  'OK_TO_RETRIEVE_REPLICATIONSTATUS',
  'OK_TO_CLEANUP',
  'OK_TO_TESTMIGRATE_CLEANUP',
] as const;

/** Columns their StartReplication reads although their sample header lacks them. */
const SCRIPT_COLUMNS = ['TEST_VNET_NAME', 'TEST_SUBNET_NAME'] as const;

/** The factory's own columns, for plan fields Input.csv cannot express. */
export const FACTORY_COLUMNS = [
  'FACTORY_PER_DISK_TYPES',
  'FACTORY_DISK_ENCRYPTION_TYPE',
  'FACTORY_DISK_ENCRYPTION_SET_ID',
  'FACTORY_REPLICATION_STORAGE_ACCOUNT_ID',
  'FACTORY_ONBOARDING_PROFILE',
  'FACTORY_PRIORITY',
] as const;

const KNOWN_COLUMNS = new Set<string>([...MICROSOFT_COLUMNS, ...SCRIPT_COLUMNS, ...FACTORY_COLUMNS]);

const REQUIRED_COLUMNS = [
  'AZMIGRATEPROJECT_SUBSCRIPTION_ID',
  'AZMIGRATEPROJECT_RESOURCE_GROUP_NAME',
  'AZMIGRATEPROJECT_NAME',
  'SOURCE_MACHINE_NAME',
  'TARGET_RESOURCE_GROUP_NAME',
  'TARGET_VNET_NAME',
] as const;

const FLAG_COLUMNS = [
  'TURNOFF_SOURCESERVER',
  'OK_TO_UPDATE',
  'OK_TO_MIGRATE',
  'OK_TO_USE_ASSESSMENT',
  'OK_TO_TESTMIGRATE',
  'OK_TO_RETRIEVE_REPLICATIONSTATUS',
  'OK_TO_CLEANUP',
  'OK_TO_TESTMIGRATE_CLEANUP',
] as const;

/** Tag kinds and the columns holding their keys and values. */
const TAG_COLUMNS = [
  { kind: 'all', key: 'TAG_KEY', value: 'TAG_VALUE' },
  { kind: 'vm', key: 'VM_TAG_KEY', value: 'VM_TAG_VALUE' },
  { kind: 'disk', key: 'DISK_TAG_KEY', value: 'DISK_TAG_VALUE' },
  { kind: 'nic', key: 'NIC_TAG_KEY', value: 'NIC_TAG_VALUE' },
] as const;

/** Plan path (inside a machine, or `migrateProject.*`) to the column it comes from. */
const COLUMN_BY_PATH: Record<string, string> = {
  sourceName: 'SOURCE_MACHINE_NAME',
  appliance: 'AZMIGRATE_APPLIANCE_NAME',
  'target.subscriptionId': 'TARGET_SUBSCRIPTION_ID',
  'target.resourceGroup': 'TARGET_RESOURCE_GROUP_NAME',
  'target.virtualNetwork': 'TARGET_VNET_NAME',
  'target.subnet': 'TARGET_SUBNET_NAME',
  'target.testNetwork': 'TESTMIGRATE_VNET_NAME',
  'target.testSubnet': 'TEST_SUBNET_NAME',
  'target.name': 'TARGET_MACHINE_NAME',
  'target.size': 'TARGET_MACHINE_SIZE',
  'target.diskType': 'TARGET_DISKTYPE',
  'target.perDiskTypes': 'FACTORY_PER_DISK_TYPES',
  'target.osDiskId': 'OS_DISK_ID',
  'target.availabilityZone': 'AVAILABILITYZONE_NUMBER',
  'target.availabilitySet': 'AVAILABILITYSET_NAME',
  'target.licenseType': 'LICENSE_TYPE',
  'target.sqlServerLicenseType': 'SQL_SERVER_LICENSE_TYPE',
  'target.tags.all': 'TAG_KEY',
  'target.tags.vm': 'VM_TAG_KEY',
  'target.tags.disk': 'DISK_TAG_KEY',
  'target.tags.nic': 'NIC_TAG_KEY',
  'target.diskEncryption': 'FACTORY_DISK_ENCRYPTION_TYPE',
  'target.diskEncryption.diskEncryptionSetId': 'FACTORY_DISK_ENCRYPTION_SET_ID',
  'target.replicationStorageAccountId': 'FACTORY_REPLICATION_STORAGE_ACCOUNT_ID',
  'target.useAssessment': 'OK_TO_USE_ASSESSMENT',
  'target.osUpgradeVersion': 'OS_UPGRADE_VERSION',
  'onboarding.profile': 'FACTORY_ONBOARDING_PROFILE',
  priority: 'FACTORY_PRIORITY',
  shutdownSource: 'TURNOFF_SOURCESERVER',
  testMigration: 'OK_TO_TESTMIGRATE',
  'migrateProject.subscriptionId': 'AZMIGRATEPROJECT_SUBSCRIPTION_ID',
  'migrateProject.resourceGroup': 'AZMIGRATEPROJECT_RESOURCE_GROUP_NAME',
  'migrateProject.name': 'AZMIGRATEPROJECT_NAME',
  'migrateProject.assessment': 'AZMIGRATEASSESSMENT_NAME',
  'migrateProject.group': 'AZMIGRATEGROUP_NAME',
};

/** The column of the longest path prefix of `path` that has one. */
function columnFor(path: string, overrides: Record<string, string> | undefined): string | undefined {
  let probe = path;
  for (;;) {
    const column = overrides?.[probe] ?? COLUMN_BY_PATH[probe];
    if (column) return column;
    const cut = Math.max(probe.lastIndexOf('.'), probe.lastIndexOf('['));
    if (cut <= 0) return undefined;
    probe = probe.slice(0, cut);
  }
}

export interface CsvImportOptions {
  /** The wave's name (Input.csv has none); defaults to 'csv-plan'. */
  name?: string;
  /** Wave settings (Input.csv has none); the defaults are those of JSON plans. */
  settings?: PlanSettingsInput;
}

export interface CsvParseResult extends PlanParseResult {
  /** Spreadsheet rows left out of the wave because OK_TO_MIGRATE is not Y. */
  skippedRows: number[];
}

type Flag = boolean | undefined;

/** Y/Yes/N/No in any case; empty is undefined; anything else is a problem. */
function parseFlag(value: string): Flag | 'bad' {
  const v = value.toLowerCase();
  if (v === '') return undefined;
  if (v === 'y' || v === 'yes') return true;
  if (v === 'n' || v === 'no') return false;
  return 'bad';
}

/** A comma-separated cell as a trimmed list; an empty cell is an empty list. */
function listCell(value: string): string[] {
  return value === '' ? [] : value.split(',').map((s) => s.trim());
}

/** Parses Input.csv text into a plan, collecting every problem with its spreadsheet row and column. */
export function parsePlanCsv(text: string, options: CsvImportOptions = {}): CsvParseResult {
  const problems: Problem[] = [];
  const machineRows: number[] = [];
  const columnOverrides: Record<string, string>[] = [];
  const locate: Locator = (machineIndex, path) => {
    if (path.startsWith('migrateProject')) {
      return { row: machineRows[0] ?? 1, column: columnFor(path, undefined) ?? path };
    }
    if (machineIndex === undefined) return { row: 0, column: path };
    const column = columnFor(path, columnOverrides[machineIndex]);
    return { row: machineRows[machineIndex] ?? 0, column: column ?? path };
  };
  const settingsParse = settingsSchema.safeParse({ ...options.settings });
  const draft: PlanDraft = {
    name: options.name ?? 'csv-plan',
    settings: settingsParse.success ? settingsParse.data : settingsSchema.parse({}),
    machines: [],
  };
  if (!settingsParse.success) {
    problems.push(
      ...issuesToProblems(settingsParse.error.issues, (p) => ({ row: 0, column: `settings.${p}` })),
    );
  }
  const result = (): CsvParseResult => {
    const plan: Plan | undefined =
      problems.length === 0 && draft.migrateProject
        ? {
            name: draft.name!,
            settings: draft.settings,
            migrateProject: draft.migrateProject,
            machines: draft.machines.map((m) => m.machine),
          }
        : undefined;
    return { ...(plan ? { plan } : {}), draft, problems, locate, skippedRows };
  };
  const skippedRows: number[] = [];

  let records: string[][];
  try {
    records = parse(text, { bom: true, trim: true, relax_column_count: true, skip_empty_lines: false });
  } catch (err) {
    const line = (err as { lines?: number }).lines;
    problems.push({
      row: line ?? 0,
      column: '',
      code: 'CSV_MALFORMED',
      message: err instanceof Error ? err.message : String(err),
    });
    return result();
  }
  const header = (records[0] ?? []).map((h) => h.toUpperCase());
  const seen = new Set<string>();
  header.forEach((name) => {
    if (name === '') return;
    if (seen.has(name)) {
      problems.push({ row: 1, column: name, code: 'CSV_MALFORMED', message: 'the column appears twice' });
    } else if (!KNOWN_COLUMNS.has(name)) {
      problems.push({
        row: 1,
        column: name,
        code: 'CSV_UNKNOWN_COLUMN',
        message: 'not a column of Input.csv nor a FACTORY_* column (a misspelt name would lose its values)',
      });
    }
    seen.add(name);
  });
  for (const name of REQUIRED_COLUMNS) {
    if (!seen.has(name)) {
      problems.push({
        row: 1,
        column: name,
        code: 'CSV_MISSING_COLUMN',
        message: 'the header has no such column',
      });
    }
  }
  if (REQUIRED_COLUMNS.some((name) => !seen.has(name))) return result();

  const projectCells: Record<string, { value: string; row: number }> = {};
  records.slice(1).forEach((record, i) => {
    const row = i + 2;
    if (record.every((cell) => cell === '')) return;
    const cell = (column: string): string => {
      const at = header.indexOf(column);
      return at === -1 ? '' : (record[at] ?? '');
    };
    const flag = (column: string): Flag => {
      const value = parseFlag(cell(column));
      if (value !== 'bad') return value;
      problems.push({ row, column, code: 'BAD_FLAG', message: `'${cell(column)}' is not Y or N` });
      return undefined;
    };
    const flags = Object.fromEntries(FLAG_COLUMNS.map((c) => [c, flag(c)])) as Record<
      (typeof FLAG_COLUMNS)[number],
      Flag
    >;
    if (seen.has('OK_TO_MIGRATE') && flags.OK_TO_MIGRATE !== true) {
      skippedRows.push(row);
      return;
    }

    for (const [path, column] of Object.entries(COLUMN_BY_PATH)) {
      if (!path.startsWith('migrateProject.')) continue;
      const value = cell(column);
      const first = projectCells[column];
      if (!first) projectCells[column] = { value, row };
      else if (first.value !== value) {
        problems.push({
          row,
          column,
          code: 'PROJECT_MISMATCH',
          message: `a wave uses one Azure Migrate project; row ${first.row} says '${first.value}'`,
        });
      }
    }

    const target: Record<string, unknown> = {};
    const overrides: Record<string, string> = {};
    const set = (obj: Record<string, unknown>, key: string, column: string) => {
      const value = cell(column);
      if (value !== '') obj[key] = value;
    };
    set(target, 'subscriptionId', 'TARGET_SUBSCRIPTION_ID');
    set(target, 'resourceGroup', 'TARGET_RESOURCE_GROUP_NAME');
    set(target, 'virtualNetwork', 'TARGET_VNET_NAME');
    set(target, 'subnet', 'TARGET_SUBNET_NAME');
    for (const column of ['TEST_NETWORK_ID', 'TESTMIGRATE_VNET_NAME', 'TEST_VNET_NAME']) {
      if (cell(column) === '') continue;
      target.testNetwork = cell(column);
      overrides['target.testNetwork'] = column;
      break;
    }
    set(target, 'testSubnet', 'TEST_SUBNET_NAME');
    set(target, 'name', 'TARGET_MACHINE_NAME');
    set(target, 'size', 'TARGET_MACHINE_SIZE');
    set(target, 'diskType', 'TARGET_DISKTYPE');
    set(target, 'osDiskId', 'OS_DISK_ID');
    set(target, 'availabilityZone', 'AVAILABILITYZONE_NUMBER');
    set(target, 'availabilitySet', 'AVAILABILITYSET_NAME');
    set(target, 'licenseType', 'LICENSE_TYPE');
    set(target, 'sqlServerLicenseType', 'SQL_SERVER_LICENSE_TYPE');
    set(target, 'replicationStorageAccountId', 'FACTORY_REPLICATION_STORAGE_ACCOUNT_ID');
    set(target, 'osUpgradeVersion', 'OS_UPGRADE_VERSION');
    if (flags.OK_TO_USE_ASSESSMENT !== undefined) target.useAssessment = flags.OK_TO_USE_ASSESSMENT;

    const tags: Record<string, Record<string, string>> = {};
    for (const { kind, key, value } of TAG_COLUMNS) {
      const keys = listCell(cell(key));
      const values = listCell(cell(value));
      if (keys.length !== values.length) {
        problems.push({
          row,
          column: key,
          code: 'TAG_COUNT_MISMATCH',
          message: `${keys.length} tag name(s) in ${key} but ${values.length} value(s) in ${value}`,
        });
        continue;
      }
      if (keys.length === 0) continue;
      const map: Record<string, string> = {};
      keys.forEach((k, j) => {
        if (k === '' || k in map) {
          problems.push({
            row,
            column: key,
            code: 'INVALID_VALUE',
            message: k === '' ? 'an empty tag name' : `tag '${k}' is given twice`,
          });
        } else map[k] = values[j]!;
      });
      tags[kind] = map;
    }
    if (Object.keys(tags).length > 0) target.tags = tags;

    const perDisk = listCell(cell('FACTORY_PER_DISK_TYPES'));
    if (perDisk.length > 0) {
      target.perDiskTypes = Object.fromEntries(
        perDisk.map((pair) => {
          const eq = pair.indexOf('=');
          return eq === -1 ? [pair, ''] : [pair.slice(0, eq).trim(), pair.slice(eq + 1).trim()];
        }),
      );
    }
    const encryption = cell('FACTORY_DISK_ENCRYPTION_TYPE');
    const encryptionSet = cell('FACTORY_DISK_ENCRYPTION_SET_ID');
    if (encryption !== '' || encryptionSet !== '') {
      target.diskEncryption = {
        type: encryption === '' ? 'customerKey' : encryption,
        ...(encryptionSet === '' ? {} : { diskEncryptionSetId: encryptionSet }),
      };
    }

    const machine: Record<string, unknown> = { target };
    set(machine, 'sourceName', 'SOURCE_MACHINE_NAME');
    set(machine, 'appliance', 'AZMIGRATE_APPLIANCE_NAME');
    const profile = cell('FACTORY_ONBOARDING_PROFILE');
    if (profile !== '') {
      const named = ['Production', 'DevTest'].find((p) => p.toLowerCase() === profile.toLowerCase());
      machine.onboarding = { profile: named ?? (profile.startsWith('/') ? { custom: profile } : profile) };
    }
    const priority = cell('FACTORY_PRIORITY');
    if (priority !== '') machine.priority = /^-?\d+$/.test(priority) ? Number(priority) : priority;
    // Only a value that differs from the wave's setting is kept, so an exported plan reads back equal.
    if (
      flags.TURNOFF_SOURCESERVER !== undefined &&
      flags.TURNOFF_SOURCESERVER !== draft.settings.shutdownSource
    ) {
      machine.shutdownSource = flags.TURNOFF_SOURCESERVER;
    }
    if (flags.OK_TO_TESTMIGRATE !== undefined && flags.OK_TO_TESTMIGRATE !== draft.settings.testMigration) {
      machine.testMigration = flags.OK_TO_TESTMIGRATE;
    }

    const index = machineRows.length;
    machineRows.push(row);
    columnOverrides.push(overrides);
    const parsed = parseMachine(machine);
    if (parsed.machine) draft.machines.push({ index, machine: parsed.machine, dropped: parsed.dropped });
    problems.push(...issuesToProblems(parsed.issues, (path) => locate(index, path)));
  });

  if (machineRows.length === 0) {
    problems.push({
      row: 0,
      column: 'OK_TO_MIGRATE',
      code: 'PLAN_EMPTY',
      message: 'no row is marked OK_TO_MIGRATE=Y, so the wave has no machines',
    });
    return result();
  }
  const project: Record<string, string> = {};
  for (const [path, column] of Object.entries(COLUMN_BY_PATH)) {
    const value = projectCells[column]?.value;
    if (path.startsWith('migrateProject.') && value) project[path.slice('migrateProject.'.length)] = value;
  }
  const parsedProject = migrateProjectSchema.safeParse(project, { reportInput: true });
  if (parsedProject.success) draft.migrateProject = parsedProject.data;
  else {
    problems.push(
      ...issuesToProblems(parsedProject.error.issues, (path) => locate(undefined, `migrateProject.${path}`)),
    );
  }
  return result();
}

/** Thrown when a plan holds a value Input.csv cannot carry (a comma inside a tag). */
export class CsvExportError extends Error {
  override readonly name = 'CsvExportError';
}

const yn = (value: boolean): string => (value ? 'Y' : 'N');

function tagCells(tags: Record<string, string> | undefined, where: string): [string, string] {
  if (!tags) return ['', ''];
  const entries = Object.entries(tags);
  for (const [k, v] of entries) {
    if (k.includes(',') || v.includes(',')) {
      throw new CsvExportError(`${where}: tag '${k}' holds a comma, which Input.csv tag cells cannot carry`);
    }
  }
  return [entries.map(([k]) => k).join(','), entries.map(([, v]) => v).join(',')];
}

/**
 * Writes a plan as Input.csv: Microsoft's columns in their order, their script-only test subnet
 * column, then the FACTORY_* columns. Flags hold the effective per-machine values, so their
 * scripts act on the file as the factory would. Wave name and settings are not written.
 */
export function planToCsv(plan: Plan): string {
  const columns = [...MICROSOFT_COLUMNS, 'TEST_SUBNET_NAME', ...FACTORY_COLUMNS];
  const rows = plan.machines.map((m) => machineRow(plan, m));
  return stringify(rows, { header: true, columns: columns.map((c) => ({ key: c })) });
}

function machineRow(plan: Plan, m: PlanMachine): Record<string, string> {
  const t = m.target;
  const where = `machine '${m.sourceName}'`;
  const testMigration = m.testMigration ?? plan.settings.testMigration;
  const testIsId = t.testNetwork !== undefined && parseVirtualNetworkId(t.testNetwork) !== undefined;
  const row: Record<string, string> = {
    AZMIGRATEPROJECT_SUBSCRIPTION_ID: plan.migrateProject.subscriptionId,
    AZMIGRATEPROJECT_RESOURCE_GROUP_NAME: plan.migrateProject.resourceGroup,
    AZMIGRATEPROJECT_NAME: plan.migrateProject.name,
    AZMIGRATE_APPLIANCE_NAME: m.appliance ?? plan.migrateProject.appliance ?? '',
    SOURCE_MACHINE_NAME: m.sourceName,
    OS_UPGRADE_VERSION: t.osUpgradeVersion ?? '',
    AZMIGRATEASSESSMENT_NAME: plan.migrateProject.assessment ?? '',
    AZMIGRATEGROUP_NAME: plan.migrateProject.group ?? '',
    SQL_SERVER_LICENSE_TYPE: t.sqlServerLicenseType ?? '',
    TEST_NETWORK_ID: testIsId ? t.testNetwork! : '',
    TARGET_SUBSCRIPTION_ID: t.subscriptionId ?? '',
    TARGET_RESOURCE_GROUP_NAME: t.resourceGroup,
    TARGET_VNET_NAME: t.virtualNetwork,
    TARGET_SUBNET_NAME: t.subnet,
    TARGET_MACHINE_NAME: t.name ?? '',
    TARGET_MACHINE_SIZE: t.size ?? '',
    LICENSE_TYPE: t.licenseType,
    OS_DISK_ID: t.osDiskId ?? '',
    TARGET_DISKTYPE: t.diskType,
    AVAILABILITYZONE_NUMBER: t.availabilityZone ?? '',
    AVAILABILITYSET_NAME: t.availabilitySet ?? '',
    TURNOFF_SOURCESERVER: yn(m.shutdownSource ?? plan.settings.shutdownSource),
    TESTMIGRATE_VNET_NAME: !testIsId && t.testNetwork ? t.testNetwork : '',
    OK_TO_UPDATE: 'N',
    OK_TO_MIGRATE: 'Y',
    OK_TO_USE_ASSESSMENT: yn(t.useAssessment),
    OK_TO_TESTMIGRATE: yn(testMigration),
    OK_TO_RETRIEVE_REPLICATIONSTATUS: 'Y',
    OK_TO_CLEANUP: 'N',
    OK_TO_TESTMIGRATE_CLEANUP: yn(testMigration),
    TEST_SUBNET_NAME: t.testSubnet ?? '',
    FACTORY_PER_DISK_TYPES: Object.entries(t.perDiskTypes ?? {})
      .map(([disk, type]) => `${disk}=${type}`)
      .join(','),
    FACTORY_DISK_ENCRYPTION_TYPE: t.diskEncryption.type,
    FACTORY_DISK_ENCRYPTION_SET_ID:
      t.diskEncryption.type === 'platform' ? '' : t.diskEncryption.diskEncryptionSetId,
    FACTORY_REPLICATION_STORAGE_ACCOUNT_ID: t.replicationStorageAccountId ?? '',
    FACTORY_ONBOARDING_PROFILE:
      typeof m.onboarding.profile === 'object' ? m.onboarding.profile.custom : (m.onboarding.profile ?? ''),
    FACTORY_PRIORITY: m.priority === undefined ? '' : String(m.priority),
  };
  for (const { kind, key, value } of TAG_COLUMNS) {
    [row[key], row[value]] = tagCells(t.tags[kind], `${where}, ${pathString(['target', 'tags', kind])}`);
  }
  return row;
}

/** The columns of the status report: Microsoft's report columns with the factory's stage added. */
export const STATUS_REPORT_COLUMNS = [
  'SOURCE_MACHINE_NAME',
  'TARGET_MACHINE_NAME',
  'FACTORY_STAGE',
  'FACTORY_FAILED_STAGE',
  'MIGRATION_STATE_FOR_REPLICATION',
  'MIGRATION_STATE_DESCRIPTION_FOR_REPLICATION',
  'INITIALREPLICATION_PROGRESS_PERCENTAGE',
  'TEST_MIGRATE_STATE',
  'TEST_MIGRATE_STATE_DESCRIPTION',
  'LAST_JOB_SCENARIONAME',
  'LAST_JOB_NAME',
  'LAST_JOB_ID',
  'LAST_JOB_STATE',
  'LAST_JOB_STATE_DESCRIPTION',
  'LAST_JOB_ERROR_CODE',
  'LAST_JOB_ERROR_DESCRIPTION',
  'LAST_JOB_ERROR_POSSIBLECAUSE',
  'LAST_JOB_ERROR_RECOMMENDEDACTION',
  'AdditionalInformation',
] as const;

export type StatusReportColumn = (typeof STATUS_REPORT_COLUMNS)[number];

/** What the factory knows about one machine, from its journal and the migration item. */
export interface MachineStatus {
  sourceName: string;
  targetName?: string;
  stage: Stage;
  failedStage?: Stage;
  migrationState?: string;
  migrationStateDescription?: string;
  initialSeedingProgressPercentage?: number;
  testMigrateState?: string;
  testMigrateStateDescription?: string;
  lastJob?: {
    scenarioName?: string;
    name?: string;
    id?: string;
    state?: string;
    stateDescription?: string;
    error?: { code?: string; message?: string; possibleCauses?: string; recommendedAction?: string };
  };
  additionalInformation?: string;
}

/** One row of the status report, every column present (empty when unknown). */
export function statusReportRow(status: MachineStatus): Record<StatusReportColumn, string> {
  const s = (value: string | number | undefined) => (value === undefined ? '' : String(value));
  const job = status.lastJob;
  return {
    SOURCE_MACHINE_NAME: status.sourceName,
    TARGET_MACHINE_NAME: s(status.targetName),
    FACTORY_STAGE: status.stage,
    FACTORY_FAILED_STAGE: s(status.failedStage),
    MIGRATION_STATE_FOR_REPLICATION: s(status.migrationState),
    MIGRATION_STATE_DESCRIPTION_FOR_REPLICATION: s(status.migrationStateDescription),
    INITIALREPLICATION_PROGRESS_PERCENTAGE: s(status.initialSeedingProgressPercentage),
    TEST_MIGRATE_STATE: s(status.testMigrateState),
    TEST_MIGRATE_STATE_DESCRIPTION: s(status.testMigrateStateDescription),
    LAST_JOB_SCENARIONAME: s(job?.scenarioName),
    LAST_JOB_NAME: s(job?.name),
    LAST_JOB_ID: s(job?.id),
    LAST_JOB_STATE: s(job?.state),
    LAST_JOB_STATE_DESCRIPTION: s(job?.stateDescription),
    LAST_JOB_ERROR_CODE: s(job?.error?.code),
    LAST_JOB_ERROR_DESCRIPTION: s(job?.error?.message),
    LAST_JOB_ERROR_POSSIBLECAUSE: s(job?.error?.possibleCauses),
    LAST_JOB_ERROR_RECOMMENDEDACTION: s(job?.error?.recommendedAction),
    AdditionalInformation: s(status.additionalInformation),
  };
}

/** The status report as CSV text with its header. */
export function statusReportCsv(statuses: readonly MachineStatus[]): string {
  return stringify(statuses.map(statusReportRow), {
    header: true,
    columns: STATUS_REPORT_COLUMNS.map((c) => ({ key: c })),
  });
}

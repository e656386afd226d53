import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import {
  CsvExportError,
  checkPlanJson,
  MICROSOFT_COLUMNS,
  type Plan,
  parsePlanCsv,
  planToCsv,
  STATUS_REPORT_COLUMNS,
  statusReportCsv,
  statusReportRow,
} from '../../src/domain';

const fixtures = path.join(__dirname, '..', 'fixtures', 'plans');
const read = (file: string) => readFileSync(path.join(fixtures, file), 'utf8');
const SUB = '6f1c2a9e-0000-4000-8000-000000000001';

/** A minimal Input.csv with the given extra columns; rows are objects of column -> cell. */
function csv(rows: Record<string, string>[], extraColumns: string[] = []): string {
  const columns = [
    'AZMIGRATEPROJECT_SUBSCRIPTION_ID',
    'AZMIGRATEPROJECT_RESOURCE_GROUP_NAME',
    'AZMIGRATEPROJECT_NAME',
    'SOURCE_MACHINE_NAME',
    'TARGET_RESOURCE_GROUP_NAME',
    'TARGET_VNET_NAME',
    'TESTMIGRATE_VNET_NAME',
    ...extraColumns,
  ];
  const base: Record<string, string> = {
    AZMIGRATEPROJECT_SUBSCRIPTION_ID: SUB,
    AZMIGRATEPROJECT_RESOURCE_GROUP_NAME: 'rg-migrate',
    AZMIGRATEPROJECT_NAME: 'proj',
    TARGET_RESOURCE_GROUP_NAME: 'rg-prod',
    TARGET_VNET_NAME: 'vnet-prod',
    TESTMIGRATE_VNET_NAME: 'vnet-test',
  };
  const quote = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  return [
    columns.join(','),
    ...rows.map((r) => columns.map((c) => quote(r[c] ?? base[c] ?? '')).join(',')),
  ].join('\n');
}

describe('Input.csv import', () => {
  it('reads the Microsoft-format fixture with defaults, flags and multi-value tag cells', () => {
    const result = parsePlanCsv(read('Input.csv'), { name: 'crm' });
    expect(result.problems).toEqual([]);
    const plan = result.plan!;
    expect(plan.name).toBe('crm');
    expect(plan.migrateProject).toEqual({
      subscriptionId: SUB,
      resourceGroup: 'rg-migrate',
      name: 'contoso-migrate',
      assessment: 'default',
      group: 'all',
    });
    expect(plan.machines.map((m) => m.sourceName)).toEqual(['crm-web-01', 'crm-web-02', 'crm-db-01']);
    expect(result.skippedRows).toEqual([5]);
    const [web1, web2, db] = plan.machines as [
      Plan['machines'][number],
      Plan['machines'][number],
      Plan['machines'][number],
    ];
    expect(web1.target.tags).toEqual({
      all: { costCenter: 'cc-101', owner: 'crm-team' },
      vm: { app: 'crm', tier: 'web' },
      disk: { backup: 'daily' },
    });
    expect(web1.target.useAssessment).toBe(true);
    expect(web1.target.licenseType).toBe('WindowsServer');
    expect(web1.target.subnet).toBe('app');
    // TURNOFF_SOURCESERVER=Y is the wave's default (shut down), so the machine needs no override.
    expect(web1.shutdownSource).toBeUndefined();
    expect(web2.target.subnet).toBe('default');
    expect(web2.target.diskType).toBe('Standard_LRS');
    expect(web2.target.name).toBeUndefined();
    expect(web2.target.licenseType).toBe('NoLicenseType');
    expect(web2.target.useAssessment).toBe(false);
    expect(web2.shutdownSource).toBeUndefined();
    expect(db.target.tags).toEqual({ nic: { role: 'db' } });
    expect(db.target.osDiskId).toBe('6000C291-cccc-0001');
    expect(db.target.availabilityZone).toBe('2');
    expect(plan.settings.shutdownSource).toBe(true);
  });

  it('splits quoted comma-separated tag cells and trims each item', () => {
    const result = parsePlanCsv(
      csv(
        [{ SOURCE_MACHINE_NAME: 'a', VM_TAG_KEY: 'k1, k2,k3', VM_TAG_VALUE: 'v1,v 2 , v3' }],
        ['VM_TAG_KEY', 'VM_TAG_VALUE'],
      ),
    );
    expect(result.problems).toEqual([]);
    expect(result.plan!.machines[0]!.target.tags.vm).toEqual({ k1: 'v1', k2: 'v 2', k3: 'v3' });
  });

  it('reports tag count mismatches, repeated tag names and bad flags with their row and column', () => {
    const result = parsePlanCsv(
      csv(
        [
          { SOURCE_MACHINE_NAME: 'a', TAG_KEY: 't1,t2', TAG_VALUE: 'v1' },
          { SOURCE_MACHINE_NAME: 'b', NIC_TAG_KEY: 'x,x', NIC_TAG_VALUE: '1,2', OK_TO_TESTMIGRATE: 'maybe' },
          { SOURCE_MACHINE_NAME: 'c', DISK_TAG_KEY: 'k', OK_TO_UPDATE: 'yes', TURNOFF_SOURCESERVER: 'NO' },
        ],
        [
          'TAG_KEY',
          'TAG_VALUE',
          'NIC_TAG_KEY',
          'NIC_TAG_VALUE',
          'DISK_TAG_KEY',
          'OK_TO_TESTMIGRATE',
          'OK_TO_UPDATE',
          'TURNOFF_SOURCESERVER',
        ],
      ),
    );
    expect(result.problems.map((p) => [p.row, p.column, p.code])).toEqual([
      [2, 'TAG_KEY', 'TAG_COUNT_MISMATCH'],
      [3, 'OK_TO_TESTMIGRATE', 'BAD_FLAG'],
      [3, 'NIC_TAG_KEY', 'INVALID_VALUE'],
      [4, 'DISK_TAG_KEY', 'TAG_COUNT_MISMATCH'],
    ]);
  });

  it('accepts Y/N flags in any case and keeps only per-machine values that differ from the wave', () => {
    const result = parsePlanCsv(
      csv(
        [
          { SOURCE_MACHINE_NAME: 'a', TURNOFF_SOURCESERVER: 'yes', OK_TO_TESTMIGRATE: 'n' },
          { SOURCE_MACHINE_NAME: 'b', TURNOFF_SOURCESERVER: 'y', OK_TO_TESTMIGRATE: 'Y' },
        ],
        ['TURNOFF_SOURCESERVER', 'OK_TO_TESTMIGRATE'],
      ),
      { settings: { shutdownSource: true } },
    );
    expect(result.problems).toEqual([]);
    const [a, b] = result.plan!.machines;
    expect(a!.shutdownSource).toBeUndefined();
    expect(a!.testMigration).toBe(false);
    expect(b!.shutdownSource).toBeUndefined();
    expect(b!.testMigration).toBeUndefined();
  });

  it('takes the test network from TEST_NETWORK_ID before the name columns', () => {
    const id = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-iso`;
    const result = parsePlanCsv(
      csv(
        [{ SOURCE_MACHINE_NAME: 'a', TEST_NETWORK_ID: id, TEST_SUBNET_NAME: 'iso' }],
        ['TEST_NETWORK_ID', 'TEST_SUBNET_NAME'],
      ),
    );
    expect(result.plan!.machines[0]!.target.testNetwork).toBe(id);
    expect(result.plan!.machines[0]!.target.testSubnet).toBe('iso');
  });

  it('skips rows not marked OK_TO_MIGRATE=Y and reports an empty wave', () => {
    const result = parsePlanCsv(
      csv(
        [{ SOURCE_MACHINE_NAME: 'a', OK_TO_MIGRATE: 'N' }, { SOURCE_MACHINE_NAME: 'b' }],
        ['OK_TO_MIGRATE'],
      ),
    );
    expect(result.skippedRows).toEqual([2, 3]);
    expect(result.problems.map((p) => p.code)).toEqual(['PLAN_EMPTY']);
    expect(result.plan).toBeUndefined();
  });

  it('reports missing and unknown header columns on row 1, and a malformed file', () => {
    const noVnet =
      'AZMIGRATEPROJECT_SUBSCRIPTION_ID,AZMIGRATEPROJECT_RESOURCE_GROUP_NAME,AZMIGRATEPROJECT_NAME,SOURCE_MACHINE_NAME,TARGET_RESOURCE_GROUP_NAME,TARGET_VNETNAME\n';
    const missing = parsePlanCsv(noVnet);
    expect(missing.problems.map((p) => [p.row, p.column, p.code])).toEqual([
      [1, 'TARGET_VNETNAME', 'CSV_UNKNOWN_COLUMN'],
      [1, 'TARGET_VNET_NAME', 'CSV_MISSING_COLUMN'],
    ]);
    const malformed = parsePlanCsv(`${csv([{ SOURCE_MACHINE_NAME: 'a' }])}\n"unterminated,x`);
    expect(malformed.problems).toHaveLength(1);
    expect(malformed.problems[0]!.code).toBe('CSV_MALFORMED');
    expect(malformed.problems[0]!.row).toBeGreaterThan(1);
  });

  it('counts rows as a spreadsheet does, blank lines and multi-line cells included', () => {
    const text = csv(
      [{ SOURCE_MACHINE_NAME: 'a' }, { SOURCE_MACHINE_NAME: 'b' }],
      ['TARGET_DISKTYPE', 'AVAILABILITYZONE_NUMBER'],
    );
    const lines = text.split('\n');
    const withBlank = [lines[0], lines[1], '', `${lines[2]!.replace(/,,$/, ',"Premium\nLRS",')}`].join('\n');
    const result = parsePlanCsv(withBlank);
    expect(result.problems.map((p) => [p.row, p.column, p.code])).toEqual([
      [4, 'TARGET_DISKTYPE', 'INVALID_DISK_TYPE'],
    ]);
  });

  it('reads a file saved with a byte-order mark and a lower-case header, as spreadsheets may write it', () => {
    const text = csv([{ SOURCE_MACHINE_NAME: 'a' }]);
    const [head, ...rest] = text.split('\n');
    const result = parsePlanCsv(`\uFEFF${head!.toLowerCase()}\r\n${rest.join('\r\n')}\r\n`);
    expect(result.problems).toEqual([]);
    expect(result.plan!.machines[0]!.sourceName).toBe('a');
  });

  it('reports rows that name a different migrate project', () => {
    const result = parsePlanCsv(
      csv([{ SOURCE_MACHINE_NAME: 'a' }, { SOURCE_MACHINE_NAME: 'b', AZMIGRATEPROJECT_NAME: 'other' }]),
    );
    expect(result.problems.map((p) => [p.row, p.column, p.code])).toEqual([
      [3, 'AZMIGRATEPROJECT_NAME', 'PROJECT_MISMATCH'],
    ]);
  });

  it('locates project-level schema problems on the first machine row', () => {
    const result = parsePlanCsv(
      csv([{ SOURCE_MACHINE_NAME: 'a', AZMIGRATEPROJECT_SUBSCRIPTION_ID: 'xxxxxxxx-xxxx' }]),
    );
    expect(result.problems.map((p) => [p.row, p.column, p.code])).toEqual([
      [2, 'AZMIGRATEPROJECT_SUBSCRIPTION_ID', 'INVALID_VALUE'],
    ]);
  });
});

describe('Input.csv export', () => {
  it('round-trips the CSV fixture: csv -> plan -> csv -> plan', () => {
    const first = parsePlanCsv(read('Input.csv'), { name: 'crm' }).plan!;
    const again = parsePlanCsv(planToCsv(first), { name: 'crm' });
    expect(again.problems).toEqual([]);
    expect(again.plan).toEqual(first);
  });

  it('round-trips a JSON plan with every field: plan -> Input.csv -> plan', () => {
    const plan = checkPlanJson(JSON.parse(read('plan.json'))).plan!;
    expect(plan).toBeDefined();
    // crm-web-01 and crm-web-02 inherit the appliance from the project; the CSV carries it per row.
    const perRowAppliance: Plan = {
      ...plan,
      machines: plan.machines.map((m) => ({
        ...m,
        appliance: m.appliance ?? plan.migrateProject.appliance!,
      })),
    };
    const text = planToCsv(perRowAppliance);
    const back = parsePlanCsv(text, { name: plan.name, settings: plan.settings });
    expect(back.problems).toEqual([]);
    expect(back.plan).toEqual({
      ...perRowAppliance,
      migrateProject: { ...plan.migrateProject, appliance: undefined },
    });
  });

  it("writes Microsoft's header first, effective flags, and quoted multi-value tag cells", () => {
    const plan = parsePlanCsv(read('Input.csv'), { name: 'crm' }).plan!;
    const text = planToCsv(plan);
    const records = parse(text, { columns: true }) as Record<string, string>[];
    const header = text.split('\n')[0]!.split(',');
    expect(header.slice(0, MICROSOFT_COLUMNS.length)).toEqual([...MICROSOFT_COLUMNS]);
    expect(text).toContain('"costCenter,owner","cc-101,crm-team"');
    // The second row's empty cell took the wave's default (shut down): the export says so.
    expect(records.map((r) => r.TURNOFF_SOURCESERVER)).toEqual(['Y', 'Y', 'N']);
    expect(records.map((r) => r.OK_TO_MIGRATE)).toEqual(['Y', 'Y', 'Y']);
    expect(records.map((r) => r.OK_TO_TESTMIGRATE)).toEqual(['Y', 'Y', 'Y']);
    expect(records[1]!.TARGET_SUBNET_NAME).toBe('default');
  });

  it('refuses a tag that holds a comma', () => {
    const plan = parsePlanCsv(read('Input.csv'), { name: 'crm' }).plan!;
    plan.machines[0]!.target.tags.vm = { note: 'a,b' };
    expect(() => planToCsv(plan)).toThrow(CsvExportError);
  });
});

describe('status report', () => {
  it("builds rows with Microsoft's report columns and the factory stage", () => {
    const row = statusReportRow({
      sourceName: 'crm-web-01',
      targetName: 'azcrmweb01',
      stage: 'Failed',
      failedStage: 'TestMigrating',
      migrationState: 'Replicating',
      migrationStateDescription: 'Ready to migrate',
      initialSeedingProgressPercentage: 100,
      testMigrateState: 'TestMigrationFailed',
      lastJob: { name: 'job-1', state: 'Failed', error: { code: '1234', message: 'boot failed, "really"' } },
    });
    expect(Object.keys(row)).toEqual([...STATUS_REPORT_COLUMNS]);
    expect(row.INITIALREPLICATION_PROGRESS_PERCENTAGE).toBe('100');
    expect(row.FACTORY_FAILED_STAGE).toBe('TestMigrating');
    expect(row.LAST_JOB_ID).toBe('');
    const text = statusReportCsv([
      { sourceName: 'a', stage: 'Done' },
      { sourceName: 'crm-web-01', stage: 'Failed', lastJob: { error: { message: 'boot failed, "really"' } } },
    ]);
    const records = parse(text, { columns: true }) as Record<string, string>[];
    expect(records).toHaveLength(2);
    expect(records[1]!.LAST_JOB_ERROR_DESCRIPTION).toBe('boot failed, "really"');
    expect(records[0]!.FACTORY_STAGE).toBe('Done');
  });
});

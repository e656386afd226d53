import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checkPlanCsv,
  checkPlanJson,
  type EstateLike,
  type Inventory,
  inventoryFromEstate,
  type PlanInput,
  PROBLEM_CODES,
  type Problem,
  type ProblemCode,
} from '../../src/domain';

const fixtures = path.join(__dirname, '..', 'fixtures', 'plans');
const read = (file: string) => readFileSync(path.join(fixtures, file), 'utf8');
const SUB = '6f1c2a9e-0000-4000-8000-000000000001';
const estate = (): Inventory => inventoryFromEstate(JSON.parse(read('estate.json')) as EstateLike);

type MachineInput = PlanInput['machines'][number];

function plan(machines: MachineInput[], settings: PlanInput['settings'] = {}): PlanInput {
  return {
    name: 'w',
    settings,
    migrateProject: { subscriptionId: SUB, resourceGroup: 'rg-migrate', name: 'contoso-migrate' },
    machines,
  };
}

function machine(
  sourceName: string,
  target: Partial<MachineInput['target']> = {},
  extra: Partial<MachineInput> = {},
): MachineInput {
  return {
    sourceName,
    target: { resourceGroup: 'rg-prod', virtualNetwork: 'vnet-prod', testNetwork: 'vnet-test', ...target },
    ...extra,
  };
}

const codes = (problems: Problem[]) => problems.map((p) => [p.row, p.column, p.code]);

describe('plan validation', () => {
  it('accepts the fixtures against their estate', () => {
    const inventory = estate();
    expect(checkPlanJson(JSON.parse(read('plan.json')), { inventory }).problems).toEqual([]);
    expect(checkPlanCsv(read('Input.csv'), {}, { inventory }).problems).toEqual([]);
  });

  it('collects every problem of the defective JSON plan, each located by machine and path', () => {
    const { problems, plan: valid } = checkPlanJson(JSON.parse(read('defective.json')), {
      inventory: estate(),
    });
    expect(valid).toBeUndefined();
    expect(codes(problems)).toEqual([
      [0, 'settings.cutover.end', 'INVALID_VALUE'],
      [1, 'target.availabilityZone', 'INVALID_ZONE'],
      [1, 'target.testNetwork', 'TEST_NETWORK_IS_TARGET'],
      [2, 'sourceName', 'DUPLICATE_MACHINE'],
      [2, 'target.availabiltyZone', 'INVALID_VALUE'],
      [2, 'target.diskType', 'INVALID_DISK_TYPE'],
      [2, 'target.name', 'INVALID_TARGET_NAME'],
      [3, 'sourceName', 'UNKNOWN_MACHINE'],
      [3, 'target.resourceGroup', 'UNKNOWN_RESOURCE_GROUP'],
      [3, 'target.virtualNetwork', 'UNKNOWN_NETWORK'],
      [4, 'sourceName', 'LEGACY_OS'],
      [4, 'target.availabilitySet', 'ZONE_AND_SET'],
      [4, 'target.subnet', 'UNKNOWN_SUBNET'],
      [4, 'target.virtualNetwork', 'ADDRESS_SPACE_OVERLAP'],
      [5, 'sourceName', 'NOT_SUITABLE'],
      [5, 'target.licenseType', 'INVALID_LICENSE_TYPE'],
      [5, 'target.testNetwork', 'TEST_NETWORK_MISSING'],
    ]);
  });

  it('collects every problem of the defective CSV plan with spreadsheet rows and CSV columns', () => {
    const { problems } = checkPlanCsv(read('defective.csv'), {}, { inventory: estate() });
    expect(codes(problems)).toEqual([
      [1, 'TARGET_VNET', 'CSV_UNKNOWN_COLUMN'],
      [2, 'TAG_KEY', 'TAG_COUNT_MISMATCH'],
      [2, 'TURNOFF_SOURCESERVER', 'BAD_FLAG'],
      [3, 'AVAILABILITYZONE_NUMBER', 'INVALID_ZONE'],
      [3, 'AZMIGRATEPROJECT_NAME', 'PROJECT_MISMATCH'],
      [3, 'SOURCE_MACHINE_NAME', 'DUPLICATE_MACHINE'],
      [3, 'TARGET_DISKTYPE', 'INVALID_DISK_TYPE'],
      [3, 'TARGET_MACHINE_NAME', 'TARGET_NAME_TAKEN'],
      [3, 'TARGET_MACHINE_NAME', 'TARGET_NAME_TAKEN'],
      [3, 'TESTMIGRATE_VNET_NAME', 'TEST_NETWORK_IS_TARGET'],
      [4, 'AVAILABILITYSET_NAME', 'ZONE_AND_SET'],
      [4, 'SOURCE_MACHINE_NAME', 'LEGACY_OS'],
      [4, 'TARGET_MACHINE_NAME', 'INVALID_TARGET_NAME'],
      [4, 'TARGET_SUBNET_NAME', 'UNKNOWN_SUBNET'],
    ]);
  });

  it('lets allowLegacyOs override an OS-only unsuitability, never other reasons', () => {
    const p = plan([machine('legacy-nt-01'), machine('huge-vm-01')], { allowLegacyOs: true });
    expect(codes(checkPlanJson(p, { inventory: estate() }).problems)).toEqual([
      [2, 'sourceName', 'NOT_SUITABLE'],
    ]);
  });

  it('refuses machines that are in an active wave', () => {
    const p = plan([machine('crm-web-01'), machine('crm-web-02')]);
    const { problems } = checkPlanJson(p, { inventory: estate(), activeMachines: ['CRM-WEB-02'] });
    expect(codes(problems)).toEqual([[2, 'sourceName', 'MACHINE_IN_ACTIVE_WAVE']]);
  });

  it('checks sizes against the region list, including sizes taken from the assessment', () => {
    const p = plan([
      machine('crm-web-01', { useAssessment: true }),
      machine('crm-web-02', { size: 'Standard_D2s_v5' }),
      machine('crm-db-01', { size: 'Standard_Bogus_v9' }, { appliance: 'contoso-app02' }),
    ]);
    const { problems } = checkPlanJson(p, {
      inventory: estate(),
      vmSizes: ['standard_d2s_v5', 'Standard_E8s_v5'],
    });
    expect(codes(problems)).toEqual([
      [1, 'target.size', 'UNKNOWN_SIZE'],
      [3, 'target.size', 'UNKNOWN_SIZE'],
    ]);
    expect(problems[0]!.message).toContain('Standard_D4s_v5');
  });

  it('finds target and test VM names that collide with each other or with existing VMs', () => {
    const inventory = { ...estate(), virtualMachines: [{ resourceGroup: 'RG-PROD', name: 'existing-01' }] };
    const p = plan([
      machine('crm-web-01', { name: 'existing-01' }),
      machine('crm-web-02', { name: 'app' }),
      machine('crm-db-01', { name: 'APP-test' }, { appliance: 'contoso-app02' }),
    ]);
    const { problems } = checkPlanJson(p, { inventory });
    expect(codes(problems)).toEqual([
      [1, 'target.name', 'TARGET_NAME_TAKEN'],
      [3, 'target.name', 'TARGET_NAME_TAKEN'],
    ]);
  });

  it('checks the default target name (the source name) and the length of the test VM name', () => {
    const long = 'a'.repeat(62);
    const p = plan([machine('bad name'), machine('crm-web-01', { name: long })]);
    const { problems } = checkPlanJson(p);
    expect(codes(problems)).toEqual([
      [1, 'target.name', 'INVALID_TARGET_NAME'],
      [2, 'target.name', 'TEST_VM_NAME_TOO_LONG'],
    ]);
    const noTest = plan([machine('crm-web-01', { name: long }, { testMigration: false })]);
    expect(checkPlanJson(noTest).problems).toEqual([]);
  });

  it('checks networks given by resource id, ambiguous names, test subnets and availability sets', () => {
    const inventory = estate();
    inventory.virtualNetworks.push({
      resourceGroup: 'rg-other',
      name: 'vnet-test',
      addressPrefixes: ['10.98.0.0/16'],
      subnets: [{ name: 'default' }],
    });
    inventory.availabilitySets = [{ resourceGroup: 'rg-prod', name: 'avset-1' }];
    const id = (rg: string, name: string) =>
      `/subscriptions/${SUB}/resourceGroups/${rg}/providers/Microsoft.Network/virtualNetworks/${name}`;
    const p = plan([
      machine('crm-web-01', { testNetwork: 'vnet-test' }),
      machine('crm-web-02', {
        testNetwork: id('rg-net', 'vnet-test'),
        testSubnet: 'nope',
        availabilitySet: 'avset-2',
      }),
      machine(
        'crm-db-01',
        { virtualNetwork: id('rg-net', 'vnet-prod'), testNetwork: id('rg-net', 'vnet-prod') },
        { appliance: 'contoso-app02' },
      ),
    ]);
    expect(codes(checkPlanJson(p, { inventory }).problems)).toEqual([
      [1, 'target.testNetwork', 'AMBIGUOUS_NETWORK'],
      [2, 'target.availabilitySet', 'UNKNOWN_AVAILABILITY_SET'],
      [2, 'target.testSubnet', 'UNKNOWN_SUBNET'],
      [3, 'target.testNetwork', 'TEST_NETWORK_IS_TARGET'],
    ]);
  });

  it('finds machines by name and appliance: unknown appliance, wrong appliance, ambiguous names', () => {
    const inventory = estate();
    inventory.machines.push({ ...inventory.machines[0]!, appliance: 'contoso-app02' });
    const p = plan([
      machine('crm-web-01'),
      machine('crm-web-02', {}, { appliance: 'contoso-app09' }),
      machine('crm-db-01', {}, { appliance: 'contoso-app01' }),
    ]);
    expect(codes(checkPlanJson(p, { inventory }).problems)).toEqual([
      [1, 'appliance', 'AMBIGUOUS_MACHINE'],
      [2, 'appliance', 'UNKNOWN_APPLIANCE'],
      [2, 'sourceName', 'UNKNOWN_MACHINE'],
      [3, 'sourceName', 'UNKNOWN_MACHINE'],
    ]);
  });

  it('checks disk ids the plan names and the tag limit', () => {
    const many = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`t${i}`, 'v']));
    const more = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`u${i}`, 'v']));
    const p = plan([
      machine('crm-web-01', { osDiskId: 'nope', perDiskTypes: { 'other-disk': 'Premium_LRS' } }),
      machine('crm-web-02', { tags: { all: many, nic: more } }),
    ]);
    expect(codes(checkPlanJson(p, { inventory: estate() }).problems)).toEqual([
      [1, 'target.osDiskId', 'UNKNOWN_DISK'],
      [1, 'target.perDiskTypes.other-disk', 'UNKNOWN_DISK'],
      [2, 'target.tags.nic', 'TOO_MANY_TAGS'],
    ]);
  });

  it('refuses a target region where Automanage cannot onboard, whatever its spelling', () => {
    const p = plan([machine('crm-web-01')]);
    const inventory = { ...estate(), location: 'Brazil South' };
    expect(codes(checkPlanJson(p, { inventory }).problems)).toEqual([
      [0, 'location', 'REGION_NOT_SUPPORTED'],
    ]);
    for (const location of ['West Europe', 'westeurope', 'AU East', 'UK South']) {
      expect(checkPlanJson(p, { inventory: { ...estate(), location } }).problems).toEqual([]);
    }
  });

  it('skips landing-zone checks for targets in another subscription', () => {
    const other = '00000000-0000-4000-8000-00000000abcd';
    const p = plan([
      machine('crm-web-01', {
        subscriptionId: other,
        resourceGroup: 'rg-elsewhere',
        virtualNetwork: 'v1',
        testNetwork: 'V1',
      }),
    ]);
    expect(codes(checkPlanJson(p, { inventory: estate() }).problems)).toEqual([
      [1, 'target.testNetwork', 'TEST_NETWORK_IS_TARGET'],
    ]);
  });

  it('reports plan-level schema problems on row 0 and unknown fields by path', () => {
    const { problems } = checkPlanJson({ name: '', migrateProject: {}, machines: [], extra: 1 });
    expect(codes(problems)).toEqual([
      [0, 'extra', 'INVALID_VALUE'],
      [0, 'machines', 'PLAN_EMPTY'],
      [0, 'migrateProject.name', 'REQUIRED'],
      [0, 'migrateProject.resourceGroup', 'REQUIRED'],
      [0, 'migrateProject.subscriptionId', 'REQUIRED'],
      [0, 'name', 'INVALID_VALUE'],
    ]);
    expect(codes(checkPlanJson([]).problems)).toEqual([[0, '', 'INVALID_VALUE']]);
  });

  it('exercises every documented problem code somewhere in this suite', () => {
    // Keeps the code table honest: a code nobody can produce should not be documented.
    const produced = new Set<ProblemCode>();
    const inventory = estate();
    const collect = (problems: Problem[]) => {
      for (const p of problems) produced.add(p.code);
    };
    collect(checkPlanJson(JSON.parse(read('defective.json')), { inventory }).problems);
    collect(checkPlanCsv(read('defective.csv'), {}, { inventory }).problems);
    collect(checkPlanCsv('A,"b\n', {}).problems);
    collect(checkPlanCsv('SOURCE_MACHINE_NAME\nx\n', {}).problems);
    collect(
      checkPlanCsv(
        'AZMIGRATEPROJECT_SUBSCRIPTION_ID,AZMIGRATEPROJECT_RESOURCE_GROUP_NAME,AZMIGRATEPROJECT_NAME,SOURCE_MACHINE_NAME,TARGET_RESOURCE_GROUP_NAME,TARGET_VNET_NAME,OK_TO_MIGRATE\nx,y,z,a,b,c,N\n',
      ).problems,
    );
    collect(checkPlanJson({ name: 'w' }).problems);
    const big = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`t${i}`, 'v']));
    inventory.availabilitySets = [];
    inventory.machines.push({ ...inventory.machines[0]!, appliance: 'contoso-app02' });
    collect(
      checkPlanJson(
        plan([
          machine('crm-web-01', {
            name: 'a'.repeat(63),
            size: 'Standard_X',
            tags: { vm: big },
            availabilitySet: 's',
            virtualNetwork: 'vnet-testx',
            testNetwork: 'x',
          }),
          machine(
            'crm-web-02',
            {
              name: 'a'.repeat(63),
              virtualNetwork: `/subscriptions/${SUB}/resourceGroups/a/providers/Microsoft.Network/virtualNetworks/b`,
            },
            { appliance: 'nope' },
          ),
          machine('crm-db-01', { osDiskId: 'q' }, { appliance: 'contoso-app02' }),
        ]),
        { inventory: { ...inventory, location: 'mars' }, activeMachines: ['crm-web-01'], vmSizes: [] },
      ).problems,
    );
    inventory.virtualNetworks.push({
      resourceGroup: 'rg-2',
      name: 'vnet-prod',
      addressPrefixes: [],
      subnets: [],
    });
    collect(checkPlanJson(plan([machine('crm-web-02')]), { inventory }).problems);
    expect([...PROBLEM_CODES].filter((c) => !produced.has(c))).toEqual([]);
  });
});

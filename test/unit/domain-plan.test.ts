import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  automanageSupportsRegion,
  checkPlanJson,
  chooseProfile,
  DEVTEST_PROFILE_ID,
  type EstateLike,
  INSTANCE_ID_MAX_LENGTH,
  inventoryFromEstate,
  machineInstanceId,
  normaliseRegion,
  onboardingInstanceId,
  PRODUCTION_PROFILE_ID,
  planJsonSchema,
  planSchema,
  resolvePlan,
  testVmName,
  vmNameProblem,
  waveInstanceId,
} from '../../src/domain';

const fixtures = path.join(__dirname, '..', 'fixtures', 'plans');
const read = (file: string) => readFileSync(path.join(fixtures, file), 'utf8');

describe('plan schema', () => {
  it('fills the documented defaults', () => {
    const plan = planSchema.parse({
      name: 'w',
      migrateProject: {
        subscriptionId: '6f1c2a9e-0000-4000-8000-000000000001',
        resourceGroup: 'rg',
        name: 'p',
      },
      machines: [{ sourceName: 'a', target: { resourceGroup: 'rg', virtualNetwork: 'v' } }],
    });
    expect(plan.settings).toEqual({ cutover: { mode: 'auto' }, testMigration: true, shutdownSource: true });
    expect(plan.machines[0]!.target).toEqual({
      resourceGroup: 'rg',
      virtualNetwork: 'v',
      subnet: 'default',
      diskType: 'Standard_LRS',
      licenseType: 'NoLicenseType',
      tags: {},
      diskEncryption: { type: 'platform' },
      useAssessment: false,
    });
  });

  it('exports a JSON Schema that describes the input, with defaults and enums', () => {
    const schema = planJsonSchema() as {
      $schema: string;
      required: string[];
      properties: Record<string, { properties?: Record<string, unknown>; items?: unknown }>;
    };
    expect(schema.$schema).toContain('2020-12');
    expect(schema.required).toEqual(['name', 'migrateProject', 'machines']);
    const machine = schema.properties.machines!.items as {
      required: string[];
      properties: { target: { properties: Record<string, { enum?: string[]; default?: unknown }> } };
    };
    expect(machine.required).toEqual(['sourceName', 'target']);
    expect(machine.properties.target.properties.diskType).toMatchObject({
      enum: ['Premium_LRS', 'StandardSSD_LRS', 'Standard_LRS'],
      default: 'Standard_LRS',
    });
    expect(machine.properties.target.properties.availabilityZone!.enum).toEqual(['1', '2', '3']);
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
  });

  it('refuses cut-over windows that are empty, half given or both absolute and recurring', () => {
    const base = JSON.parse(read('plan.json'));
    const withCutover = (cutover: unknown) => ({ ...base, settings: { cutover } });
    const problems = (cutover: unknown) => checkPlanJson(withCutover(cutover)).problems.map((p) => p.column);
    expect(problems({ mode: 'window', start: '2026-12-01T22:00:00Z' })).toEqual(['settings.cutover']);
    expect(problems({ mode: 'window' })).toEqual(['settings.cutover']);
    expect(
      problems({
        mode: 'window',
        start: '2026-12-01T22:00:00Z',
        end: '2026-12-02T22:00:00Z',
        recurring: { days: ['Sat'], start: '22:00', durationMinutes: 60 },
      }),
    ).toEqual(['settings.cutover']);
    expect(
      problems({ mode: 'window', recurring: { days: ['Sat'], start: '25:00', durationMinutes: 60 } }),
    ).toEqual(['settings.cutover.recurring.start']);
    expect(problems({ mode: 'approval' })).toEqual([]);
  });
});

describe('resolving a plan against the inventory', () => {
  const inventory = () => inventoryFromEstate(JSON.parse(read('estate.json')) as EstateLike);

  it('takes size and per-disk types from the assessment when asked, else from the plan', () => {
    const plan = checkPlanJson(JSON.parse(read('plan.json'))).plan!;
    const [web1, web2, db] = resolvePlan(plan, inventory());
    expect(web1).toMatchObject({
      targetName: 'azcrmweb01',
      testVmName: 'azcrmweb01-test',
      size: 'Standard_D4s_v5',
    });
    expect(web1!.sizeFrom).toBe('assessment');
    expect(web1!.disks).toEqual([
      { id: '6000C291-aaaa-0001', sizeGB: 128, isOS: true, diskType: 'Premium_LRS' },
      { id: '6000C291-aaaa-0002', sizeGB: 512, isOS: false, diskType: 'Standard_LRS' },
    ]);
    // perDiskTypes beats the plan's diskType; no assessment use for this machine.
    expect(web2!.disks.map((d) => d.diskType)).toEqual(['StandardSSD_LRS']);
    expect(web2).toMatchObject({ targetName: 'crm-web-02', size: 'Standard_D2s_v5', sizeFrom: 'plan' });
    expect(db!.disks.map((d) => d.diskType)).toEqual(['Premium_LRS', 'Premium_LRS']);
    expect(db!.shutdownSource).toBe(false);
    expect(web1!.shutdownSource).toBe(true);
    expect(db!.priority).toBe(1);
    expect(web1!.onboarding).toMatchObject({ environment: 'Production', reason: 'plan' });
    expect(web2!.onboarding).toMatchObject({ environment: 'Custom', reason: 'plan' });
    expect(db!.onboarding).toMatchObject({ environment: 'Production', reason: 'default' });
  });

  it('falls back to the plan when the assessment has no recommendation for a disk', () => {
    const inv = inventory();
    inv.machines[0]!.assessment!.diskTypes = { '6000C291-aaaa-0001': 'StandardOrPremium' };
    inv.machines[0]!.assessment!.recommendedSize = undefined;
    const plan = checkPlanJson(JSON.parse(read('plan.json'))).plan!;
    plan.machines[0]!.target.diskType = 'StandardSSD_LRS';
    const [web1] = resolvePlan(plan, inv);
    expect(web1!.disks.map((d) => d.diskType)).toEqual(['StandardSSD_LRS', 'StandardSSD_LRS']);
    expect(web1!.sizeFrom).toBe('none');
  });
});

describe('onboarding profile choice', () => {
  it('follows the plan, then the environment tag, else Production', () => {
    expect(chooseProfile('DevTest', { environment: 'Production' }).profileId).toBe(DEVTEST_PROFILE_ID);
    expect(chooseProfile({ custom: '/subscriptions/x/p' }).profileId).toBe('/subscriptions/x/p');
    for (const value of ['Dev', 'test', 'DevTest', 'dev-test', 'Staging', 'Development']) {
      expect(chooseProfile(undefined, { Environment: value })).toMatchObject({
        environment: 'DevTest',
        reason: 'tag',
      });
    }
    for (const value of ['Prod', 'PRODUCTION']) {
      expect(chooseProfile(undefined, { environment: value })).toMatchObject({
        environment: 'Production',
        reason: 'tag',
      });
    }
    expect(chooseProfile(undefined, { environment: 'qa-lab' })).toMatchObject({
      profileId: PRODUCTION_PROFILE_ID,
      reason: 'default',
    });
    expect(chooseProfile(undefined, { owner: 'x' }, { environment: 'dev' }).environment).toBe('DevTest');
    expect(chooseProfile(undefined, { environment: 'prod' }, { environment: 'dev' }).environment).toBe(
      'Production',
    );
    expect(chooseProfile(undefined).reason).toBe('default');
  });

  it('normalises region names before checking Automanage support', () => {
    expect(normaliseRegion('West Europe')).toBe('westeurope');
    expect(normaliseRegion('AU Southeast')).toBe('australiasoutheast');
    expect(automanageSupportsRegion('East US 2')).toBe(true);
    expect(automanageSupportsRegion('australiaeast')).toBe(true);
    expect(automanageSupportsRegion('Brazil South')).toBe(false);
  });
});

describe('names', () => {
  it('applies Azure VM name rules', () => {
    expect(vmNameProblem('crm-web-01')).toBeUndefined();
    expect(vmNameProblem('a'.repeat(64))).toBeUndefined();
    expect(vmNameProblem('a'.repeat(65))).toMatch(/65 characters/);
    expect(vmNameProblem('')).toBeDefined();
    for (const bad of [
      'a b',
      'a/b',
      'a\\b',
      'a"b',
      'a[b',
      'a:b',
      'a|b',
      'a<b',
      'a+b',
      'a=b',
      'a;b',
      'a,b',
      'a?b',
      'a*b',
      'a@b',
      'a&b',
      'a\tb',
    ]) {
      expect(vmNameProblem(bad), bad).toBeDefined();
    }
    expect(vmNameProblem('_a')).toMatch(/start/);
    expect(vmNameProblem('a.')).toMatch(/end/);
    expect(vmNameProblem('a-')).toMatch(/end/);
    expect(testVmName('crm-web-01')).toBe('crm-web-01-test');
  });

  it('derives deterministic, distinct, storage-safe instance ids', () => {
    expect(machineInstanceId('w1', 'CRM-Web-01')).toBe(machineInstanceId('w1', 'crm-web-01'));
    expect(machineInstanceId('w1', 'crm-web-01')).toBe('vm:w1:crm-web-01');
    expect(machineInstanceId('a-b', 'c')).not.toBe(machineInstanceId('a', 'b-c'));
    expect(machineInstanceId('a:b', 'c')).not.toBe(machineInstanceId('a', 'b:c'));
    expect(machineInstanceId('w', 'a/b#c?d\\e')).not.toMatch(/[/#?\\]/);
    expect(machineInstanceId('w', 'a_2f_b')).not.toBe(machineInstanceId('w', 'a/b'));
    // Each other code point (astral ones whole) becomes `_` + hex + `_`.
    expect(machineInstanceId('w', 'A/b_\u{1f600}:x')).toBe('vm:w:a_2f_b_5f__1f600__3a_x');
    const long1 = machineInstanceId('wave', 'x'.repeat(200));
    const long2 = machineInstanceId('wave', `${'x'.repeat(199)}y`);
    expect(long1.length).toBeLessThanOrEqual(INSTANCE_ID_MAX_LENGTH);
    expect(long1).not.toBe(long2);
    expect(waveInstanceId('W1')).toBe('wave:w1');
    const vmId = '/subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/vm1';
    expect(onboardingInstanceId(vmId)).toBe(onboardingInstanceId(vmId.toLowerCase()));
    expect(onboardingInstanceId(vmId)).not.toMatch(/[/#?\\]/);
  });
});

/** The pure rules of VM management: scope, event classification, drift judgement, keys. */
import { describe, expect, it } from 'vitest';
import {
  afterRemediation,
  classifyEvent,
  driftEntityKey,
  emptyDrift,
  isTestMigrationVm,
  judgeDrift,
  migrationItemParts,
  remediationInstanceId,
  type ScopeSettings,
  scopeOf,
  TEST_MIGRATION_TAG,
  vmIdParts,
  vmResourceId,
} from '../../src/domain/scope';

const SUB = '6f1c2a9e-0000-4000-8000-000000000001';
const vmId = (group: string, name: string) =>
  `/subscriptions/${SUB}/resourceGroups/${group}/providers/Microsoft.Compute/virtualMachines/${name}`;
const ITEM = `/subscriptions/${SUB}/resourceGroups/rg-migrate/providers/Microsoft.RecoveryServices/vaults/v/replicationFabrics/f/replicationProtectionContainers/c/replicationMigrationItems/app-01`;

const scope: ScopeSettings = { resourceGroups: ['RG-Prod'], includeTags: [], excludeTags: [], regions: [] };
const vm = (
  overrides: Partial<{
    name: string;
    resourceGroup: string;
    location: string;
    tags: Record<string, string>;
  }> = {},
) => ({
  id: vmId(overrides.resourceGroup ?? 'rg-prod', overrides.name ?? 'web-01'),
  name: 'web-01',
  resourceGroup: 'rg-prod',
  location: 'westeurope',
  tags: {},
  ...overrides,
});

describe('scope', () => {
  it('manages VMs of the managed resource groups, compared case-insensitively', () => {
    expect(scopeOf(vm(), scope)).toEqual({ inScope: true });
    expect(scopeOf(vm({ resourceGroup: 'rg-other' }), scope)).toEqual({
      inScope: false,
      reason: 'resource group rg-other is not managed',
    });
  });

  it('never manages test-migration VMs, by name or by marker tag', () => {
    expect(isTestMigrationVm('web-01-test', {})).toBe(true);
    expect(isTestMigrationVm('web-01', { [TEST_MIGRATION_TAG.toUpperCase()]: 'yes' })).toBe(true);
    expect(isTestMigrationVm('testserver', {})).toBe(false);
    expect(scopeOf(vm({ name: 'WEB-01-TEST' }), scope)).toMatchObject({
      inScope: false,
      reason: 'a test-migration VM',
    });
  });

  it('applies regions, exclude tags before include tags, and tag values', () => {
    expect(scopeOf(vm({ location: 'West Europe' }), { ...scope, regions: ['westeurope'] })).toEqual({
      inScope: true,
    });
    expect(scopeOf(vm({ location: 'eastus' }), { ...scope, regions: ['westeurope'] })).toMatchObject({
      inScope: false,
    });
    const tagged = {
      ...scope,
      includeTags: [{ name: 'env', value: 'prod' }],
      excludeTags: [{ name: 'noautomanage' }],
    };
    expect(scopeOf(vm({ tags: { Env: 'PROD' } }), tagged)).toEqual({ inScope: true });
    expect(scopeOf(vm({ tags: { env: 'dev' } }), tagged)).toMatchObject({
      reason: 'carries none of the included tags',
    });
    expect(scopeOf(vm({ tags: { env: 'prod', NoAutomanage: '' } }), tagged)).toMatchObject({
      reason: 'excluded by tag noautomanage',
    });
  });

  it('parses VM and migration item ids, refusing extension resources as VMs', () => {
    expect(vmIdParts(vmId('rg-prod', 'web-01'))).toEqual({
      subscriptionId: SUB,
      resourceGroup: 'rg-prod',
      name: 'web-01',
    });
    expect(vmIdParts(`${vmId('rg-prod', 'web-01')}/extensions/x`)).toBeUndefined();
    expect(vmResourceId(`/subscriptions/${SUB}/resourceGroups/rg-prod`, 'web-01')).toBe(
      vmId('rg-prod', 'web-01'),
    );
    expect(migrationItemParts(`${ITEM}/testMigrate`)).toEqual({ itemId: ITEM, name: 'app-01' });
  });
});

describe('classifyEvent', () => {
  const write = (
    operationName: string,
    resourceUri: string,
    eventType = 'Microsoft.Resources.ResourceWriteSuccess',
  ) => ({
    id: 'e1',
    eventType,
    subject: resourceUri,
    eventTime: '2026-01-01T00:00:00Z',
    data: { operationName, resourceUri },
  });

  it('recognises a VM write, in either schema', () => {
    expect(
      classifyEvent(write('Microsoft.Compute/virtualMachines/write', vmId('rg-prod', 'a'))),
    ).toMatchObject({
      kind: 'vmWritten',
      vmId: vmId('rg-prod', 'a'),
      resourceGroup: 'rg-prod',
    });
    const cloud = {
      id: 'e2',
      type: 'Microsoft.Resources.ResourceWriteSuccess',
      time: '2026-01-01T00:00:00Z',
      data: { operationName: 'Microsoft.Compute/virtualMachines/write', resourceUri: vmId('rg-prod', 'a') },
    };
    expect(classifyEvent(cloud)).toMatchObject({ kind: 'vmWritten', eventId: 'e2' });
  });

  it('recognises writes and actions on migration items', () => {
    const op =
      'Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationMigrationItems/testMigrate/action';
    expect(classifyEvent(write(op, ITEM, 'Microsoft.Resources.ResourceActionSuccess'))).toMatchObject({
      kind: 'migrationItemChanged',
      itemName: 'app-01',
      itemId: ITEM,
    });
    const byApp = write(op, ITEM, 'Microsoft.Resources.ResourceActionSuccess') as { data: object };
    byApp.data = { ...byApp.data, claims: { appid: 'A1B2-C3', oid: 'x' } };
    expect(classifyEvent(byApp)).toMatchObject({ kind: 'migrationItemChanged', callerAppId: 'a1b2-c3' });
  });

  it('ignores failures, deletes and other operations; flags what it cannot read', () => {
    expect(
      classifyEvent(
        write(
          'Microsoft.Compute/virtualMachines/write',
          vmId('g', 'a'),
          'Microsoft.Resources.ResourceWriteFailure',
        ),
      ).kind,
    ).toBe('ignored');
    expect(
      classifyEvent(
        write(
          'Microsoft.Network/virtualNetworks/write',
          '/subscriptions/x/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v',
        ),
      ).kind,
    ).toBe('ignored');
    expect(classifyEvent({ id: 'x', eventType: 'Custom.Thing', data: {} }).kind).toBe('ignored');
    expect(classifyEvent(null).kind).toBe('malformed');
    expect(classifyEvent([1]).kind).toBe('malformed');
    expect(classifyEvent({ eventType: 'x', data: {} }).kind).toBe('malformed');
    expect(classifyEvent({ id: 'x', eventType: 'Microsoft.Resources.ResourceWriteSuccess' }).kind).toBe(
      'malformed',
    );
    expect(classifyEvent(write('Microsoft.Compute/virtualMachines/write', '/not/a/vm')).kind).toBe(
      'malformed',
    );
  });

  it('reads policy states and requires a valid timestamp', () => {
    const policy = (timestamp: string) => ({
      id: 'p1',
      eventType: 'Microsoft.PolicyInsights.PolicyStateChanged',
      subject: vmId('rg-prod', 'a'),
      data: { timestamp, complianceState: 'NonCompliant', policyAssignmentId: '/a/b' },
    });
    expect(classifyEvent(policy('2026-01-01T00:00:00Z'))).toMatchObject({
      kind: 'policyState',
      resourceId: vmId('rg-prod', 'a'),
      complianceState: 'NonCompliant',
    });
    expect(classifyEvent(policy('soon')).kind).toBe('malformed');
  });
});

describe('drift judgement', () => {
  const report = (eventId: string, timestamp: number, now: number, complianceState = 'NonCompliant') => ({
    eventId,
    timestamp,
    complianceState,
    now,
    quietPeriodMs: 1_000,
  });

  it('corrects once, drops duplicates and stale events, and honours the quiet period', () => {
    const first = judgeDrift(emptyDrift(), report('a', 100, 10_000));
    expect(first.verdict).toEqual({ action: 'remediate' });
    expect(judgeDrift(first.state, report('a', 100, 10_001)).verdict).toEqual({
      action: 'skip',
      reason: 'duplicate',
    });
    expect(judgeDrift(first.state, report('b', 50, 10_001)).verdict).toEqual({
      action: 'skip',
      reason: 'stale',
    });
    const quiet = judgeDrift(first.state, report('c', 200, 10_500));
    expect(quiet.verdict).toEqual({ action: 'skip', reason: 'quietPeriod' });
    expect(judgeDrift(quiet.state, report('d', 300, 11_000)).verdict).toEqual({ action: 'remediate' });
  });

  it('lets a newer compliant state make an older NonCompliant one stale', () => {
    const compliant = judgeDrift(emptyDrift(), report('a', 200, 0, 'Compliant'));
    expect(compliant.verdict).toEqual({ action: 'skip', reason: 'compliant' });
    expect(judgeDrift(compliant.state, report('b', 100, 1)).verdict).toEqual({
      action: 'skip',
      reason: 'stale',
    });
  });

  it('escalates once when failures reach the limit, and resets on success', () => {
    let state = emptyDrift();
    const escalations: boolean[] = [];
    for (let i = 0; i < 4; i++) {
      const after = afterRemediation(state, false, 3);
      escalations.push(after.escalate);
      state = after.state;
    }
    expect(escalations).toEqual([false, false, true, false]);
    expect(afterRemediation(state, true, 3).state).toMatchObject({ failures: 0, escalated: false });
  });
});

describe('keys', () => {
  it('are stable for a VM id whatever its case, and distinct per VM and event', () => {
    const a = vmId('RG-Prod', 'Web-01');
    expect(driftEntityKey(a)).toBe(driftEntityKey(a.toLowerCase()));
    expect(driftEntityKey(a)).not.toBe(driftEntityKey(vmId('rg-prod', 'web-02')));
    expect(driftEntityKey(a)).toMatch(/^[a-z0-9.-]+$/);
    expect(remediationInstanceId(a, 'E-1')).toBe(remediationInstanceId(a.toLowerCase(), 'e-1'));
    expect(remediationInstanceId(a, 'e-1')).not.toBe(remediationInstanceId(a, 'e-2'));
    expect(remediationInstanceId(a, 'x'.repeat(200)).length).toBeLessThanOrEqual(100);
  });
});

/** VM management operations against small fakes: read first, record why, publish best-effort. */
import { beforeEach, describe, expect, it } from 'vitest';
import { VmManagement } from '../../src/activities/management';
import type { FactoryEventInput } from '../../src/activities/managementEvents';
import type {
  AzureGateways,
  OnboardingProfile,
  OnboardingReport,
  OnboardingStatus,
  VmRecord,
} from '../../src/azure/types';
import { machineInstanceId } from '../../src/domain/names';
import { createMemoryJournal, type Journal } from '../../src/store';
import {
  createMemoryManagementStore,
  type ManagedVm,
  ManagementStore,
  onboardsFor,
} from '../../src/store/management';
import { MemoryTableStore } from '../../src/store/memoryTables';
import type { Row } from '../../src/store/tables';

const SUB = '/subscriptions/6f1c2a9e-0000-4000-8000-000000000001';
const vmId = (group: string, name: string) =>
  `${SUB}/resourceGroups/${group}/providers/Microsoft.Compute/virtualMachines/${name}`;
const AT = '2026-11-21T10:00:00.000Z';
/** The discovered machine of app-01: its migration item is named after it (`app-01-5a1f`). */
const DISCOVERED_APP_01 = `${SUB}/resourceGroups/rg-migrate/providers/Microsoft.OffAzure/VMwareSites/site1/machines/app-01-5a1f`;
const SUPPORTED = new Set(['westeurope']);

let vms: Map<string, VmRecord>;
/** Assignments by lower-case VM id, with the latest report Automanage wrote on each. */
let assignments: Map<string, OnboardingStatus & { latestReport?: OnboardingReport }>;
let puts: string[];
let published: FactoryEventInput[];
let warnings: string[];
let publishFails: boolean;
let store: ManagementStore;
let journal: Journal;
let management: VmManagement;

function addVm(group: string, name: string, extra: Partial<VmRecord> = {}) {
  const id = vmId(group, name);
  vms.set(id.toLowerCase(), { id, name, resourceGroup: group, location: 'westeurope', tags: {}, ...extra });
  return id;
}

beforeEach(async () => {
  vms = new Map();
  assignments = new Map();
  puts = [];
  published = [];
  warnings = [];
  publishFails = false;
  journal = await createMemoryJournal();
  await journal.createWave({
    id: 'w1',
    name: 'wave one',
    cutover: 'auto',
    machines: [
      {
        name: 'app-01',
        plan: {
          targetResourceGroup: 'rg-prod',
          targetVmName: 'app-01-az',
          machineId: DISCOVERED_APP_01,
          enable: { targetResourceGroupId: `${SUB}/resourceGroups/rg-prod` },
        },
      },
    ],
    at: AT,
  });
  await journal.updateWave('w1', { status: 'Running', at: AT });
  store = await createMemoryManagementStore();
  const azure = {
    compute: { getVm: async (group: string, name: string) => vms.get(vmId(group, name).toLowerCase()) },
    onboarding: {
      supportsRegion: (location: string) => SUPPORTED.has(location),
      getAssignment: async (id: string) => assignments.get(id.toLowerCase()),
      getProgress: async (id: string) => {
        const assignment = assignments.get(id.toLowerCase());
        if (assignment === undefined) return undefined;
        const { latestReport, status } = assignment;
        return {
          ...(latestReport === undefined ? {} : { latestReport }),
          ...(status === undefined ? {} : { status }),
        };
      },
      assign: async (id: string, profile: OnboardingProfile) => {
        puts.push(id);
        const status: OnboardingStatus = {
          id: `${id}/providers/Microsoft.Automanage/configurationProfileAssignments/default`,
          profileId:
            profile.kind === 'Custom'
              ? profile.profileId
              : `/providers/Microsoft.Automanage/bestPractices/AzureBestPractices${profile.kind}`,
          status: 'InProgress',
        };
        assignments.set(id.toLowerCase(), status);
        return status;
      },
      remove: async (id: string) => {
        assignments.delete(id.toLowerCase());
      },
    },
  } as unknown as AzureGateways;
  management = new VmManagement({
    azure,
    journal,
    store,
    publisher: {
      publish: async (events) => {
        if (publishFails) throw new Error('topic unreachable');
        published.push(...events);
      },
    },
    settings: {
      includeTags: [],
      excludeTags: [{ name: 'noautomanage' }],
      regions: [],
      onboardingProfile: { kind: 'DevTest' },
      driftPolicyAssignments: [],
      driftQuietPeriodMs: 0,
      driftEscalateAfter: 3,
    },
    managedResourceGroups: ['rg-prod'],
    warn: (message) => warnings.push(message),
  });
});

const input = (id: string) => ({ vmId: id, eventId: 'e1', at: AT });

describe('the owner index', () => {
  it("finds the wave machine of a migration item by the item's name, and no one for another item", async () => {
    const items =
      '/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v/replicationFabrics/f/replicationProtectionContainers/c/replicationMigrationItems';
    expect(await store.ownerOfItem(`${items}/APP-01-5A1F`, journal)).toEqual({
      waveId: 'w1',
      name: 'app-01',
      instanceId: machineInstanceId('w1', 'app-01'),
    });
    expect(await store.ownerOfItem(`${items}/web-09-77aa`, journal)).toBeUndefined();
  });
});

describe('the owner index, spread', () => {
  it("finds every machine's target VM in its record's row and its migration item over many partitions", async () => {
    const tables = new MemoryTableStore();
    const spread = new ManagementStore(tables, 'spread');
    await spread.initialise();
    const names = Array.from({ length: 40 }, (_, i) => `db-${String(i).padStart(2, '0')}`);
    await journal.createWave({
      id: 'w2',
      name: 'wave two',
      cutover: 'auto',
      machines: names.map((name) => ({
        name,
        plan: {
          targetResourceGroup: 'rg-data',
          targetVmName: `${name}-az`,
          machineId: `/subscriptions/s/resourceGroups/rg/providers/Microsoft.OffAzure/VMwareSites/site/machines/${name}-10ab`,
          enable: { targetResourceGroupId: `${SUB}/resourceGroups/rg-data` },
        },
      })),
      at: AT,
    });
    await journal.updateWave('w2', { status: 'Running', at: AT });
    const items =
      '/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v/replicationFabrics/f/replicationProtectionContainers/c/replicationMigrationItems';
    for (const name of names) {
      const owner = { waveId: 'w2', name, instanceId: machineInstanceId('w2', name) };
      // VM ids are case-insensitive; the owner sits in the row of the VM's record, which is no record yet.
      expect(await spread.lookUpVm(vmId('RG-DATA', `${name}-AZ`), journal)).toEqual({ owner });
      expect(await spread.lookUpVm(vmId('rg-data', `${name}-az-test`), journal)).toEqual({});
      expect(await spread.ownerOfItem(`${items}/${name}-10ab`, journal)).toEqual(owner);
    }
    const rows: Row[] = [];
    let continuationToken: string | undefined;
    do {
      const page = await tables.query('spreadManagedVms', {
        partitionKey: 'item|',
        partitionKeyBefore: 'item}',
        ...(continuationToken === undefined ? {} : { continuationToken }),
      });
      rows.push(...page.rows);
      continuationToken = page.continuationToken;
    } while (continuationToken !== undefined);
    const partitions = new Set(rows.map((row) => row.partitionKey));
    expect(rows.filter((row) => row.waveId === 'w2')).toHaveLength(names.length);
    expect(partitions.size).toBeGreaterThan(20);
    expect([...partitions].every((pk) => /^item\|\d\d$/.test(pk))).toBe(true);
  });

  it('keeps the owner and the record of a VM, whichever is written first', async () => {
    const migrated = vmId('rg-prod', 'app-01-az');
    const owner = { waveId: 'w1', name: 'app-01', instanceId: machineInstanceId('w1', 'app-01') };
    // Recorded before any lookup indexed wave w1: the indexing merges the owner into the record.
    await management.record({ ...input(migrated), id: 'seen', kind: 'OnboardingSkipped', state: 'Skipped' });
    const found = await store.lookUpVm(migrated, journal);
    expect(found).toEqual({ owner, managed: expect.objectContaining({ state: 'Skipped' }) });
    // A later write of the record keeps the owner.
    await management.unmanage(migrated, 'ops@contoso.com', 'decommissioned', AT);
    expect(await store.lookUpVm(migrated, journal)).toEqual({
      owner,
      managed: expect.objectContaining({ state: 'Unmanaged', unmanagedBy: 'ops@contoso.com' }),
    });
  });
});

describe('lookUpWrittenVm', () => {
  it("records a migration's test VM and migrated VM as skipped, and answers any other VM's record", async () => {
    const migrated = vmId('rg-prod', 'app-01-az');
    const testVm = vmId('rg-prod', 'web-01-test');
    const other = vmId('rg-prod', 'web-09');
    const onboarded = vmId('rg-prod', 'web-10');
    await management.record({ ...input(onboarded), id: 'done', kind: 'Onboarded', state: 'Onboarded' });
    expect(await management.lookUpWrittenVm(input(migrated))).toEqual({ migrationVm: true });
    expect(await management.lookUpWrittenVm(input(testVm))).toEqual({ migrationVm: true });
    expect(await management.lookUpWrittenVm(input(other))).toEqual({ migrationVm: false });
    expect(await management.lookUpWrittenVm(input(onboarded))).toEqual({
      migrationVm: false,
      managed: expect.objectContaining({ state: 'Onboarded' }),
    });
    expect(await store.getVm(migrated)).toMatchObject({
      state: 'Skipped',
      reason: expect.stringMatching(/migrated by wave w1 \(app-01\)/),
    });
    expect(await store.getVm(testVm)).toMatchObject({ reason: expect.stringMatching(/test-migration VM/) });
    expect(await store.getVm(other)).toBeUndefined();
  });

  it('lets an onboarding after it skip the owner lookup (ownerChecked)', async () => {
    // The handler found no owner a moment ago; the assessment trusts it rather than reading again.
    const id = addVm('rg-prod', 'app-01-az');
    expect(await management.startOnboarding({ ...input(id), ownerChecked: true })).toMatchObject({
      action: 'onboard',
    });
  });
});

describe('startOnboarding', () => {
  it('assigns the configured profile to a new VM in scope and records the start', async () => {
    const id = addVm('rg-prod', 'web-01', { powerState: 'stopped' });
    expect(await management.startOnboarding(input(id))).toEqual({
      action: 'onboard',
      assigned: true,
      status: 'InProgress',
      powerState: 'stopped',
    });
    expect(puts).toEqual([id]);
    expect(assignments.get(id.toLowerCase())?.profileId).toMatch(/AzureBestPracticesDevTest$/);
    expect(await store.getVm(id)).toMatchObject({
      state: 'Onboarding',
      profileId: '/providers/Microsoft.Automanage/bestPractices/AzureBestPracticesDevTest',
    });
    expect((await store.listHistory(id)).map((h) => h.kind)).toEqual(['OnboardingStarted']);
  });

  it.each([
    ['a test-migration VM', () => addVm('rg-prod', 'web-01-test'), /test-migration VM/],
    ['an excluded tag', () => addVm('rg-prod', 'web-02', { tags: { NoAutomanage: '1' } }), /excluded by tag/],
    ['another resource group', () => addVm('rg-other', 'web-03'), /rg-other is not managed/],
    [
      'a region Automanage does not offer',
      () => addVm('rg-prod', 'web-04', { location: 'brazilsouth' }),
      /not offered in brazilsouth/,
    ],
    ['a VM a wave migrates to', () => addVm('rg-prod', 'app-01-az'), /migrated by wave w1 \(app-01\)/],
    ["a wave's test VM", () => addVm('rg-prod', 'APP-01-AZ-test'), /test-migration VM/],
    ['a VM that is gone', () => vmId('rg-prod', 'gone'), /no longer exists/],
  ])('skips %s and records why', async (_what, create, reason) => {
    const id = create();
    const outcome = await management.startOnboarding(input(id));
    expect(outcome).toMatchObject({
      action: 'skip',
      state: 'Skipped',
      reason: expect.stringMatching(reason),
    });
    expect(await store.getVm(id)).toMatchObject({ state: 'Skipped', reason: expect.stringMatching(reason) });
    expect(published.map((e) => e.eventType)).toEqual(['Factory.Vm.OnboardingSkipped']);
    expect(puts).toEqual([]);
  });

  it('records a VM assigned by someone else as onboarded, without assigning it again', async () => {
    const id = addVm('rg-prod', 'web-05');
    assignments.set(id.toLowerCase(), { id: 'a', profileId: '/custom/profile' });
    expect(await management.startOnboarding(input(id))).toMatchObject({ action: 'skip', state: 'Onboarded' });
    expect(puts).toEqual([]);
  });

  it('assigns once: a re-run of the step finds its own assignment and carries on without a PUT', async () => {
    const id = addVm('rg-prod', 'web-06');
    const first = await management.startOnboarding(input(id));
    const again = await management.startOnboarding(input(id));
    expect(first).toMatchObject({ action: 'onboard', assigned: true });
    expect(again).toMatchObject({ action: 'onboard', assigned: false, status: 'InProgress' });
    expect(puts).toEqual([id]);
    expect((await store.listHistory(id)).map((h) => h.kind)).toEqual(['OnboardingStarted']);
    // Another event's onboarding finds an assignment it did not make: the VM is onboarded already.
    expect(await management.startOnboarding({ ...input(id), eventId: 'e2' })).toMatchObject({
      action: 'skip',
      reason: 'already onboarded',
    });
  });
});

describe('read and record', () => {
  it('records the VM onboarded when the read that is asked to finds it Conformant, once', async () => {
    const id = addVm('rg-prod', 'web-11');
    await management.startOnboarding(input(id));
    const read = { ...input(id), onboardedId: 'onboard:x:1' };
    expect(await management.read(read)).toEqual({ missing: false, assignmentStatus: 'InProgress' });
    expect((await store.getVm(id))?.state).toBe('Onboarding');
    assignments.get(id.toLowerCase())!.latestReport = { id: 'r1', status: 'Conformant', resources: [] };
    // A read not asked to record (drift correction's) records nothing.
    expect(await management.read(input(id))).toMatchObject({ reportStatus: 'Conformant' });
    expect((await store.getVm(id))?.state).toBe('Onboarding');
    await management.read(read);
    await management.read(read);
    expect((await store.getVm(id))?.state).toBe('Onboarded');
    expect((await store.listHistory(id)).map((h) => h.kind)).toEqual(['OnboardingStarted', 'Onboarded']);
  });

  it('records a fact once: a replay neither adds history nor changes the record again', async () => {
    const id = addVm('rg-prod', 'web-12');
    const fact = { ...input(id), id: 'fix:1', kind: 'Remediated' as const, remediation: true };
    await management.record(fact);
    await management.record(fact);
    expect(await store.getVm(id)).toMatchObject({ remediations: 1, lastRemediationAt: AT });
    expect((await store.listHistory(id)).map((h) => h.id)).toEqual(['fix:1']);
  });

  it('writes a fact again over a record that another writer changed meanwhile, losing neither', async () => {
    const tables = new MemoryTableStore();
    const racing = new ManagementStore(tables, 'factory');
    await racing.initialise();
    const id = vmId('rg-prod', 'web-13');
    const escalate = (current: ManagedVm | undefined) => ({ ...current!, escalated: true });
    await racing.recordFact(id, { id: 'start:1', kind: 'OnboardingStarted', at: AT }, () => ({
      vmId: id,
      state: 'Onboarding',
      updatedAt: AT,
      remediations: 0,
      escalated: false,
    }));
    // Another instance escalates the VM between this writer's read and its write.
    const transact = tables.transact.bind(tables);
    let raced = false;
    tables.transact = async (table, operations) => {
      if (!raced && operations.some((op) => op.kind === 'replace')) {
        raced = true;
        await racing.recordFact(id, { id: 'esc:1', kind: 'RemediationEscalated', at: AT }, escalate);
      }
      return transact(table, operations);
    };
    await racing.recordFact(id, { id: 'fix:1', kind: 'Remediated', at: AT }, (current) => ({
      ...current!,
      remediations: current!.remediations + 1,
    }));
    expect(raced).toBe(true);
    expect(await racing.getVm(id)).toMatchObject({ remediations: 1, escalated: true, state: 'Onboarding' });
    expect((await racing.listHistory(id)).map((h) => h.id).sort()).toEqual(['esc:1', 'fix:1', 'start:1']);
  });

  it('writes from the record it last read or wrote, and reads again when another store changed it', async () => {
    const tables = new MemoryTableStore();
    const [here, there] = [new ManagementStore(tables, 'factory'), new ManagementStore(tables, 'factory')];
    await here.initialise();
    const id = vmId('rg-prod', 'web-14');
    let reads = 0;
    const get = tables.get.bind(tables);
    tables.get = async (table, partitionKey, rowKey) => {
      reads++;
      return get(table, partitionKey, rowKey);
    };
    const onboarding = (current: ManagedVm | undefined): ManagedVm => ({
      ...(current ?? { vmId: id, remediations: 0, escalated: false }),
      state: 'Onboarding',
      updatedAt: AT,
    });
    const remediated = (current: ManagedVm | undefined): ManagedVm => {
      const base = current ?? onboarding(undefined);
      return { ...base, remediations: base.remediations + 1 };
    };
    // Seen missing, then created by another store: the create is refused and a read follows.
    expect(await here.getVm(id)).toBeUndefined();
    await there.recordFact(
      id,
      { id: 'start:1', kind: 'OnboardingStarted', at: AT, eventId: 'e1' },
      onboarding,
    );
    await here.recordFact(id, { id: 'fix:1', kind: 'Remediated', at: AT }, remediated);
    expect(await there.getVm(id)).toMatchObject({ state: 'Onboarding', remediations: 1, eventId: 'e1' });
    // The record this store wrote is where its next write starts: no read.
    const before = reads;
    await here.recordFact(id, { id: 'fix:2', kind: 'Remediated', at: AT }, remediated);
    expect(reads).toBe(before);
    // Another store's change makes the kept record stale: the ETag check refuses it, a read follows.
    await there.recordFact(id, { id: 'esc:1', kind: 'RemediationEscalated', at: AT }, (current) => ({
      ...current!,
      escalated: true,
    }));
    await here.recordFact(id, { id: 'done:1', kind: 'Onboarded', at: AT, eventId: 'e2' }, (current) => ({
      ...current!,
      state: 'Onboarded',
    }));
    expect(await there.getVm(id)).toMatchObject({
      state: 'Onboarded',
      remediations: 2,
      escalated: true,
      eventId: 'e2',
    });
  });

  it('keeps the record when the lifecycle topic cannot be reached', async () => {
    const id = addVm('rg-prod', 'web-07');
    publishFails = true;
    await management.record({ ...input(id), id: 'x:1', kind: 'Onboarded', state: 'Onboarded' });
    expect(await store.getVm(id)).toMatchObject({ state: 'Onboarded' });
    expect(warnings).toEqual(['lifecycle event x:1 not published: topic unreachable']);
  });
});

describe('out of management', () => {
  it('removes the assignment, records who and why, and declines onboarding and drift correction', async () => {
    const id = addVm('rg-prod', 'web-08');
    await management.startOnboarding(input(id));
    await management.unmanage(id, 'alice@contoso.com', 'decommissioning', AT);
    expect(assignments.has(id.toLowerCase())).toBe(false);
    expect(await store.getVm(id)).toMatchObject({
      state: 'Unmanaged',
      unmanagedBy: 'alice@contoso.com',
      unmanagedReason: 'decommissioning',
    });
    expect(published.at(-1)).toMatchObject({
      eventType: 'Factory.Vm.Unmanaged',
      data: { actor: 'alice@contoso.com' },
    });
    expect(await management.startOnboarding(input(id))).toMatchObject({ action: 'skip', state: 'Unmanaged' });
    expect(await management.reassert(input(id))).toEqual({
      action: 'skipped',
      reason: 'taken out of management',
    });
    // A late record from an onboarding that was running does not bring the VM back.
    await management.record({ ...input(id), id: 'late:1', kind: 'Onboarded', state: 'Onboarded' });
    expect((await store.getVm(id))?.state).toBe('Unmanaged');

    const back = await management.manage(id, 'bob@contoso.com', 'kept', AT);
    expect(back).toMatchObject({ state: 'Skipped' });
    expect(back?.unmanagedBy).toBeUndefined();
    expect(await management.startOnboarding({ ...input(id), eventId: 'e2' })).toMatchObject({
      action: 'onboard',
    });
  });

  it('re-asserts the profile the VM has', async () => {
    const id = addVm('rg-prod', 'web-09');
    assignments.set(id.toLowerCase(), {
      id: 'a',
      profileId: '/providers/Microsoft.Automanage/bestPractices/AzureBestPracticesDevTest',
    });
    expect(await management.reassert(input(id))).toMatchObject({ action: 'reasserted' });
    expect(assignments.get(id.toLowerCase())?.profileId).toMatch(/AzureBestPracticesDevTest$/);
    expect(await management.reassert(input(addVm('rg-prod', 'web-10')))).toEqual({
      action: 'skipped',
      reason: 'the VM has no assignment',
    });
  });
});

describe('onboardsFor', () => {
  const record = (state: ManagedVm['state'], eventId?: string): ManagedVm => ({
    vmId: vmId('rg-prod', 'web-20'),
    state,
    updatedAt: AT,
    remediations: 0,
    escalated: false,
    ...(eventId === undefined ? {} : { eventId }),
  });

  it('onboards a VM never seen, and one skipped or failed for another event', () => {
    expect(onboardsFor(undefined, 'e1')).toBe(true);
    expect(onboardsFor(record('Skipped', 'e1'), 'e2')).toBe(true);
    expect(onboardsFor(record('Failed', 'e1'), 'e2')).toBe(true);
    expect(onboardsFor(record('Skipped'), 'e2')).toBe(true);
  });

  it('leaves alone a VM onboarding, onboarded, Pending or out of management, and an event judged before', () => {
    for (const state of ['Onboarding', 'Onboarded', 'Pending', 'Unmanaged'] as const) {
      expect(onboardsFor(record(state, 'e1'), 'e2')).toBe(false);
    }
    expect(onboardsFor(record('Skipped', 'e1'), 'e1')).toBe(false);
    expect(onboardsFor(record('Failed', 'e1'), 'e1')).toBe(false);
  });
});

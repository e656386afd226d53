/**
 * The activities with small in-memory fakes of the gateways and the in-memory journal: each reads
 * first and acts only when needed and allowed, so calling it twice acts once.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { type Activities, type ActivityEnv, createActivities } from '../../src/activities';
import { type MachineJob, type MachineSteps, stepsOf } from '../../src/activities/contract';
import type {
  AzureGateways,
  FactoryEvent,
  MigrationGateway,
  MigrationItemRecord,
  OperationRef,
  StageChangeEvent,
  VmRecord,
} from '../../src/azure/types';
import { AzureOperationError } from '../../src/domain/errors';
import { createMemoryJournal } from '../../src/store';
import type { Journal } from '../../src/store/types';

const SUB = '/subscriptions/00000000-0000-4000-8000-000000000001';
const job: MachineJob = {
  waveId: 'w1',
  name: 'web-01',
  machineId: `${SUB}/resourceGroups/rg-migrate/providers/Microsoft.OffAzure/VMwareSites/app01site/machines/web-01`,
  appliance: 'app01',
  enable: {
    machineId: 'm',
    disks: [{ diskId: 'd1', isOSDisk: true }],
    targetResourceGroupId: `${SUB}/resourceGroups/rg-prod`,
    targetNetworkId: `${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-prod`,
    testNetworkId: `${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-test`,
  },
  targetResourceGroup: 'rg-prod',
  targetVmName: 'web-01',
  performShutdown: true,
  skipTestMigration: false,
  onboarding: { kind: 'Production' },
};
/** What the pipeline gives the activities after the enable. */
const steps = stepsOf(job);
const AT = '2026-01-01T00:00:00.000Z';
/** When the fake Automanage takes an assignment, by its clock. */
const ASSIGNED_AT = Date.parse('2026-01-01T00:07:00.000Z');

function record(overrides: Partial<MigrationItemRecord> = {}): MigrationItemRecord {
  return {
    id: '/items/web-01',
    name: 'web-01',
    migrationState: 'Replicating',
    testMigrateState: 'None',
    allowedOperations: ['TestMigrate', 'Migrate', 'DisableMigration'],
    healthErrors: [],
    resyncRequired: false,
    ...overrides,
  };
}

/** The machine's test VM, running and provisioned, with its VM agent in the given state. */
function testVm(agent: string): void {
  vms.set('rg-prod/web-01-test', {
    id: 'vm-test',
    name: 'web-01-test',
    resourceGroup: 'rg-prod',
    location: 'westeurope',
    tags: {},
    provisioningState: 'Succeeded',
    powerState: 'running',
    vmAgentStatus: agent,
  });
}

/** A migration item store that moves like Azure when asked to act, and counts what it was asked. */
class FakeMigration implements Partial<MigrationGateway> {
  item: MigrationItemRecord | undefined;
  calls: string[] = [];
  failNext: Error | undefined;
  /** When Azure says it started an operation (epoch ms), if it says. */
  startedAt: number | undefined;
  private ref(action: string): OperationRef {
    const ref: OperationRef = { resourceId: '/items/web-01', action, status: 'InProgress' };
    return this.startedAt === undefined ? ref : { ...ref, startedAt: this.startedAt };
  }
  private act(action: string, change: () => void): OperationRef {
    const failure = this.failNext;
    this.failNext = undefined;
    if (failure) throw failure;
    this.calls.push(action);
    change();
    return this.ref(action);
  }
  get = async () => this.item;
  enable = async () => {
    if (this.item) return { started: false as const, item: this.item };
    return {
      started: true as const,
      operation: this.act('enable', () => {
        this.item = record({ migrationState: 'EnableMigrationInProgress', allowedOperations: [] });
      }),
    };
  };
  /** The network each test migration was asked to create its VM in. */
  testNetworks: (string | undefined)[] = [];
  testMigrate = async (_id: string, options: { networkId?: string }) =>
    this.act('testMigrate', () => {
      this.testNetworks.push(options.networkId);
      this.item = { ...this.item!, testMigrateState: 'TestMigrationInProgress', allowedOperations: [] };
    });
  testMigrateCleanup = async () =>
    this.act('testMigrateCleanup', () => {
      this.item = {
        ...this.item!,
        testMigrateState: 'TestMigrationCleanupInProgress',
        allowedOperations: [],
      };
    });
  migrate = async () =>
    this.act('migrate', () => {
      this.item = { ...this.item!, migrationState: 'MigrationInProgress', allowedOperations: [] };
    });
  complete = async () =>
    this.act('complete', () => {
      this.item = { ...this.item!, migrationState: 'DisableMigrationInProgress', allowedOperations: [] };
    });
}

let migration: FakeMigration;
let vms: Map<string, VmRecord>;
let published: StageChangeEvent[];
let sent: FactoryEvent[];
let publishFails: boolean;
let journal: Journal;
let activities: Activities;
let warnings: string[];
/** Orchestration instances as the durable client of an activity sees them. */
let instances: Map<string, { runtimeStatus: string; input?: unknown; output?: unknown }>;
/** Events raised through the activity's durable client. */
let raised: { instanceId: string; event: string; data: unknown }[];
const env = (): ActivityEnv => ({
  raiseEvent: async (instanceId, event, data) => {
    raised.push({ instanceId, event, data });
  },
  startInstance: async (_orchestration, instanceId, input) => {
    if (instances.has(instanceId)) return false;
    instances.set(instanceId, { runtimeStatus: 'Pending', input });
    return true;
  },
  instanceStatus: async (instanceId) => instances.get(instanceId),
  warn: (message) => warnings.push(message),
});

beforeEach(async () => {
  migration = new FakeMigration();
  vms = new Map();
  published = [];
  sent = [];
  publishFails = false;
  warnings = [];
  instances = new Map();
  raised = [];
  journal = await createMemoryJournal();
  await journal.createWave({
    id: 'w1',
    name: 'wave one',
    cutover: 'auto',
    machines: [{ name: 'web-01', machineId: job.machineId, plan: { ...job } }],
    at: AT,
  });
  const azure = {
    migration: migration as unknown as MigrationGateway,
    onboarding: {
      supportsRegion: () => true,
      getAssignment: async () => undefined,
      assign: async (vmId: string) => ({
        id: `${vmId}/providers/Microsoft.Automanage/configurationProfileAssignments/default`,
        profileId: 'AzureBestPracticesProduction',
        status: 'In-progress',
        assignedAt: ASSIGNED_AT,
      }),
    },
    compute: { getVm: async (group: string, name: string) => vms.get(`${group}/${name}`) },
    network: {
      getVnet: async () => ({
        id: 'v',
        name: 'vnet-prod',
        resourceGroup: 'rg-net',
        location: 'westeurope',
        addressPrefixes: [],
        subnets: [],
      }),
    },
    lifecycle: {
      publish: async (events: StageChangeEvent[]) => {
        if (publishFails) throw new Error('topic unreachable');
        published.push(...events);
      },
      send: async (events: FactoryEvent[]) => {
        if (publishFails) throw new Error('topic unreachable');
        sent.push(...events);
      },
    },
  } as unknown as AzureGateways;
  activities = createActivities({ azure, journal });
});

describe('idempotent starts', () => {
  it('enables once: a second call finds the item and sends nothing', async () => {
    const first = await activities.enableReplication({ jobs: [job], at: AT }, env());
    const second = await activities.enableReplication({ jobs: [job], at: AT }, env());
    expect(first).toEqual({
      ok: true,
      value: [{ name: 'web-01', status: 'started', migrationItemId: '/items/web-01' }],
    });
    expect(second.ok && second.value[0]?.status).toBe('exists');
    expect(migration.calls).toEqual(['enable']);
  });

  it('tells an enable how long seeding typically takes, from the time per GB the wave learned', async () => {
    const sized = { ...job, diskGB: 400 };
    await journal.recordStage({
      waveId: 'w1',
      machineName: 'web-01',
      to: 'ReadyToTest',
      at: AT,
      changeId: 'i:seeded',
      took: { step: 'seedingPerGB', ms: 15_000 },
    });
    const first = await activities.enableReplication({ jobs: [sized], at: AT }, env());
    expect(first.ok && first.value[0]?.typicalMs).toBe(400 * 15_000);
    // A job stored before sizes were kept gets no figure.
    const unsized = await activities.enableReplication({ jobs: [job], at: AT }, env());
    expect(unsized.ok && unsized.value[0]?.status).toBe('exists');
    expect(unsized.ok && unsized.value[0]?.typicalMs).toBeUndefined();
  });

  it('migrates once, with the shutdown the plan asks for', async () => {
    migration.item = record();
    expect(await activities.startMigrate({ job: steps, at: AT }, env())).toEqual({
      ok: true,
      value: { action: 'started' },
    });
    const again = await activities.startMigrate({ job: steps, at: AT }, env());
    expect(again.ok && again.value.action).toBe('skipped');
    expect(migration.calls).toEqual(['migrate']);
  });

  it('gives the steps after the enable the job without its enable request, with the ids they need', () => {
    expect(steps).not.toHaveProperty('enable');
    expect(steps).toMatchObject({
      machineId: job.machineId,
      targetResourceGroupId: job.enable.targetResourceGroupId,
      testNetworkId: job.enable.testNetworkId,
      targetVmName: 'web-01',
      onboarding: { kind: 'Production' },
    });
    expect(stepsOf(steps)).toBe(steps);
  });

  it('tests in the plan test network, also for a whole job that an older history scheduled', async () => {
    migration.item = record();
    await activities.startTestMigrate({ job: steps, at: AT }, env());
    migration.item = record();
    const older = { job: job as unknown as MachineSteps, at: AT };
    await activities.startTestMigrate(older, env());
    expect(migration.testNetworks).toEqual([job.enable.testNetworkId, job.enable.testNetworkId]);
  });

  it('tells a start how long its step typically takes, once a stage change carried one', async () => {
    migration.item = record();
    expect(await activities.startTestMigrate({ job: steps, at: AT }, env())).toEqual({
      ok: true,
      value: { action: 'started' },
    });
    migration.item = record();
    const tested = {
      waveId: 'w1',
      name: 'web-01',
      to: 'Testing' as const,
      at: AT,
      changeId: 'i:tested',
      took: { step: 'testMigrate' as const, ms: 15 * 60_000 },
    };
    expect(await activities.startTestMigrate({ job: steps, at: AT, record: [tested] }, env())).toEqual({
      ok: true,
      value: { action: 'started', typicalMs: 15 * 60_000 },
    });
    // Each step keeps its own figure: no migration has been timed yet.
    migration.item = record();
    expect(await activities.startMigrate({ job: steps, at: AT }, env())).toEqual({
      ok: true,
      value: { action: 'started' },
    });
  });

  it("tells when Azure started a step, by Azure's clock, when Azure said", async () => {
    migration.startedAt = Date.parse('2026-01-01T00:03:00.000Z');
    const enabled = await activities.enableReplication({ jobs: [job], at: AT }, env());
    expect(enabled.ok && enabled.value[0]).toMatchObject({
      status: 'started',
      startedAt: migration.startedAt,
    });
    migration.item = record();
    expect(await activities.startTestMigrate({ job: steps, at: AT }, env())).toEqual({
      ok: true,
      value: { action: 'started', startedAt: migration.startedAt },
    });
    vms.set('rg-prod/web-01', {
      id: `${SUB}/resourceGroups/rg-prod/providers/Microsoft.Compute/virtualMachines/web-01`,
      name: 'web-01',
      resourceGroup: 'rg-prod',
      location: 'westeurope',
      tags: {},
      provisioningState: 'Succeeded',
      powerState: 'running',
      vmAgentStatus: 'Ready',
    });
    const onboarded = await activities.onboard({ job: steps, at: AT }, env());
    expect(onboarded.ok && onboarded.value).toMatchObject({ supported: true, startedAt: ASSIGNED_AT });
  });

  it('refuses what allowedOperations does not allow, without calling Azure', async () => {
    migration.item = record({ allowedOperations: ['DisableMigration'] });
    const outcome = await activities.startTestMigrate({ job: steps, at: AT }, env());
    expect(outcome.ok && outcome.value.action).toBe('notAllowed');
    expect(migration.calls).toEqual([]);
  });

  it('never deletes an item that has not migrated', async () => {
    migration.item = record();
    const outcome = await activities.completeMigration({ job: steps, at: AT }, env());
    expect(outcome.ok && outcome.value.action).toBe('notAllowed');
    migration.item = record({ migrationState: 'MigrationSucceeded' });
    expect((await activities.completeMigration({ job: steps, at: AT }, env())).ok).toBe(true);
    expect(migration.calls).toEqual(['complete']);
  });
});

describe('a read that starts the next step', () => {
  const change = (to: 'ReadyToTest' | 'TestMigrating' | 'Testing' | 'CleaningUpTest', step: number) => ({
    waveId: 'w1',
    name: 'web-01',
    to,
    at: new Date(Date.parse(AT) + step * 1000).toISOString(),
    changeId: `i:${step}`,
  });
  const stagesOf = async () =>
    (await journal.listAudit('w1', { machineName: 'web-01' })).items
      .filter((e) => e.kind === 'StageChanged')
      .sort((a, b) => a.at.localeCompare(b.at))
      .map((e) => e.to);

  it('starts nothing and records nothing while the step it waits for runs', async () => {
    migration.item = record({
      migrationState: 'InitialSeedingInProgress',
      allowedOperations: ['DisableMigration'],
    });
    const andStart = {
      step: 'startTestMigrate' as const,
      record: [change('ReadyToTest', 1), change('TestMigrating', 2)],
    };
    const read = await activities.readMigrationItem({ job: steps, at: AT, andStart }, env());
    expect(read.ok && read.value.next).toBeUndefined();
    expect(read.ok && read.value.item?.migrationState).toBe('InitialSeedingInProgress');
    expect(migration.calls).toEqual([]);
    expect(await stagesOf()).toEqual([]);
  });

  it('starts the test once seeding is over and records its stages; a re-run finds it under way', async () => {
    migration.item = record();
    const input = {
      job: steps,
      at: AT,
      andStart: {
        step: 'startTestMigrate' as const,
        record: [change('ReadyToTest', 1), change('TestMigrating', 2)],
      },
    };
    const first = await activities.readMigrationItem(input, env());
    expect(first.ok && first.value.item?.migrationState).toBe('Replicating');
    expect(first.ok && first.value.next).toEqual({ action: 'started' });
    const again = await activities.readMigrationItem(input, env());
    expect(again.ok && again.value.next?.action).toBe('skipped');
    expect(migration.calls).toEqual(['testMigrate']);
    expect(await stagesOf()).toEqual(['ReadyToTest', 'TestMigrating']);
  });

  it('cleans up a test only after its VM was found healthy, and records how long the test took', async () => {
    const startedAt = Date.parse(AT);
    const endedAt = new Date(startedAt + 15 * 60_000).toISOString();
    const input = {
      job: steps,
      at: AT,
      withTestVm: true,
      andStart: {
        step: 'startTestCleanup' as const,
        record: [change('Testing', 1), change('CleaningUpTest', 2)],
        took: { step: 'testMigrate' as const, startedAt },
      },
    };
    migration.item = record({
      testMigrateState: 'TestMigrationFailed',
      allowedOperations: ['TestMigrateCleanup'],
    });
    const failed = await activities.readMigrationItem(input, env());
    expect(failed.ok && failed.value.next).toBeUndefined();
    migration.item = record({
      testMigrateState: 'TestMigrationSucceeded',
      allowedOperations: ['TestMigrateCleanup'],
      lastTestMigrationTime: endedAt,
    });
    testVm('NotReady');
    const booting = await activities.readMigrationItem(input, env());
    expect(booting.ok && booting.value.next).toBeUndefined();
    expect(migration.calls).toEqual([]);
    testVm('Ready');
    const healthy = await activities.readMigrationItem(input, env());
    expect(healthy.ok && healthy.value.next).toEqual({ action: 'started' });
    expect(migration.calls).toEqual(['testMigrateCleanup']);
    expect(await stagesOf()).toEqual(['Testing', 'CleaningUpTest']);
    expect((await journal.stepDurations('w1', 'web-01')).testMigrate).toBe(15 * 60_000);
  });

  it('completes a migration once; a re-run that finds the item gone carries on', async () => {
    migration.item = record({
      migrationState: 'MigrationSucceeded',
      allowedOperations: ['DisableMigration'],
    });
    const input = { job: steps, at: AT, andStart: { step: 'completeMigration' as const, record: [] } };
    const first = await activities.readMigrationItem(input, env());
    expect(first.ok && first.value.next).toEqual({ action: 'started' });
    migration.item = undefined;
    const again = await activities.readMigrationItem(input, env());
    expect(again.ok && again.value).toEqual({
      item: null,
      next: { action: 'skipped', reason: 'the migration item is already deleted' },
    });
    expect(migration.calls).toEqual(['complete']);
  });
});

describe('durable instances', () => {
  it('starts each instance once: a replayed start finds it and starts nothing', async () => {
    const input = {
      orchestration: 'vmPipeline',
      instances: [
        { instanceId: 'vm:a', input: {} },
        { instanceId: 'vm:b', input: {} },
      ],
    };
    expect(await activities.startInstances(input, env())).toEqual({
      ok: true,
      value: { started: expect.arrayContaining(['vm:a', 'vm:b']) },
    });
    instances.set('vm:a', { runtimeStatus: 'Running' });
    expect(await activities.startInstances(input, env())).toEqual({ ok: true, value: { started: [] } });
    expect(instances.get('vm:a')).toEqual({ runtimeStatus: 'Running' });
  });

  it("gives each instance the shared input fields under its own, so the caller's history holds them once", async () => {
    await activities.startInstances(
      {
        orchestration: 'vmPipeline',
        shared: { waveId: 'w1', retry: false },
        instances: [
          { instanceId: 'vm:a', input: { name: 'a' } },
          { instanceId: 'vm:b', input: { name: 'b', retry: true } },
        ],
      },
      env(),
    );
    expect(instances.get('vm:a')?.input).toEqual({ waveId: 'w1', retry: false, name: 'a' });
    expect(instances.get('vm:b')?.input).toEqual({ waveId: 'w1', retry: true, name: 'b' });
  });

  it('answers only the instances that ended, with their output', async () => {
    instances.set('vm:done', { runtimeStatus: 'Completed', output: { name: 'done', stage: 'Done' } });
    instances.set('vm:crashed', { runtimeStatus: 'Failed' });
    instances.set('vm:busy', { runtimeStatus: 'Running' });
    const outcomes = await activities.instanceOutcomes(
      { instanceIds: ['vm:done', 'vm:crashed', 'vm:busy', 'vm:unknown'] },
      env(),
    );
    expect(
      outcomes.ok && [...outcomes.value].sort((a, b) => a.instanceId.localeCompare(b.instanceId)),
    ).toEqual([
      { instanceId: 'vm:crashed', runtimeStatus: 'Failed' },
      { instanceId: 'vm:done', runtimeStatus: 'Completed', output: { name: 'done', stage: 'Done' } },
    ]);
  });
});

describe('failures are data', () => {
  it('returns a throttled call with the delay Azure asked for, and a refusal without one', async () => {
    migration.item = record();
    migration.failNext = new AzureOperationError(
      { code: 'TooManyRequests', message: 'slow down', statusCode: 429 },
      { retryAfterMs: 7000 },
    );
    expect(await activities.startMigrate({ job: steps, at: AT }, env())).toEqual({
      ok: false,
      error: { code: 'TooManyRequests', message: 'slow down', statusCode: 429 },
      retryAfterMs: 7000,
    });
    migration.failNext = new AzureOperationError({
      code: 'InvalidInput',
      message: 'bad',
      statusCode: 400,
      recommendedAction: 'fix it',
    });
    const refused = await activities.startMigrate({ job: steps, at: AT }, env());
    expect(refused).toEqual({
      ok: false,
      error: { code: 'InvalidInput', message: 'bad', statusCode: 400, recommendedAction: 'fix it' },
    });
  });
});

describe('the test VM and clean-up on cancel', () => {
  it('is healthy only when running, provisioned and with its agent Ready', async () => {
    const base: VmRecord = {
      id: 'vm',
      name: 'web-01-test',
      resourceGroup: 'rg-prod',
      location: 'westeurope',
      tags: {},
    };
    expect((await activities.checkTestVm({ job: steps, at: AT }, env())).ok).toBe(true);
    vms.set('rg-prod/web-01-test', {
      ...base,
      provisioningState: 'Succeeded',
      powerState: 'running',
      vmAgentStatus: 'Not Ready',
    });
    const notReady = await activities.checkTestVm({ job: steps, at: AT }, env());
    expect(notReady.ok && notReady.value).toMatchObject({ healthy: false, detail: 'VM agent Not Ready' });
    vms.set('rg-prod/web-01-test', {
      ...base,
      provisioningState: 'Succeeded',
      powerState: 'running',
      vmAgentStatus: 'Ready',
    });
    const ready = await activities.checkTestVm({ job: steps, at: AT }, env());
    expect(ready.ok && ready.value.healthy).toBe(true);
  });

  it('is checked with the item when the read asks and the test migration succeeded', async () => {
    testVm('Ready');
    migration.item = record({ testMigrateState: 'TestMigrationInProgress' });
    const running = await activities.readMigrationItem({ job: steps, at: AT, withTestVm: true }, env());
    expect(running.ok && running.value.item?.testVm).toBeUndefined();
    migration.item = record({ testMigrateState: 'TestMigrationSucceeded' });
    const tested = await activities.readMigrationItem({ job: steps, at: AT, withTestVm: true }, env());
    expect(tested.ok && tested.value.item?.testVm).toEqual({
      healthy: true,
      detail: 'healthy',
      vmId: 'vm-test',
    });
    const plain = await activities.readMigrationItem({ job: steps, at: AT }, env());
    expect(plain.ok && plain.value.item?.testVm).toBeUndefined();
  });

  it('cleans up a finished test first, then stops replication, then reports clean', async () => {
    migration.item = record({
      testMigrateState: 'TestMigrationSucceeded',
      allowedOperations: ['TestMigrateCleanup', 'Migrate'],
    });
    const first = await activities.cleanupOnCancel({ job: steps, at: AT }, env());
    expect(first.ok && first.value.clean).toBe(false);
    expect(migration.calls).toEqual(['testMigrateCleanup']);
    // While the clean-up runs nothing else is sent.
    await activities.cleanupOnCancel({ job: steps, at: AT }, env());
    expect(migration.calls).toEqual(['testMigrateCleanup']);
    migration.item = record();
    await activities.cleanupOnCancel({ job: steps, at: AT }, env());
    expect(migration.calls).toEqual(['testMigrateCleanup', 'complete']);
    migration.item = undefined;
    const done = await activities.cleanupOnCancel({ job: steps, at: AT }, env());
    expect(done.ok && done.value).toEqual({ clean: true, actions: [] });
  });
});

describe('journal and lifecycle events', () => {
  it('records a stage once per change id and publishes it; a topic outage only warns', async () => {
    const change = { waveId: 'w1', name: 'web-01', to: 'Validating' as const, at: AT, changeId: 'i:1' };
    expect(await activities.recordStage(change, env())).toEqual({ ok: true, value: null });
    expect(published.map((e) => [e.id, e.to])).toEqual([['i:1', 'Validating']]);
    publishFails = true;
    const second = { ...change, to: 'Replicating' as const, changeId: 'i:2' };
    expect(await activities.recordStage(second, env())).toEqual({ ok: true, value: null });
    expect(warnings).toHaveLength(1);
    expect((await journal.getMachine('w1', 'web-01'))?.stage).toBe('Replicating');
  });

  it('raises the events an activity carries before it acts, even when the action fails', async () => {
    migration.item = record();
    migration.failNext = new AzureOperationError({ code: 'Conflict', message: 'busy', statusCode: 409 });
    const input = {
      job: steps,
      at: AT,
      notify: [{ instanceIds: ['wave:w1'], event: 'SlotFreed' }],
    };
    expect((await activities.startMigrate(input, env())).ok).toBe(false);
    expect(raised).toEqual([{ instanceId: 'wave:w1', event: 'SlotFreed', data: null }]);
    expect(migration.calls).toEqual([]);
  });

  it('records the stage changes an activity carries, in order and once, before it acts', async () => {
    migration.item = record();
    const change = (to: 'ReadyToTest' | 'TestMigrating', step: number) => ({
      waveId: 'w1',
      name: 'web-01',
      to,
      at: new Date(Date.parse(AT) + step * 1000).toISOString(),
      changeId: `i:${step}`,
    });
    const input = { job: steps, at: AT, record: [change('ReadyToTest', 1), change('TestMigrating', 2)] };
    migration.failNext = new AzureOperationError(
      { code: 'TooManyRequests', message: 'slow down', statusCode: 429 },
      { retryAfterMs: 5_000 },
    );
    const throttled = await activities.startTestMigrate(input, env());
    expect(throttled.ok).toBe(false);
    expect((await journal.getMachine('w1', 'web-01'))?.stage).toBe('TestMigrating');
    expect(await activities.startTestMigrate(input, env())).toEqual({
      ok: true,
      value: { action: 'started' },
    });
    const audit = await journal.listAudit('w1', { machineName: 'web-01' });
    const changes = audit.items
      .filter((e) => e.kind === 'StageChanged')
      .sort((a, b) => a.at.localeCompare(b.at));
    expect(changes.map((e) => e.to)).toEqual(['ReadyToTest', 'TestMigrating']);
    expect(published.map((e) => e.to)).toEqual([
      'ReadyToTest',
      'TestMigrating',
      'ReadyToTest',
      'TestMigrating',
    ]);
    expect(migration.calls).toEqual(['testMigrate']);
  });

  it('marks a wave Paused and Running again', async () => {
    expect(await activities.markWave({ waveId: 'w1', status: 'Paused', at: AT }, env())).toEqual({
      ok: true,
      value: null,
    });
    expect((await journal.getWave('w1'))?.status).toBe('Paused');
    await activities.markWave({ waveId: 'w1', status: 'Running', at: AT }, env());
    expect((await journal.getWave('w1'))?.status).toBe('Running');
  });

  it('finishes a wave in the journal and tells the topic once per wave; a topic outage only warns', async () => {
    const finish = { waveId: 'w1', status: 'Completed' as const, at: AT };
    expect(await activities.finishWave(finish, env())).toEqual({ ok: true, value: null });
    expect(sent).toEqual([
      {
        id: 'w1:finished',
        eventType: 'Factory.Wave.Finished',
        subject: '/waves/w1',
        at: AT,
        data: { waveId: 'w1', status: 'Completed', at: AT },
      },
    ]);
    expect((await journal.getWave('w1'))?.status).toBe('Completed');
    publishFails = true;
    expect(await activities.finishWave(finish, env())).toEqual({ ok: true, value: null });
    expect(warnings).toEqual([
      expect.stringContaining('Factory.Wave.Finished not published: topic unreachable'),
    ]);
  });

  it('finishes a wave again after a retry only once its last unfinished machine has ended', async () => {
    const settle = { waveId: 'w1', status: 'Completed' as const, at: AT, ifSettled: true };
    await journal.updateWave('w1', { status: 'Completed', completedAt: AT, at: AT });
    // A wave that is not Running again is not finished again.
    expect(await activities.finishWave(settle, env())).toEqual({ ok: true, value: null });
    expect(sent).toEqual([]);
    await journal.updateWave('w1', { status: 'Running', at: AT });
    expect((await journal.getWave('w1'))?.completedAt).toBeUndefined();
    await activities.recordStage(
      { waveId: 'w1', name: 'web-01', to: 'Validating', at: AT, changeId: 'r:1' },
      env(),
    );
    expect(await activities.finishWave(settle, env())).toEqual({ ok: true, value: null });
    expect((await journal.getWave('w1'))?.status).toBe('Running');
    expect(sent).toEqual([]);
    const later = '2026-01-01T02:00:00.000Z';
    const done = { waveId: 'w1', name: 'web-01', to: 'Done' as const, at: later, changeId: 'r:2' };
    expect(await activities.finishWave({ ...settle, at: later, record: [done] }, env())).toEqual({
      ok: true,
      value: null,
    });
    expect(await journal.getWave('w1')).toMatchObject({ status: 'Completed', completedAt: later });
    expect(sent.map((e) => e.id)).toEqual([`w1:finished@${later}`]);
  });

  it('records a failure with Azure recommended action and the stage it failed in', async () => {
    await activities.recordStage(
      { waveId: 'w1', name: 'web-01', to: 'Testing', at: AT, changeId: 'i:1' },
      env(),
    );
    const error = { code: 'TestVmUnhealthy', message: 'no agent', recommendedAction: 'install the agent' };
    await activities.recordFailure(
      { waveId: 'w1', name: 'web-01', stage: 'Testing', at: AT, changeId: 'i:2', error },
      env(),
    );
    const machine = await journal.getMachine('w1', 'web-01');
    expect(machine).toMatchObject({ stage: 'Failed', failedStage: 'Testing', error });
  });

  it('records the stage a failure happened in even when the pipeline has moved on to clean up', async () => {
    await activities.recordStage(
      { waveId: 'w1', name: 'web-01', to: 'CleaningUpTest', at: AT, changeId: 'i:1' },
      env(),
    );
    const error = { code: 'TestMigrationFailed', message: 'no boot' };
    await activities.recordFailure(
      { waveId: 'w1', name: 'web-01', stage: 'TestMigrating', at: AT, changeId: 'i:2', error },
      env(),
    );
    expect(await journal.getMachine('w1', 'web-01')).toMatchObject({
      stage: 'Failed',
      failedStage: 'TestMigrating',
    });
    expect(published.at(-1)).toMatchObject({ from: 'TestMigrating', to: 'Failed' });
  });

  it('validates from the journal plan and Azure: a target name taken by someone else is a problem', async () => {
    expect(
      await activities.validateMachine({ waveId: 'w1', name: 'web-01', retry: false, at: AT }, env()),
    ).toMatchObject({
      ok: true,
      value: { valid: true, job: { name: 'web-01' } },
    });
    vms.set('rg-prod/web-01', {
      id: 'vm',
      name: 'web-01',
      resourceGroup: 'rg-prod',
      location: 'westeurope',
      tags: {},
    });
    const taken = await activities.validateMachine(
      { waveId: 'w1', name: 'web-01', retry: false, at: AT },
      env(),
    );
    expect(taken.ok && taken.value).toEqual({
      valid: false,
      problems: ['a VM named web-01 already exists in rg-prod'],
    });
  });
});

/**
 * End to end on the full local stack: a wave submitted over HTTP runs every machine to Done under
 * the appliance limit; approval gates; cancel; CSV plans; defective plans change nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateways } from '../../src/azure';
import { createCredential, loadConfig } from '../../src/config';
import { planToCsv } from '../../src/domain/csv';
import { waveInstanceId } from '../../src/domain/names';
import { planSchema } from '../../src/domain/plan';
import { machineNames, planOf, type Stack, SUBSCRIPTION, startStack, until } from './pipeline-support';

interface WaveView {
  id: string;
  status: string;
  counts: Record<string, number>;
  machines: { name: string; stage: string; approvedBy?: string }[];
}

let stack: Stack;

beforeAll(async () => {
  // A short generation: every wave here continues as new many times on its way.
  stack = await startStack({ machines: 40, capacity: 10, settings: { WAVE_WAKES_PER_GENERATION: '3' } });
});
afterAll(async () => {
  await stack?.stop();
});

async function submit(body: unknown, headers: Record<string, string> = {}) {
  return stack.api('waves', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

async function wave(id: string): Promise<WaveView> {
  const res = await stack.api(`waves/${id}?pageSize=100`);
  expect(res.status).toBe(200);
  return (await res.json()) as WaveView;
}

const finished = (w: WaveView) => w.status === 'Completed' || w.status === 'Cancelled';

describe('a 25-machine wave', () => {
  it('takes every machine to Done within the appliance limit, leaving nothing behind', async () => {
    const names = machineNames(40).slice(0, 25);
    const res = await submit(planOf(names, { name: 'twenty-five' }), { 'idempotency-key': 'wave-25' });
    expect(res.status).toBe(202);
    const accepted = (await res.json()) as { id: string; links: { self: string } };
    expect(res.headers.get('location')).toBe(accepted.links.self);
    // The same key again: the same wave, nothing new started.
    const again = await submit(planOf(names, { name: 'twenty-five' }), { 'idempotency-key': 'wave-25' });
    expect(((await again.json()) as { id: string }).id).toBe(accepted.id);

    const done = await until(() => wave(accepted.id), finished, 'the wave to finish', 110_000);
    expect(done.status).toBe('Completed');
    expect(done.counts.Done).toBe(25);
    const orchestration = await stack.instance(waveInstanceId(accepted.id));
    expect(orchestration?.runtimeStatus).toBe('Completed');
    expect((orchestration?.customStatus as { generation?: number } | undefined)?.generation).toBeGreaterThan(
      3,
    );
    expect(done.machines.map((m) => m.stage)).toEqual(Array(25).fill('Done'));
    // The simulator refuses (409) an enable beyond the appliance's limit of 10: none was refused.
    const refused = stack.sim.core.ledgerEntries().filter((e) => e.method === 'PUT' && e.status === 409);
    expect(refused).toEqual([]);
    const ledger = stack.sim.core.ledgerSummary();
    expect(ledger).toMatchObject({ duplicateMigrateCalls: 0, leakedTestVms: 0, undeletedMigrationItems: 0 });

    const firstPage = (await (await stack.api(`waves/${accepted.id}?pageSize=10`)).json()) as WaveView & {
      continuationToken?: string;
    };
    expect(firstPage.machines).toHaveLength(10);
    const token = encodeURIComponent(firstPage.continuationToken!);
    const secondPage = (await (
      await stack.api(`waves/${accepted.id}?pageSize=10&continuationToken=${token}`)
    ).json()) as WaveView;
    expect(secondPage.machines.map((m) => m.name)).toEqual(names.slice(10, 20));
    const countsOnly = (await (await stack.api(`waves/${accepted.id}?pageSize=0`)).json()) as WaveView & {
      continuationToken?: string;
    };
    expect(countsOnly).toMatchObject({ counts: { Done: 25 }, machines: [] });
    expect(countsOnly.continuationToken).toBeUndefined();
    const statusOnly = (await (await stack.api(`waves/${accepted.id}?pageSize=0&counts=false`)).json()) as {
      counts?: unknown;
    };
    expect(statusOnly).toMatchObject({ id: accepted.id, status: 'Completed', machines: [] });
    expect(statusOnly.counts).toBeUndefined();
    const listed = (await (await stack.api('waves')).json()) as { items: { id: string; status: string }[] };
    expect(listed.items).toContainEqual(expect.objectContaining({ id: accepted.id, status: 'Completed' }));

    const timeline = (await (await stack.api(`waves/${accepted.id}/machines/${names[0]}`)).json()) as {
      timeline: { to?: string }[];
    };
    // Each stage once, in order, whether a step was started by its own activity or by the read that
    // found the step before it over.
    expect(timeline.timeline.map((e) => e.to)).toEqual([
      'Validating',
      'Replicating',
      'InitialSeeding',
      'ReadyToTest',
      'TestMigrating',
      'Testing',
      'CleaningUpTest',
      'ReadyForCutover',
      'MigratingCutover',
      'Completing',
      'Onboarding',
      'Done',
    ]);
  });
});

describe('health', () => {
  it('answers ok when the settings are valid and the journal answers', async () => {
    const res = await stack.api('health');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('needs a function key for routes that change anything, not for reads', async () => {
    const unkeyed = (route: string, method: string) =>
      fetch(`${stack.host.baseUrl}/api/${route}`, { method });
    expect((await unkeyed('waves', 'POST')).status).toBe(401);
    expect((await unkeyed('waves/any/cancel', 'POST')).status).toBe(401);
    expect((await unkeyed('waves', 'GET')).status).toBe(200);
    expect((await unkeyed('waves/no-such-wave', 'GET')).status).toBe(404);
  });
});

describe('approval', () => {
  it('holds machines at AwaitingApproval until someone approves, and records who', async () => {
    const names = machineNames(40).slice(25, 27);
    const res = await submit(planOf(names, { cutover: { mode: 'approval' }, name: 'approval' }));
    const { id } = (await res.json()) as { id: string };
    await until(
      () => wave(id),
      (w) => w.counts.AwaitingApproval === 2,
      'both machines to await approval',
    );
    expect((await stack.api(`waves/${id}/approve`, { method: 'POST' })).status).toBe(400);
    const approved = await stack.api(`waves/${id}/approve`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ approver: 'alice@contoso.com' }),
    });
    expect(approved.status).toBe(202);
    expect(((await approved.json()) as { approved: string[] }).approved.sort()).toEqual(names);
    const done = await until(() => wave(id), finished, 'the approved wave to finish');
    expect(done.counts.Done).toBe(2);
    expect(done.machines.map((m) => m.approvedBy)).toEqual(['alice@contoso.com', 'alice@contoso.com']);
  });
});

describe('cancel', () => {
  it('cancels running and waiting machines and leaves nothing in Azure', async () => {
    const names = machineNames(40).slice(27, 32);
    const res = await submit(planOf(names, { name: 'to cancel' }));
    const { id } = (await res.json()) as { id: string };
    await until(
      () => wave(id),
      (w) => (w.counts.InitialSeeding ?? 0) > 0,
      'a machine to seed',
    );
    expect((await stack.api(`waves/${id}/cancel`, { method: 'POST' })).status).toBe(202);
    const done = await until(() => wave(id), finished, 'the cancelled wave to finish');
    expect(done.status).toBe('Cancelled');
    expect(done.machines.every((m) => m.stage === 'Cancelled' || m.stage === 'Done')).toBe(true);
    expect(done.counts.Cancelled).toBeGreaterThan(0);
    const { items } = await listItems();
    const cancelled = done.machines.filter((m) => m.stage === 'Cancelled').map((m) => m.name);
    expect(items.filter((name) => cancelled.includes(name))).toEqual([]);
    expect(stack.sim.core.ledgerSummary().leakedTestVms).toBe(0);
  });
});

/** Names of the migration items in the vault, read through the app's own gateway (real SDK). */
async function listItems(): Promise<{ items: string[] }> {
  const config = loadConfig();
  const gateways = createGateways(config, createCredential(config));
  const items: string[] = [];
  for await (const item of gateways.migration.list()) items.push(item.machineName ?? item.name);
  return { items };
}

describe('pause and resume', () => {
  it('starts no Azure action while paused, and finishes after resume', async () => {
    // The two 160 GB machines (1.6 virtual hours of seeding): the pause reaches them while they seed.
    const names = ['app-36', 'app-40'];
    const res = await submit(planOf(names, { name: 'paused' }));
    const { id } = (await res.json()) as { id: string };
    expect((await stack.api(`waves/${id}/pause`, { method: 'POST' })).status).toBe(202);
    const testMigrations = () =>
      stack.sim.core.ledgerEntries().filter((e) => e.method === 'POST' && /\/testmigrate$/.test(e.resource))
        .length;
    const before = testMigrations();
    // Four virtual hours: longer than these machines need to seed (at most 1.6 h) and be polled (hourly).
    await stack.clock.sleepUntil(stack.clock.now() + 4 * 3_600_000);
    const paused = await until(
      () => wave(id),
      (w) => w.status === 'Paused',
      'the wave to read Paused',
    );
    expect(
      paused.machines.every((m) =>
        ['Queued', 'Validating', 'Replicating', 'InitialSeeding'].includes(m.stage),
      ),
    ).toBe(true);
    expect(testMigrations()).toBe(before);
    expect((await stack.api(`waves/${id}/resume`, { method: 'POST' })).status).toBe(202);
    await until(
      () => wave(id),
      (w) => w.status !== 'Paused',
      'the wave to leave Paused',
    );
    const done = await until(() => wave(id), finished, 'the resumed wave to finish');
    expect(done.counts.Done).toBe(2);
  });
});

describe('resource events', () => {
  it('wake the pipeline that owns the migration item', async () => {
    const name = 'app-39';
    const { id } = (await (await submit(planOf([name], { name: 'events' }))).json()) as { id: string };
    const seeding = await until(
      async () =>
        (await (await stack.api(`waves/${id}/machines/${name}`)).json()) as {
          stage: string;
          migrationItemId?: string;
        },
      (m) => m.stage === 'InitialSeeding' && m.migrationItemId !== undefined,
      'the machine to seed',
    );
    const keys = stack.host.keys;
    const delivered = await fetch(
      `${stack.host.baseUrl}/runtime/webhooks/eventgrid?functionName=systemEvents&code=${keys.systemKeys.eventgrid_extension}`,
      {
        method: 'POST',
        headers: { 'aeg-event-type': 'Notification', 'content-type': 'application/json' },
        body: JSON.stringify([
          {
            id: 'portal-edit-1',
            eventType: 'Microsoft.Resources.ResourceActionSuccess',
            subject: `${seeding.migrationItemId}/resync`,
            eventTime: new Date().toISOString(),
            dataVersion: '2',
            topic: `/subscriptions/${SUBSCRIPTION}`,
            data: {
              resourceUri: `${seeding.migrationItemId}/resync`,
              operationName:
                'Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationMigrationItems/resync/action',
            },
          },
        ]),
      },
    );
    expect(delivered.status).toBe(202);
    const instance = encodeURIComponent(`vm:${id}:${name}`);
    const history = await until(
      async () =>
        (await (
          await fetch(
            `${stack.host.baseUrl}/runtime/webhooks/durabletask/instances/${instance}?showHistory=true&code=${keys.systemKeys.durabletask_extension}`,
          )
        ).json()) as { historyEvents: { EventType: string; Name?: string }[] },
      (h) => h.historyEvents.some((e) => e.EventType === 'EventRaised' && e.Name === 'MigrationItemChanged'),
      'the pipeline to be told',
    );
    expect(history.historyEvents.filter((e) => e.Name === 'MigrationItemChanged')).toHaveLength(1);
    const done = await until(() => wave(id), finished, 'the wave to finish');
    expect(done.counts.Done).toBe(1);
  });
});

describe('plans', () => {
  it('runs an Input.csv plan and reports it as CSV', async () => {
    const names = machineNames(40).slice(32, 34);
    const plan = planSchema.parse(planOf(names, { name: 'csv' }));
    const res = await stack.api('waves?name=csv-wave', {
      method: 'POST',
      headers: { 'content-type': 'text/csv' },
      body: planToCsv(plan),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const done = await until(() => wave(id), finished, 'the CSV wave to finish');
    expect(done.counts.Done).toBe(2);
    const report = await stack.api(`waves/${id}/report.csv`);
    expect(report.headers.get('content-type')).toContain('text/csv');
    const lines = (await report.text()).trim().split(/\r?\n/);
    expect(lines[0]).toContain('SOURCE_MACHINE_NAME');
    expect(
      lines
        .slice(1)
        .map((l) => l.split(',')[0])
        .sort(),
    ).toEqual(names);
  });

  it('refuses a defective plan with every problem and writes nothing to Azure', async () => {
    const writesBefore = stack.sim.core.ledgerSummary().armWrites;
    const plan = planOf(['no-such-vm', 'app-40', 'app-40']);
    plan.machines[1]!.target.resourceGroup = 'rg-missing';
    const res = await submit(plan);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const body = (await res.json()) as { problems: { row: number; code: string }[] };
    const codes = body.problems.map((p) => `${p.row}:${p.code}`);
    expect(codes).toEqual(
      expect.arrayContaining(['1:UNKNOWN_MACHINE', '2:UNKNOWN_RESOURCE_GROUP', '3:DUPLICATE_MACHINE']),
    );
    expect(stack.sim.core.ledgerSummary().armWrites).toBe(writesBefore);
    const waves = (await (await stack.api('waves')).json()) as { items: { name: string }[] };
    expect(waves.items.map((w) => w.name)).not.toContain('e2e wave');
  });
});

/**
 * The Event Grid handlers end to end on the local stack: events come from the simulator's Event
 * Grid (with duplicates and reordering from the fault profile) through the host's webhook into the
 * built app; lifecycle events go out to a subscriber of the custom topic.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ClientSecretCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { remediationInstanceId } from '../../src/domain/scope';
import { type EventsStack, estateOf, LIFECYCLE_TOPIC, startEventsStack, until } from './events-support';

let stack: EventsStack;
let subscriber: Server;
const published: { eventType: string; subject: string; id: string; data: Record<string, unknown> }[] = [];

interface VmStatus {
  state: string;
  reason?: string;
  remediations: number;
  unmanagedBy?: string;
  unmanagedReason?: string;
  history: { kind: string; reason?: string; actor?: string }[];
}

async function vmStatus(vmId: string): Promise<VmStatus | undefined> {
  const response = await stack.api(`vms/status?vmId=${encodeURIComponent(vmId)}`);
  if (response.status === 404) return undefined;
  expect(response.status).toBe(200);
  return (await response.json()) as VmStatus;
}

interface Ledger {
  entries: { method: string; operation: string; resource: string; status: number }[];
}

/** PUTs of the VM's Automanage assignment the simulator answered. */
async function assignmentPuts(vmId: string): Promise<number> {
  const ledger = (await stack.control('ledger?entries=true')) as Ledger;
  const resource =
    `${vmId}/providers/microsoft.automanage/configurationprofileassignments/default`.toLowerCase();
  return ledger.entries.filter((e) => e.method === 'PUT' && e.resource === resource && e.status < 300).length;
}

/** Makes the VM drift; answers the PolicyStateChanged event the simulator published. */
async function drift(vmId: string): Promise<{ id: string }> {
  await stack.control('drift', { resourceId: vmId });
  const events = (await stack.control('events')) as {
    value: { id: string; subject: string; eventType: string }[];
  };
  return events.value.filter((e) => e.subject === vmId && e.eventType.endsWith('PolicyStateChanged')).at(-1)!;
}

/** Delivers events to the app's webhook as Event Grid does (a retry, a redelivery). */
async function webhook(events: unknown): Promise<Response> {
  return fetch(stack.webhookUrl, {
    method: 'POST',
    headers: { 'aeg-event-type': 'Notification', 'content-type': 'application/json' },
    body: JSON.stringify(events),
  });
}

async function armToken(): Promise<string> {
  const { authorityHost, tenantId, clientId, clientSecret } = stack.sim.authority;
  const credential = new ClientSecretCredential(tenantId, clientId, clientSecret, {
    authorityHost,
    disableInstanceDiscovery: true,
  });
  return (await credential.getToken('https://management.azure.com/.default')).token;
}

beforeAll(async () => {
  stack = await startEventsStack({
    estate: estateOf(2, 10),
    faults: { seed: 7, eventGrid: { duplicateRate: 1, reorderWindowSeconds: 120 } },
    // 30 virtual days: 12 real minutes at the stack's virtual hour per real second.
    env: { DRIFT_QUIET_PERIOD_SECONDS: String(30 * 24 * 3600) },
  });
  subscriber = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      const events = JSON.parse(body) as typeof published;
      // Event Grid validates a webhook before delivering to it.
      if (req.headers['aeg-event-type'] === 'SubscriptionValidation') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ validationResponse: events[0]!.data.validationCode }));
        return;
      }
      published.push(...events);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => subscriber.listen(0, '127.0.0.1', resolve));
  stack.sim.core.addSubscription({
    name: 'lifecycle-test',
    endpointUrl: `http://127.0.0.1:${(subscriber.address() as AddressInfo).port}/events`,
    topic: LIFECYCLE_TOPIC,
  });
});

afterAll(async () => {
  await stack?.stop();
  await new Promise<void>((resolve) => (subscriber ? subscriber.close(() => resolve()) : resolve()));
});

describe('VMs created out of band', () => {
  it('onboards a new VM once although its event arrives three times, out of order', async () => {
    const vmId = stack.vmId('rg-prod', 'web-01');
    await stack.control('vms', { resourceGroup: 'rg-prod', name: 'web-01', tags: { owner: 'ops' } });
    // Event Grid delivers it (and a duplicate, reordered); a third copy arrives as a retry would.
    const events = (await stack.control('events')) as { value: { id: string; subject: string }[] };
    const created = events.value.filter((e) => e.subject === vmId);
    expect(created).toHaveLength(1);
    expect((await webhook(created)).status).toBe(202);

    const status = await until(
      () => vmStatus(vmId),
      (s) => s?.state === 'Onboarded',
      'web-01 onboarded',
    );
    expect(status?.history.filter((h) => h.kind === 'OnboardingStarted')).toHaveLength(1);
    expect(await assignmentPuts(vmId)).toBe(1);
    await until(
      async () => published.filter((e) => e.subject === vmId).map((e) => e.eventType),
      (types) => types.includes('Factory.Vm.Onboarded'),
      'the Onboarded lifecycle event',
    );
  });

  it('keeps a VM that is off Pending and onboards it once it runs', async () => {
    const vmId = stack.vmId('rg-prod', 'batch-01');
    // POST /_sim/vms creates running VMs; the simulator's compute API takes the power state.
    stack.sim.core.sim.compute.createVm(
      {
        resourceGroup: 'rg-prod',
        name: 'batch-01',
        vmSize: 'Standard_D2s_v5',
        osType: 'Linux',
        powerState: 'stopped',
      },
      'control',
    );
    const pending = await until(
      () => vmStatus(vmId),
      (s) => s?.state === 'Pending',
      'batch-01 pending',
    );
    expect(pending?.reason).toMatch(/not running/);
    // The start action as ARM takes it (the SDK's poller refuses the simulator's 204 answer).
    const started = await fetch(`${stack.sim.armUrl}${vmId}/start?api-version=2024-07-01`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await armToken()}` },
    });
    expect(started.status).toBeLessThan(300);
    await until(
      () => vmStatus(vmId),
      (s) => s?.state === 'Onboarded',
      'batch-01 onboarded',
    );
    expect(await assignmentPuts(vmId)).toBe(1);
  });

  it('never onboards a test-migration VM', async () => {
    const vmId = stack.vmId('rg-prod', 'web-02-test');
    await stack.control('vms', { resourceGroup: 'rg-prod', name: 'web-02-test' });
    const status = await until(
      () => vmStatus(vmId),
      (s) => s?.state === 'Skipped',
      'web-02-test skipped',
    );
    expect(status?.reason).toMatch(/test-migration VM/);
    expect(await assignmentPuts(vmId)).toBe(0);
  });

  it('records a VM in a region Automanage does not offer without onboarding it', async () => {
    const vmId = stack.vmId('rg-prod', 'brazil-01');
    await stack.control('vms', { resourceGroup: 'rg-prod', name: 'brazil-01', location: 'brazilsouth' });
    const status = await until(
      () => vmStatus(vmId),
      (s) => s?.state === 'Skipped',
      'brazil-01 skipped',
    );
    expect(status?.reason).toMatch(/not offered in brazilsouth/);
    expect(await assignmentPuts(vmId)).toBe(0);
  });

  it('acknowledges malformed and unexpected events without acting', async () => {
    expect(
      (await webhook([{ id: 'x1', eventType: 'Microsoft.Resources.ResourceWriteSuccess' }])).status,
    ).toBe(202);
    expect((await webhook([{ eventType: 'Nothing' }])).status).toBe(202);
    expect((await webhook([42, 'text', null])).status).toBe(202);
    expect(
      (
        await webhook([
          {
            id: 'x2',
            eventType: 'Microsoft.PolicyInsights.PolicyStateChanged',
            subject: stack.vmId('rg-prod', 'web-01'),
            data: { timestamp: 'yesterday', complianceState: 'NonCompliant' },
          },
        ])
      ).status,
    ).toBe(202);
  });
});

describe('policy drift', () => {
  it('brings a drifted VM back to Conformant with one correction, even when the event repeats', async () => {
    const vmId = stack.vmId('rg-prod', 'web-01');
    const before = await assignmentPuts(vmId);
    const event = await drift(vmId);
    expect((await webhook([event])).status).toBe(202);
    const status = await until(
      () => vmStatus(vmId),
      (s) => s?.history.some((h) => h.kind === 'Remediated') === true,
      'drift corrected',
    );
    expect(status?.remediations).toBe(1);
    expect(await assignmentPuts(vmId)).toBe(before + 1);
    await until(
      async () => published.filter((e) => e.subject === vmId).map((e) => e.eventType),
      (types) => types.includes('Factory.Vm.Remediated'),
      'the Remediated lifecycle event',
    );
  });

  it('ignores a second drift within the quiet period', async () => {
    const vmId = stack.vmId('rg-prod', 'web-01');
    const before = await assignmentPuts(vmId);
    const event = await drift(vmId);
    const instance = await until(
      () => stack.instance(remediationInstanceId(vmId, event.id)),
      (s) => s?.runtimeStatus === 'Completed',
      'the second drift judged',
    );
    expect(instance?.output).toMatchObject({ outcome: 'Skipped', reason: 'quietPeriod' });
    const status = await vmStatus(vmId);
    expect(status?.remediations).toBe(1);
    expect(await assignmentPuts(vmId)).toBe(before);
  });
});

describe('taking a VM out of management', () => {
  it('deletes the assignment, records who and why, and ignores later events until it is put back', async () => {
    const vmId = stack.vmId('rg-prod', 'db-01');
    await stack.control('vms', { resourceGroup: 'rg-prod', name: 'db-01' });
    await until(
      () => vmStatus(vmId),
      (s) => s?.state === 'Onboarded',
      'db-01 onboarded',
    );

    const refused = await stack.api('vms/unmanage', { method: 'POST', body: JSON.stringify({ vmId }) });
    expect(refused.status).toBe(400);
    const out = await stack.api('vms/unmanage', {
      method: 'POST',
      body: JSON.stringify({ vmId, reason: 'decommissioning', by: 'alice@contoso.com' }),
    });
    expect(out.status).toBe(200);
    const unmanaged = await vmStatus(vmId);
    expect(unmanaged).toMatchObject({
      state: 'Unmanaged',
      unmanagedBy: 'alice@contoso.com',
      unmanagedReason: 'decommissioning',
    });
    const assignment = `${vmId}/providers/Microsoft.Automanage/configurationProfileAssignments/default`;
    const gone = await fetch(`${stack.sim.armUrl}${assignment}?api-version=2022-05-04`, {
      headers: { authorization: `Bearer ${await armToken()}` },
    });
    expect(gone.status).toBe(404);

    // A later write of the VM does not onboard it again.
    const puts = await assignmentPuts(vmId);
    await stack.control('vms', { resourceGroup: 'rg-prod', name: 'db-01', tags: { resized: 'yes' } });
    const write = ((await stack.control('events')) as { value: { id: string; subject: string }[] }).value
      .filter((e) => e.subject === vmId)
      .at(-1)!;
    expect((await webhook([write])).status).toBe(202);
    expect((await vmStatus(vmId))?.state).toBe('Unmanaged');
    expect(await assignmentPuts(vmId)).toBe(puts);

    const back = await stack.api('vms/manage', {
      method: 'POST',
      body: JSON.stringify({ vmId, reason: 'kept after all', by: 'bob@contoso.com' }),
    });
    expect(back.status).toBe(202);
    const managed = await until(
      () => vmStatus(vmId),
      (s) => s?.state === 'Onboarded',
      'db-01 onboarded again',
    );
    expect(managed?.history.map((h) => h.kind)).toEqual(expect.arrayContaining(['Unmanaged', 'Managed']));
    expect(await assignmentPuts(vmId)).toBe(puts + 1);
  });
});

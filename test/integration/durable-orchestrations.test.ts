/**
 * The durable engine running the sample app's orchestrations through the real durable-functions
 * library, on the in-memory store, with virtual time at 100 hours per real second.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createClock } from '../../local/clock';
import { type RunningHost, startHost } from '../../local/host/index';
import { DurableApi } from './durable-support';

const SAMPLE_APP = path.resolve(__dirname, '..', 'fixtures', 'sample-app');
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

let host: RunningHost;
let api: DurableApi;

beforeAll(async () => {
  host = await startHost({
    appDir: SAMPLE_APP,
    port: 0,
    storage: { kind: 'memory' },
    clock: createClock({ scale: 360_000, origin: Date.now() }),
    log: () => {},
  });
  api = new DurableApi(host.baseUrl);
});

afterAll(async () => {
  await host?.stop();
});

function events(status: { historyEvents?: Record<string, unknown>[] }, type: string) {
  return (status.historyEvents ?? []).filter((e) => e.EventType === type);
}

describe('orchestrations', () => {
  it('runs an activity sequence and returns each result in order', async () => {
    const id = await api.start('sequence');
    const status = await api.finished(id);
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toEqual([
      'Hello, Tokyo!',
      'Hello, Seattle!',
      'Hello, London!',
      'Hello, Paris!',
      'Hello, Lima!',
    ]);
    expect(events(status, 'TaskCompleted').map((e) => e.FunctionName)).toEqual(Array(5).fill('sayHello'));
  });

  it('passes string inputs through unchanged', async () => {
    const id = await api.start('sequence', ['Quito']);
    expect((await api.finished(id)).output).toEqual(['Hello, Quito!']);
  });

  it('fans out and in', async () => {
    const id = await api.start('fanOut', 50);
    const status = await api.finished(id);
    expect(status.output).toBe(50 * 51);
    expect(events(status, 'TaskCompleted')).toHaveLength(50);
  });

  it('retries a failing activity with exponential back-off, then continues with aligned task ids', async () => {
    const id = await api.start('retry', { key: randomUUID(), failures: 2, attempts: 3 });
    const status = await api.finished(id);
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toEqual({ first: 3, second: 6 });
    expect(events(status, 'TaskFailed')).toHaveLength(2);
    const delays = events(status, 'TimerFired').map((fired) => Date.parse(fired.FireAt as string));
    const failures = events(status, 'TaskFailed').map((failed) => Date.parse(failed.Timestamp as string));
    expect(delays).toHaveLength(2);
    // first retry after 1 s, the second after 1 s * 2 (virtual), counted from the failure's episode.
    expect(delays[0]! - failures[0]!).toBeGreaterThanOrEqual(1000);
    expect(delays[1]! - failures[1]!).toBeGreaterThanOrEqual(2000);
    expect(delays[1]! - delays[0]!).toBeGreaterThan(delays[0]! - failures[0]!);
  });

  it('fails once the attempts are used up, with the activity failure in the message', async () => {
    const id = await api.start('retry', { key: randomUUID(), failures: 9, attempts: 3 });
    const status = await api.finished(id);
    expect(status.runtimeStatus).toBe('Failed');
    expect(status.output).toMatch(/^Orchestrator function 'retry' failed: .*flaky attempt 3 of /);
  });

  it('runs sub-orchestrations: generated and given instance ids, and with retries', async () => {
    const id = await api.start('parent');
    const status = await api.finished(id);
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toEqual({ child: ['Hello, Oslo!', 'Hello, Rome!'], named: 20, retried: 2 });
    const named = await api.status(`${id}-named`);
    expect(named.body?.runtimeStatus).toBe('Completed');
    expect(events(status, 'SubOrchestrationInstanceFailed')).toHaveLength(1);
  });

  it('fires a durable timer at its virtual time', async () => {
    const id = await api.start('timer', { minutes: 120 });
    const status = await api.finished(id);
    const output = status.output as { started: number; woke: number };
    expect(output.woke - output.started).toBeGreaterThanOrEqual(120 * MINUTE);
    expect(events(status, 'TimerFired')).toHaveLength(1);
  });

  it('splits a timer beyond the maximum short timer duration into intervals, like the extension', async () => {
    const id = await api.start('longTimer', { days: 7 });
    const status = await api.finished(id);
    expect(status.runtimeStatus).toBe('Completed');
    const output = status.output as { started: number; woke: number };
    expect(output.woke - output.started).toBeGreaterThanOrEqual(7 * DAY);
    const fired = events(status, 'TimerFired').map((e) => Date.parse(e.FireAt as string) - output.started);
    // 7 days > 6 days: a first timer 3 days out, then the remaining 4 days in one.
    expect(fired).toEqual([3 * DAY, 7 * DAY]);
  });

  it('makes durable HTTP calls', async () => {
    const id = await api.start('httpCall', `${host.baseUrl}/api/ping`);
    const status = await api.finished(id);
    expect(status.output).toEqual({ statusCode: 200, content: { pong: true } });
  });

  it('races an external event against a timer: the event wins', async () => {
    const id = await api.start('approval', { timeoutMinutes: 365 * 24 * 60 });
    await api.waitFor(id, (s) => s.runtimeStatus === 'Running');
    expect((await api.client('raise', id, { name: 'Approve', data: { by: 'ops' } })).status).toBe(200);
    const status = await api.finished(id);
    expect(status.output).toEqual({ approved: { by: 'ops' } });
  });

  it('races an external event against a timer: the timer wins', async () => {
    const id = await api.start('approval', { timeoutMinutes: 30 });
    const status = await api.finished(id);
    expect(status.output).toEqual({ approved: false, timedOut: true });
  });

  it('calls and signals entities, and the client reads their state', async () => {
    const key = randomUUID();
    const id = await api.start('entities', key);
    const status = await api.finished(id);
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toEqual({ afterAdd: null, value: 15 });
    expect(await api.client('readEntity', key)).toEqual({
      status: 200,
      body: { entityExists: true, entityState: 15 },
    });
    await api.client('signal', key, { op: 'add', input: 3 });
    for (;;) {
      const read = await api.client('readEntity', key);
      if ((read.body as { entityState: number }).entityState === 18) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect((await api.client('readEntity', randomUUID())).body).toEqual({ entityExists: false });
  });

  it('continues as new, carrying over external events the finished execution did not take', async () => {
    const id = await api.start('loop', { total: 0, until: 6 });
    await api.waitFor(id, (s) => s.runtimeStatus === 'Running');
    for (const increment of [1, 2, 3]) await api.client('raise', id, { name: 'inc', data: increment });
    const status = await api.finished(id);
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toBe(6);
    expect(status.customStatus).toEqual({ total: 6 });
  });

  it('hands a carried-over event to the next execution once: taken there, it is gone', async () => {
    const id = await api.start('carryTicks', { generation: 1 });
    await api.waitFor(id, (s) => s.runtimeStatus === 'Running');
    // Raised before 'go': carried into generation 2, which takes all three in one episode.
    for (let i = 0; i < 3; i++) await api.client('raise', id, { name: 'tick', data: i });
    await api.client('raise', id, { name: 'go', data: null });
    const status = await api.finished(id);
    expect(status.output).toEqual({ generation: 3, extraTick: false });
  });

  it('shows custom status while running and after completion', async () => {
    const id = await api.start('status');
    const waiting = await api.waitFor(id, (s) => s.customStatus !== null);
    expect(waiting.customStatus).toEqual({ stage: 'waiting' });
    expect((await api.status(id)).code).toBe(202);
    await api.client('raise', id, { name: 'go', data: 'now' });
    const status = await api.finished(id);
    expect(status.customStatus).toEqual({ stage: 'done', go: 'now' });
    expect((await api.status(id)).code).toBe(200);
  });

  it('fails with the activity error in the instance status', async () => {
    const id = await api.start('failing', 'disk on fire');
    const status = await api.finished(id);
    expect(status.runtimeStatus).toBe('Failed');
    expect(status.output).toMatch(/^Orchestrator function 'failing' failed: .*disk on fire/);
    const viaClient = await api.client('status', id);
    expect((viaClient.body as { runtimeStatus: string }).runtimeStatus).toBe('Failed');
  });

  it('fails with the orchestrator error in the instance status', async () => {
    const id = await api.start('throwing');
    const status = await api.finished(id);
    expect(status.runtimeStatus).toBe('Failed');
    expect(status.output).toBe("Orchestrator function 'throwing' failed: the orchestrator gave up");
  });

  it('rewinds a failed instance: the failed activity runs again', async () => {
    const id = await api.start('rewindable');
    expect((await api.finished(id)).runtimeStatus).toBe('Failed');
    expect((await api.client('rewind', id, { reason: 'fixed' })).status).toBe(200);
    const status = await api.waitFor(id, (s) => s.runtimeStatus === 'Completed');
    expect(status.output).toBe(2);
  });
});

describe('requests before queued work', () => {
  const gates = async () =>
    (await (await fetch(`${host.baseUrl}/api/gates`)).json()) as { gates: number; holds: number };
  const post = (action: string) => fetch(`${host.baseUrl}/api/gates/${action}`, { method: 'POST' });
  const within = { timeout: 10_000 };

  it('starts two activities at a time while a request is open, and the rest once none is', async () => {
    const held = post('hold');
    try {
      await vi.waitFor(async () => expect((await gates()).holds).toBe(1), within);
      const id = await api.start('gated', 6);
      await vi.waitFor(async () => expect((await gates()).gates).toBeGreaterThanOrEqual(2), within);
      for (let read = 0; read < 3; read++) expect((await gates()).gates).toBe(2);

      await post('release-holds');
      expect((await held).status).toBe(200);
      await vi.waitFor(async () => expect((await gates()).gates).toBe(6), within);
      await post('open');
      expect((await api.finished(id)).output).toBe(21);
    } finally {
      // A failed expectation must not leave the host waiting for them when it stops.
      await post('release-holds');
      await post('open');
    }
  });
});

describe('instance management', () => {
  it('suspends (events wait), resumes (they are delivered), and 410s a finished instance', async () => {
    const id = await api.start('waitForever');
    await api.waitFor(id, (s) => s.runtimeStatus === 'Running');
    await api.client('suspend', id, { reason: 'maintenance' });
    await api.waitFor(id, (s) => s.runtimeStatus === 'Suspended');
    await api.client('raise', id, { name: 'never', data: 'after all' });
    await api.client('resume', id, { reason: 'done' });
    const status = await api.finished(id);
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toBe('after all');
    const late = await api.post(`/durabletask/instances/${id}/raiseEvent/never`, 1);
    expect(late.status).toBe(410);
  });

  it('terminates with the reason as output, then purges', async () => {
    const id = await api.start('waitForever');
    await api.waitFor(id, (s) => s.runtimeStatus === 'Running');
    await api.client('terminate', id, { reason: 'no longer needed' });
    const status = await api.finished(id);
    expect(status.runtimeStatus).toBe('Terminated');
    expect(status.output).toBe('no longer needed');
    expect((await api.post(`/durabletask/instances/${id}/terminate?reason=again`)).status).toBe(410);
    expect((await api.client('purge', id)).body).toEqual({ instancesDeleted: 1 });
    expect((await api.status(id)).code).toBe(404);
    expect((await api.post(`/durabletask/instances/${id}/raiseEvent/x`, 1)).status).toBe(404);
  });

  it('refuses to start an instance id that is running', async () => {
    const id = await api.start('waitForever');
    const again = await fetch(`${host.baseUrl}/durabletask/orchestrators/waitForever/${id}`, {
      method: 'POST',
    });
    expect(again.status).toBe(409);
    await api.client('terminate', id, { reason: 'test done' });
  });

  it('starts a finished instance id again as a new execution', async () => {
    const id = `again-${randomUUID()}`;
    await api.start('sequence', ['One'], id);
    expect((await api.finished(id)).output).toEqual(['Hello, One!']);
    await api.start('sequence', ['Two'], id);
    const status = await api.waitFor(
      id,
      (s) => s.runtimeStatus === 'Completed' && s.input !== null && (s.input as string[])[0] === 'Two',
    );
    expect(status.output).toEqual(['Hello, Two!']);
  });

  it('restarts an instance with its input, under a new id unless asked otherwise', async () => {
    const id = await api.start('sequence', ['Bern']);
    await api.finished(id);
    const restarted = await api.post(`/durabletask/instances/${id}/restart`);
    expect(restarted.status).toBe(202);
    const newId = ((await restarted.json()) as { id: string }).id;
    expect(newId).not.toBe(id);
    expect((await api.finished(newId)).output).toEqual(['Hello, Bern!']);
    const same = await api.post(`/durabletask/instances/${id}/restart?restartWithNewInstanceId=false`);
    expect(((await same.json()) as { id: string }).id).toBe(id);
    expect((await api.finished(id)).output).toEqual(['Hello, Bern!']);
  });

  it('purges finished instances by creation time and status', async () => {
    const from = new Date(Date.now() + 5 * 60_000 * 360_000).toISOString();
    const ids = await Promise.all([1, 2].map(() => api.start('fanOut', 1)));
    const running = await api.start('waitForever');
    await Promise.all(ids.map((id) => api.finished(id)));
    const created = (await api.status(ids[0]!)).body!.createdTime;
    const response = await fetch(
      `${host.baseUrl}/durabletask/instances/?createdTimeFrom=${created}&runtimeStatus=Completed,Running`,
      { method: 'DELETE' },
    );
    expect(response.status).toBe(200);
    expect(((await response.json()) as { instancesDeleted: number }).instancesDeleted).toBeGreaterThanOrEqual(
      2,
    );
    for (const id of ids) expect((await api.status(id)).code).toBe(404);
    // Running instances are never purged.
    expect((await api.status(running)).code).toBe(202);
    const none = await fetch(`${host.baseUrl}/durabletask/instances/?createdTimeFrom=${from}`, {
      method: 'DELETE',
    });
    expect(none.status).toBe(404);
    await api.client('terminate', running, { reason: 'test done' });
  });

  it('pages status queries with x-ms-continuation-token and filters by status', async () => {
    const from = new Date(Date.now() - 1000).toISOString();
    const ids = await Promise.all([1, 2, 3, 4, 5].map(() => api.start('fanOut', 1)));
    await Promise.all(ids.map((id) => api.finished(id)));
    const seen: string[] = [];
    let token: string | null = null;
    let pages = 0;
    do {
      const response: Response = await fetch(
        `${host.baseUrl}/durabletask/instances/?top=2&runtimeStatus=Completed&createdTimeFrom=${from}`,
        token ? { headers: { 'x-ms-continuation-token': token } } : {},
      );
      expect(response.status).toBe(200);
      const page = (await response.json()) as { instanceId: string; runtimeStatus: string }[];
      expect(page.length).toBeLessThanOrEqual(2);
      for (const entry of page) expect(entry.runtimeStatus).toBe('Completed');
      seen.push(...page.map((p) => p.instanceId));
      token = response.headers.get('x-ms-continuation-token');
      pages++;
    } while (token);
    expect(pages).toBeGreaterThanOrEqual(3);
    for (const id of ids) expect(seen).toContain(id);
    const viaClient = await api.client('list', '', { runtimeStatus: ['Completed'] });
    const listed = (viaClient.body as { instanceId: string }[]).map((s) => s.instanceId);
    for (const id of ids) expect(listed).toContain(id);
  });

  it('guards the public webhook with the durabletask_extension system key', async () => {
    const id = await api.start('sequence');
    await api.finished(id);
    const payload = (await api.client('payload', id)).body as { statusQueryGetUri: string };
    expect(payload.statusQueryGetUri).toContain(`/runtime/webhooks/durabletask/instances/${id}?`);
    const withKey = await fetch(payload.statusQueryGetUri);
    expect(withKey.status).toBe(200);
    expect(((await withKey.json()) as { runtimeStatus: string }).runtimeStatus).toBe('Completed');
    const withoutKey = await fetch(`${host.baseUrl}/runtime/webhooks/durabletask/instances/${id}`);
    expect(withoutKey.status).toBe(401);
  });
});

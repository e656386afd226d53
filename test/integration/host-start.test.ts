/**
 * The local host as `startHost` composes it: worker, front door and the real durable engine (in
 * memory here), serving the sample app over loopback HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClock } from '../../local/clock';
import { type RunningHost, startHost } from '../../local/host/index';
import { generateKeys } from '../../local/host/keys';
import { gridEvent, SAMPLE_APP } from '../unit/host-support';

const keys = generateKeys();
const lines: string[] = [];
let host: RunningHost;

beforeAll(async () => {
  host = await startHost({
    appDir: SAMPLE_APP,
    port: 0,
    storage: { kind: 'memory' },
    clock: createClock({ scale: 1, origin: Date.now() }),
    keys,
    log: (line) => lines.push(line),
  });
});
afterAll(async () => {
  await host?.stop();
});

describe('startHost', () => {
  it('lists every function with its methods and URL, and its keys, when it starts', () => {
    expect(host.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(lines).toContain(`        hello: [GET] ${host.baseUrl}/api/hello/{name?}`);
    expect(lines).toContain(`        items: [GET,PUT,DELETE] ${host.baseUrl}/api/items/{id:int}`);
    expect(lines).toContain('        recordEvent: eventGridTrigger');
    expect(lines.some((line) => line.includes(keys.masterKey))).toBe(true);
  });

  it('serves HTTP triggers with their auth levels', async () => {
    expect(await (await fetch(`${host.baseUrl}/api/hello/host`)).text()).toBe('Hello, host');
    expect((await fetch(`${host.baseUrl}/api/items/3`)).status).toBe(401);
    expect((await fetch(`${host.baseUrl}/api/items/3?code=${keys.functionKeys.default}`)).status).toBe(200);
  });

  it('delivers an Event Grid batch one event per invocation', async () => {
    const res = await fetch(
      `${host.baseUrl}/runtime/webhooks/eventgrid?functionName=recordEvent&code=${keys.systemKeys.eventgrid_extension}`,
      {
        method: 'POST',
        headers: { 'aeg-event-type': 'Notification', 'content-type': 'application/json' },
        body: JSON.stringify([gridEvent('h1'), gridEvent('h2')]),
      },
    );
    expect(res.status).toBe(202);
    const received = (await (await fetch(`${host.baseUrl}/api/sample/events`)).json()) as {
      event: { id: string };
    }[];
    expect(received.map((r) => r.event.id).sort()).toEqual(['h1', 'h2']);
  });

  it("keeps idle connections open as long as Kestrel does (130 s), not Node's 5 s", async () => {
    const res = await fetch(`${host.baseUrl}/admin/host/ping`);
    expect(res.status).toBe(200);
    expect(res.headers.get('keep-alive')).toBe('timeout=130');
  });

  it('gives durableClient inputs a client that reaches the engine through the same server', async () => {
    const res = await fetch(`${host.baseUrl}/api/sample/instances`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ taskHubName: 'SampleHub', count: expect.any(Number) });
  });

  it('mounts the durable webhooks behind the durabletask_extension key', async () => {
    expect((await fetch(`${host.baseUrl}/runtime/webhooks/durabletask/instances`)).status).toBe(401);
    const listed = await fetch(
      `${host.baseUrl}/runtime/webhooks/durabletask/instances?code=${keys.systemKeys.durabletask_extension}`,
    );
    expect(listed.status).toBe(200);
  });

  it('reports its health', async () => {
    const status = await fetch(`${host.baseUrl}/admin/host/status?code=${keys.masterKey}`);
    expect(status.status).toBe(200);
    expect(((await status.json()) as { state: string }).state).toBe('Running');
  });

  it('counts every function execution in its status', async () => {
    const read = async () =>
      (
        (await (await fetch(`${host.baseUrl}/admin/host/status?code=${keys.masterKey}`)).json()) as {
          functionExecutions: number;
        }
      ).functionExecutions;
    const before = await read();
    expect((await fetch(`${host.baseUrl}/api/ping`)).status).toBe(200);
    expect((await fetch(`${host.baseUrl}/api/ping`)).status).toBe(200);
    expect(await read()).toBe(before + 2);
  });
});

describe('stop', () => {
  it('closes the server', async () => {
    const probe = await startHost({
      appDir: SAMPLE_APP,
      port: 0,
      storage: { kind: 'memory' },
      clock: createClock({ scale: 1, origin: Date.now() }),
      keys,
      log: () => {},
    });
    expect((await fetch(`${probe.baseUrl}/admin/host/ping`)).status).toBe(200);
    await probe.stop();
    await expect(fetch(`${probe.baseUrl}/admin/host/ping`)).rejects.toThrow();
  });
});

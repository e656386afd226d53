/**
 * The host's front door over real HTTP on loopback, with the real worker and @azure/functions
 * running the sample app. Only the durable engine is a stub here (the integration suite runs the
 * real composition).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createFrontDoor } from '../../local/host/http/frontDoor';
import { generateKeys, type HostKeys } from '../../local/host/keys';
import { loadApp } from '../../local/host/worker/app';
import { createInvoker } from '../../local/host/worker/invoker';
import { gridEvent, SAMPLE_APP, type TempApp, writeTempApp } from './host-support';

interface Door {
  baseUrl: string;
  lines: string[];
  drain(): Promise<void>;
  close(): Promise<void>;
}

async function serve(appDir: string, keys: HostKeys): Promise<Door> {
  const lines: string[] = [];
  const app = await loadApp(appDir, { log: (_level, message) => lines.push(message) });
  const invoker = createInvoker(app, {
    log: (line) => lines.push(line),
    durableClientBinding: () => undefined,
  });
  const durableStub = {
    handleHttp: async (_req: IncomingMessage, res: ServerResponse, url: URL) => {
      if (!url.pathname.startsWith('/runtime/webhooks/durabletask/')) return false;
      res.writeHead(299).end('claimed by the durable engine');
      return true;
    },
  };
  const door = createFrontDoor({
    invoker,
    keys,
    routePrefix: app.hostJson.extensions?.http?.routePrefix,
    durable: () => durableStub,
    status: () => ({ state: 'Running' }),
    log: (line) => lines.push(line),
  });
  const server: Server = createServer((req, res) => void door.handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    lines,
    drain: () => door.drain(),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const keys = generateKeys();
keys.functions = { items: { own: 'items-own-key' }, hello: { own: 'hello-own-key' } };
let door: Door;

beforeAll(async () => {
  door = await serve(SAMPLE_APP, keys);
});
afterAll(async () => {
  await door.close();
});

const url = (path: string) => `${door.baseUrl}${path}`;

describe('HTTP trigger routing', () => {
  it('binds route parameters, optional ones included, and matches literals case-insensitively', async () => {
    const named = await fetch(url('/api/hello/Ada%20L'));
    expect(named.status).toBe(200);
    expect(await named.text()).toBe('Hello, Ada L');
    expect(await (await fetch(url('/api/hello'))).text()).toBe('Hello, world');
    expect(await (await fetch(url('/API/Hello/bob'))).text()).toBe('Hello, bob');
  });

  it('serves a function without a route at its name', async () => {
    const res = await fetch(url('/api/ping'));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ pong: true });
  });

  it('applies route constraints and methods, answering 404 otherwise', async () => {
    const headers = { 'x-functions-key': keys.functionKeys.default! };
    const ok = await fetch(url('/api/items/42?verbose=1&tag=a&tag=b'), { headers });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ id: '42', method: 'GET', query: { verbose: '1', tag: 'a,b' } });
    const put = await fetch(url('/api/items/7'), { method: 'PUT', headers });
    expect(((await put.json()) as { method: string }).method).toBe('PUT');
    expect((await fetch(url('/api/items/abc'), { headers })).status).toBe(404);
    expect((await fetch(url('/api/items/42'), { method: 'POST', headers })).status).toBe(404);
  });

  it('gives a catch-all parameter the rest of the path', async () => {
    expect(await (await fetch(url('/api/files/a/b%20c/d.txt'))).json()).toEqual({ path: 'a/b c/d.txt' });
    expect(await (await fetch(url('/api/files'))).json()).toEqual({ path: null });
  });

  it('answers 404 for unknown routes and for paths outside the route prefix', async () => {
    expect((await fetch(url('/api/nothing-here'))).status).toBe(404);
    expect((await fetch(url('/hello/bob'))).status).toBe(404);
  });

  it('hands the paths the durable engine claims to it', async () => {
    const res = await fetch(url('/runtime/webhooks/durabletask/instances'));
    expect(res.status).toBe(299);
    expect(await res.text()).toBe('claimed by the durable engine');
  });
});

describe('auth levels', () => {
  it('requires a function key for function-level functions, from ?code= or x-functions-key', async () => {
    expect((await fetch(url('/api/items/1'))).status).toBe(401);
    expect((await fetch(url('/api/items/1?code=wrong'))).status).toBe(401);
    expect((await fetch(url(`/api/items/1?code=${keys.functionKeys.default}`))).status).toBe(200);
    expect(
      (await fetch(url('/api/items/1'), { headers: { 'x-functions-key': keys.masterKey } })).status,
    ).toBe(200);
  });

  it("accepts a function's own key only for that function", async () => {
    expect((await fetch(url('/api/items/1?code=items-own-key'))).status).toBe(200);
    expect((await fetch(url('/api/items/1?code=hello-own-key'))).status).toBe(401);
  });

  it('opens admin-level functions with the master key only', async () => {
    expect((await fetch(url(`/api/secure/admin?code=${keys.functionKeys.default}`))).status).toBe(401);
    const res = await fetch(url(`/api/secure/admin?code=${keys.masterKey}`));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ admin: true });
  });

  it('never echoes a presented key in the response', async () => {
    const res = await fetch(url('/api/items/1?code=a-wrong-secret-value'));
    expect(res.status).toBe(401);
    expect(await res.text()).not.toContain('a-wrong-secret-value');
  });
});

describe('request and response mapping', () => {
  it('round-trips body bytes, headers, status and cookies', async () => {
    const body = Buffer.from([0, 1, 2, 250, 255, 10, 13]);
    const res = await fetch(url('/api/echo/t1?status=201'), {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-sample', 'x-sample': 'value 1', cookie: 'a=1; b=2' },
    });
    expect(res.status).toBe(201);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(body);
    expect(res.headers.get('content-type')).toBe('application/x-sample');
    expect(res.headers.get('x-echo-tag')).toBe('t1');
    expect(res.headers.get('x-echo-header')).toBe('value 1');
    expect(res.headers.get('x-echo-cookie')).toBe('a=1; b=2');
    expect(res.headers.getSetCookie()).toEqual(['seen=t1; Path=/; HttpOnly']);
  });

  it('answers 500 without details when the function throws, and logs the error', async () => {
    const res = await fetch(url('/api/fail'));
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('');
    expect(door.lines.some((line) => line.includes('the sample function failed on purpose'))).toBe(true);
  });
});

describe('admin endpoints', () => {
  it('serves /admin/host/status to the master key only, and /admin/host/ping to anyone', async () => {
    expect((await fetch(url('/admin/host/status'))).status).toBe(401);
    const status = await fetch(url('/admin/host/status'), { headers: { 'x-functions-key': keys.masterKey } });
    expect(status.status).toBe(200);
    expect(((await status.json()) as { state: string }).state).toBe('Running');
    expect((await fetch(url('/admin/host/ping'))).status).toBe(200);
  });

  it('runs a non-HTTP function on POST /admin/functions/{name} with the master key', async () => {
    await fetch(url('/api/sample/events'), { method: 'DELETE' });
    const post = (name: string, code: string) =>
      fetch(url(`/admin/functions/${name}?code=${code}`), {
        method: 'POST',
        body: JSON.stringify({ input: JSON.stringify(gridEvent('admin-1')) }),
      });
    expect((await post('recordEvent', keys.functionKeys.default!)).status).toBe(401);
    expect((await post('nope', keys.masterKey)).status).toBe(404);
    expect((await post('hello', keys.masterKey)).status).toBe(400);
    expect((await post('recordEvent', keys.masterKey)).status).toBe(202);
    await door.drain();
    const received = (await (await fetch(url('/api/sample/events'))).json()) as { event: { id: string } }[];
    expect(received.map((r) => r.event.id)).toEqual(['admin-1']);
  });
});

describe('Event Grid webhook', () => {
  const webhook = (query: string) => url(`/runtime/webhooks/eventgrid?${query}`);
  const egKey = keys.systemKeys.eventgrid_extension!;
  const notify = (events: unknown, query = `functionName=recordEvent&code=${egKey}`) =>
    fetch(webhook(query), {
      method: 'POST',
      headers: { 'aeg-event-type': 'Notification', 'content-type': 'application/json' },
      body: typeof events === 'string' ? events : JSON.stringify(events),
    });
  const received = async () =>
    (await (await fetch(url('/api/sample/events'))).json()) as {
      event: { id: string };
      invocationId: string;
    }[];

  beforeEach(async () => {
    await fetch(url('/api/sample/events'), { method: 'DELETE' });
  });

  it('answers the subscription validation handshake with the validation code', async () => {
    const res = await fetch(webhook(`functionName=recordEvent&code=${egKey}`), {
      method: 'POST',
      headers: { 'aeg-event-type': 'SubscriptionValidation' },
      body: JSON.stringify([
        {
          ...gridEvent('v1'),
          eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
          data: { validationCode: 'code-123', validationUrl: 'https://example.invalid/validate' },
        },
      ]),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ validationResponse: 'code-123' });
  });

  it('requires the eventgrid_extension system key (or the master key)', async () => {
    expect((await notify([gridEvent('k1')], 'functionName=recordEvent')).status).toBe(401);
    expect((await notify([gridEvent('k2')], 'functionName=recordEvent&code=wrong')).status).toBe(401);
    expect(
      (await notify([gridEvent('k3')], `functionName=recordEvent&code=${keys.functionKeys.default}`)).status,
    ).toBe(401);
    expect((await notify([gridEvent('k4')], `functionName=recordEvent&code=${keys.masterKey}`)).status).toBe(
      202,
    );
    expect((await received()).map((r) => r.event.id)).toEqual(['k4']);
  });

  it('invokes the function once per event of a batch and answers 202', async () => {
    const res = await notify([
      gridEvent('e1', { n: 1 }),
      gridEvent('e2', { n: 2 }),
      gridEvent('e3', { n: 3 }),
    ]);
    expect(res.status).toBe(202);
    const records = await received();
    expect(records.map((r) => r.event.id).sort()).toEqual(['e1', 'e2', 'e3']);
    expect(new Set(records.map((r) => r.invocationId)).size).toBe(3);
    expect(records.find((r) => r.event.id === 'e2')?.event).toEqual(gridEvent('e2', { n: 2 }));
  });

  it('answers 500 with the failure when any event of the batch fails, so Event Grid retries', async () => {
    const res = await notify([gridEvent('ok1'), gridEvent('bad', { fail: true }), gridEvent('ok2')]);
    expect(res.status).toBe(500);
    expect(await res.text()).toContain('event bad asked to fail');
    expect((await received()).map((r) => r.event.id).sort()).toEqual(['ok1', 'ok2']);
  });

  it('accepts a single CloudEvent', async () => {
    const cloudEvent = {
      specversion: '1.0',
      id: 'ce-1',
      source: '/subscriptions/x',
      type: 'Microsoft.Resources.ResourceWriteSuccess',
      data: { resourceUri: '/subscriptions/x/vm' },
    };
    expect((await notify(cloudEvent)).status).toBe(202);
    expect((await received()).map((r) => r.event.id)).toEqual(['ce-1']);
  });

  it('answers 400 for malformed JSON or a missing aeg-event-type, 202 for Unsubscribe', async () => {
    expect((await notify('[{"id": ')).status).toBe(400);
    const noType = await fetch(webhook(`functionName=recordEvent&code=${egKey}`), {
      method: 'POST',
      body: '[]',
    });
    expect(noType.status).toBe(400);
    const unsubscribe = await fetch(webhook(`functionName=recordEvent&code=${egKey}`), {
      method: 'POST',
      headers: { 'aeg-event-type': 'Unsubscribe' },
      body: '[]',
    });
    expect(unsubscribe.status).toBe(202);
  });

  it('answers 404 for a function that is not an Event Grid function', async () => {
    const unknown = await notify([gridEvent('x')], `functionName=nope&code=${egKey}`);
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toBe("cannot find function: 'nope'");
    expect((await notify([gridEvent('y')], `functionName=hello&code=${egKey}`)).status).toBe(404);
  });

  it('answers the CloudEvents abuse-protection handshake', async () => {
    const res = await fetch(webhook(`functionName=recordEvent&code=${egKey}`), {
      method: 'OPTIONS',
      headers: { 'WebHook-Request-Origin': 'eventgrid.azure.net' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('webhook-allowed-origin')).toBe('eventgrid.azure.net');
  });
});

describe('route prefix from host.json', () => {
  let app: TempApp;
  let custom: Door;
  beforeAll(async () => {
    app = writeTempApp(
      {
        'src/app.js': `const { app } = require('@azure/functions');
app.http('widget', { methods: ['GET'], authLevel: 'anonymous', route: 'widgets/{id}', handler: async (req) => ({ body: req.params.id }) });`,
      },
      { hostJson: { version: '2.0', extensions: { http: { routePrefix: 'v1/custom' } } } },
    );
    custom = await serve(app.dir, keys);
  });
  afterAll(async () => {
    await custom.close();
    app.remove();
  });

  it('serves routes under the configured prefix only', async () => {
    const res = await fetch(`${custom.baseUrl}/v1/custom/widgets/w9`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('w9');
    expect((await fetch(`${custom.baseUrl}/api/widgets/w9`)).status).toBe(404);
  });
});

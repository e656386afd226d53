import http, { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvocationContext } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import {
  DURABLE_CLIENT_CONNECTIONS,
  DURABLE_CLIENT_IDLE_MS,
  durableClientInput,
  durableClientOf,
  statusOf,
} from '../../src/functions/durableClient';

/** An invocation whose durable client input carries this hub's binding data, as the host sends it. */
function invocation(
  hubName: string,
  rpcBaseUrl = 'http://127.0.0.1:7071/runtime/webhooks/durabletask/',
): InvocationContext {
  const context = new InvocationContext({
    options: {
      trigger: { type: 'eventGridTrigger', name: 'event' },
      extraInputs: [durableClientInput],
      extraOutputs: [],
    },
  });
  context.extraInputs.set(durableClientInput, {
    taskHubName: hubName,
    creationUrls: {},
    managementUrls: {},
    rpcBaseUrl,
  });
  return context;
}

describe('durableClientOf', () => {
  it('keeps one client while the binding data stays the same, and builds another when it changes', () => {
    const first = durableClientOf(invocation('HubA'));
    expect(first.taskHubName).toBe('HubA');
    expect(durableClientOf(invocation('HubA'))).toBe(first);
    const changed = durableClientOf(invocation('HubB'));
    expect(changed).not.toBe(first);
    expect(changed.taskHubName).toBe('HubB');
  });

  it('keeps a burst of calls on a bounded set of connections to the host', async () => {
    let connections = 0;
    const paths = new Set<string>();
    const server = createServer((req, res) => {
      paths.add(req.url ?? '');
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"No instance"}');
    });
    server.on('connection', () => connections++);
    // As long as the host keeps them: Node's clients close idle connections 1 s before the server's hint.
    server.keepAliveTimeout = 130_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const client = durableClientOf(invocation('HubC', `http://127.0.0.1:${port}/durabletask/`));
      const ids = Array.from({ length: 100 }, (_, i) => `vm-${i}`);
      const statuses = await Promise.all(ids.map((id) => statusOf(client, id)));
      expect(statuses.every((status) => status === undefined)).toBe(true);
      expect(paths.size).toBe(100);
      expect(connections).toBeGreaterThan(1);
      expect(connections).toBeLessThanOrEqual(DURABLE_CLIENT_CONNECTIONS);
      // They wait in the pool for the next burst for longer than Node's 5 s.
      const idle = Object.values(http.globalAgent.freeSockets).flat();
      expect(idle.length).toBe(connections);
      expect(idle.every((socket) => socket?.timeout === DURABLE_CLIENT_IDLE_MS)).toBe(true);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

/**
 * The app's OpenAPI document, served by the app on the local host: valid OpenAPI 3.1, and it
 * describes exactly the HTTP functions the app registers, with their methods and whether they need
 * a function key.
 */
import path from 'node:path';
import { validate } from '@readme/openapi-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClock } from '../../local/clock';
import { type RunningHost, startHost } from '../../local/host/index';
import { generateKeys } from '../../local/host/keys';

let host: RunningHost;

beforeAll(async () => {
  host = await startHost({
    appDir: path.resolve(__dirname, '../..'),
    port: 0,
    storage: { kind: 'memory' },
    clock: createClock({ scale: 1, origin: Date.now() }),
    keys: generateKeys(),
    log: () => {},
  });
});
afterAll(async () => {
  await host?.stop();
});

interface Document {
  servers: { url: string }[];
  paths: Record<string, Record<string, { operationId: string; security?: unknown[] }>>;
}

async function fetchDocument(): Promise<Document> {
  const response = await fetch(`${host.baseUrl}/api/openapi.json`);
  expect(response.status).toBe(200);
  return (await response.json()) as Document;
}

describe('GET /api/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document, served without a key', async () => {
    const document = await fetchDocument();
    const result = await validate(structuredClone(document) as never);
    expect(result.valid ? [] : result.errors).toEqual([]);
    expect(document.servers).toEqual([{ url: '/api' }]);
  });

  it('documents every HTTP function of the app, and nothing else', async () => {
    const document = await fetchDocument();
    const documented = Object.entries(document.paths).flatMap(([route, operations]) =>
      Object.entries(operations).map(([method, op]) => ({
        name: op.operationId,
        route: route.slice(1),
        method: method.toUpperCase(),
        key: op.security !== undefined,
      })),
    );
    const served = host.functions
      .filter((fn) => fn.trigger.type === 'httpTrigger')
      .flatMap((fn) =>
        (fn.trigger.methods as string[]).map((method) => ({
          name: fn.name,
          route: String(fn.trigger.route),
          method,
          key: fn.trigger.authLevel !== 'anonymous',
        })),
      );
    const order = (a: { name: string; method: string }, b: { name: string; method: string }) =>
      `${a.name} ${a.method}`.localeCompare(`${b.name} ${b.method}`);
    expect(served.length).toBeGreaterThan(10);
    expect(documented.sort(order)).toEqual(served.sort(order));
  });
});

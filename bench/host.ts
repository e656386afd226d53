/**
 * Durable engine throughput on the sample app (real durable-functions code through the local
 * host): 5-activity sequences and a 1,000-activity fan-out, on the in-memory store and on Azurite.
 * Prints figures; never passes or fails on time.
 *
 *   npx tsx bench/host.ts [--json] [--instances 1000] [--fanout 1000] [--store memory|azurite|both]
 */
import { availableParallelism, loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startAzurite } from '../local/azurite';
import { createClock } from '../local/clock';
import { startHost } from '../local/host/index';
import type { DurableStorage } from '../local/host/types';

const SAMPLE_APP = path.resolve(__dirname, '..', 'test', 'fixtures', 'sample-app');

interface Figures {
  store: string;
  sequence: {
    instances: number;
    seconds: number;
    orchestrationsPerSecond: number;
    activitiesPerSecond: number;
  };
  fanOut: { activities: number; seconds: number; activitiesPerSecond: number };
}

async function post(url: string, body?: unknown): Promise<string> {
  const response = await fetch(url, {
    method: 'POST',
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (response.status !== 202)
    throw new Error(`${url} answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { id: string }).id;
}

async function unfinished(baseUrl: string, ids: Set<string>): Promise<number> {
  let open = 0;
  let token: string | null = null;
  do {
    const response: Response = await fetch(
      `${baseUrl}/durabletask/instances/?top=1000&runtimeStatus=Pending,Running`,
      token ? { headers: { 'x-ms-continuation-token': token } } : {},
    );
    const page = (await response.json()) as { instanceId: string }[];
    open += page.filter((s) => ids.has(s.instanceId)).length;
    token = response.headers.get('x-ms-continuation-token');
  } while (token);
  return open;
}

async function waitAll(baseUrl: string, ids: string[]): Promise<void> {
  const set = new Set(ids);
  while ((await unfinished(baseUrl, set)) > 0) await new Promise((resolve) => setTimeout(resolve, 100));
  for (const id of ids) {
    const status = (await (await fetch(`${baseUrl}/durabletask/instances/${id}`)).json()) as {
      runtimeStatus: string;
    };
    if (status.runtimeStatus !== 'Completed') throw new Error(`${id} ended ${status.runtimeStatus}`);
  }
}

async function measure(
  storeName: string,
  storage: DurableStorage,
  instances: number,
  fanout: number,
): Promise<Figures> {
  const host = await startHost({
    appDir: SAMPLE_APP,
    port: 0,
    storage,
    clock: createClock({ scale: 1, origin: Date.now() }),
    // The engine's own complaints (storage errors, retries) would explain odd figures.
    log: (line) => {
      if (line.startsWith('durable:')) process.stderr.write(`${line}\n`);
    },
  });
  try {
    const url = `${host.baseUrl}/durabletask/orchestrators`;
    let started = performance.now();
    const ids: string[] = [];
    for (let i = 0; i < instances; i += 50) {
      const batch = Math.min(50, instances - i);
      ids.push(...(await Promise.all(Array.from({ length: batch }, () => post(`${url}/sequence`)))));
    }
    await waitAll(host.baseUrl, ids);
    const sequenceSeconds = (performance.now() - started) / 1000;
    started = performance.now();
    await waitAll(host.baseUrl, [await post(`${url}/fanOut`, fanout)]);
    const fanOutSeconds = (performance.now() - started) / 1000;
    return {
      store: storeName,
      sequence: {
        instances,
        seconds: round(sequenceSeconds),
        orchestrationsPerSecond: round(instances / sequenceSeconds),
        activitiesPerSecond: round((instances * 5) / sequenceSeconds),
      },
      fanOut: {
        activities: fanout,
        seconds: round(fanOutSeconds),
        activitiesPerSecond: round(fanout / fanOutSeconds),
      },
    };
  } finally {
    await host.stop();
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean' },
      instances: { type: 'string', default: '1000' },
      fanout: { type: 'string', default: '1000' },
      store: { type: 'string', default: 'both' },
    },
  });
  const instances = Number(values.instances);
  const fanout = Number(values.fanout);
  const results: Figures[] = [];
  if (values.store !== 'azurite')
    results.push(await measure('memory', { kind: 'memory' }, instances, fanout));
  if (values.store !== 'memory') {
    const azurite = await startAzurite();
    try {
      results.push(
        await measure(
          'azurite',
          { kind: 'azure', connectionString: azurite.connectionString },
          instances,
          fanout,
        ),
      );
    } finally {
      await azurite.stop();
    }
  }
  if (values.json) {
    // Figures from a busy machine are not comparable: the load average says how busy it was.
    const machine = { cores: availableParallelism(), loadAverage1m: Math.round(loadavg()[0]! * 100) / 100 };
    process.stdout.write(`${JSON.stringify({ ...machine, results }, null, 2)}\n`);
    return;
  }
  for (const r of results) {
    process.stdout.write(
      `${r.store}: ${r.sequence.instances} x 5-activity sequence in ${r.sequence.seconds} s ` +
        `(${r.sequence.orchestrationsPerSecond} orchestrations/s, ${r.sequence.activitiesPerSecond} activities/s); ` +
        `fan-out of ${r.fanOut.activities} in ${r.fanOut.seconds} s (${r.fanOut.activitiesPerSecond} activities/s)\n`,
    );
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});

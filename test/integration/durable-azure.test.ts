/**
 * The durable engine on Azure Storage (Azurite, through the real SDK clients): the provider's
 * tables and queues, orchestrations of each kind, and state that outlives the host.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { TableClient } from '@azure/data-tables';
import { QueueServiceClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AzuriteInstance, startAzurite } from '../../local/azurite';
import { createClock } from '../../local/clock';
import { type RunningHost, startHost } from '../../local/host/index';
import { DurableApi } from './durable-support';

const SAMPLE_APP = path.resolve(__dirname, '..', 'fixtures', 'sample-app');
const clock = createClock({ scale: 360_000, origin: Date.now() });

let azurite: AzuriteInstance;
let host: RunningHost;
let api: DurableApi;

function start(): Promise<RunningHost> {
  return startHost({
    appDir: SAMPLE_APP,
    port: 0,
    storage: { kind: 'azure', connectionString: azurite.connectionString },
    clock,
    log: () => {},
  });
}

beforeAll(async () => {
  azurite = await startAzurite();
  host = await start();
  api = new DurableApi(host.baseUrl);
});

afterAll(async () => {
  await host?.stop();
  await azurite?.stop();
});

describe('durable engine on Azure Storage', () => {
  it('keeps state in the provider-shaped tables and queues', async () => {
    const id = await api.start('sequence', ['Nairobi', 'Accra']);
    const status = await api.finished(id);
    expect(status.output).toEqual(['Hello, Nairobi!', 'Hello, Accra!']);
    const queues = QueueServiceClient.fromConnectionString(azurite.connectionString);
    const names: string[] = [];
    for await (const queue of queues.listQueues()) names.push(queue.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'samplehub-control-00',
        'samplehub-control-01',
        'samplehub-control-02',
        'samplehub-control-03',
        'samplehub-workitems',
      ]),
    );
    const options = { allowInsecureConnection: true };
    const history = TableClient.fromConnectionString(azurite.connectionString, 'SampleHubHistory', options);
    const rows: string[] = [];
    for await (const row of history.listEntities({ queryOptions: { filter: `PartitionKey eq '${id}'` } })) {
      rows.push(row.rowKey!);
    }
    expect(rows).toContain('sentinel');
    expect(rows.length).toBeGreaterThan(2);
    const instances = TableClient.fromConnectionString(
      azurite.connectionString,
      'SampleHubInstances',
      options,
    );
    const instance = await instances.getEntity<{ RuntimeStatus: string; Name: string }>(id, '');
    expect(instance.RuntimeStatus).toBe('Completed');
    expect(instance.Name).toBe('sequence');
  });

  it('runs fan-out, retries, sub-orchestrations, entities and timers', async () => {
    const ids = await Promise.all([
      api.start('fanOut', 40),
      api.start('retry', { key: randomUUID(), failures: 1, attempts: 3 }),
      api.start('parent'),
      api.start('entities', randomUUID()),
      api.start('timer', { minutes: 90 }),
    ]);
    const [fanOut, retry, parent, entities, timer] = await Promise.all(ids.map((id) => api.finished(id)));
    expect(fanOut!.output).toBe(40 * 41);
    expect(retry!.output).toEqual({ first: 2, second: 4 });
    expect(parent!.output).toEqual({ child: ['Hello, Oslo!', 'Hello, Rome!'], named: 20, retried: 2 });
    expect(entities!.output).toEqual({ afterAdd: null, value: 15 });
    const woke = timer!.output as { started: number; woke: number };
    expect(woke.woke - woke.started).toBeGreaterThanOrEqual(90 * 60_000);
  });

  it('carries large inputs and outputs (over the queue and table property limits)', async () => {
    const names = Array.from({ length: 3 }, (_, i) => `${i}-${'x'.repeat(70_000)}`);
    const id = await api.start('sequence', names);
    const status = await api.finished(id);
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toEqual(names.map((n) => `Hello, ${n}!`));
  });

  it('finishes a fan-out that a stopping host left half done', async () => {
    const id = await api.start('fanOut', 300);
    // Stopped at once: what had not started is left to the next host.
    await host.stop();
    host = await start();
    api = new DurableApi(host.baseUrl);
    const status = await api.finished(id, '');
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toBe(300 * 301);
  });

  it('fires a timer that was waiting when the host stopped', async () => {
    // Five virtual days (1.2 s real, one timer: short timers go up to 6 days): still waiting when the
    // host stops. Its TimerCreated is its only record: the last commit (the ping's) sent nothing.
    const minutes = 5 * 24 * 60;
    const id = await api.start('timerAfterPing', { minutes });
    await api.waitFor(id, (s) => s.runtimeStatus === 'Running');
    await api.client('raise', id, { name: 'ping', data: null });
    await api.waitFor(id, (s) => s.customStatus === 'pinged');
    await host.stop();
    host = await start();
    api = new DurableApi(host.baseUrl);
    const status = await api.finished(id);
    const { started, woke, pinged } = status.output as { started: number; woke: number; pinged: boolean };
    expect(pinged).toBe(true);
    expect(woke - started).toBeGreaterThanOrEqual(minutes * 60_000);
  });

  it('picks up where it stopped after a restart of the host', async () => {
    const id = await api.start('status');
    await api.waitFor(id, (s) => s.customStatus !== null);
    await host.stop();
    host = await start();
    api = new DurableApi(host.baseUrl);
    expect((await api.status(id)).body?.runtimeStatus).toBe('Running');
    await api.client('raise', id, { name: 'go', data: 'after restart' });
    const status = await api.finished(id);
    expect(status.output).toBe('after restart');
  });
});

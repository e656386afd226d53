/**
 * Lifecycle events of a whole wave on the full local stack (the rehearsal's composition): a
 * subscriber of the custom topic hears the wave start, every machine's stage changes and the wave
 * finish, each fact once by id however often Event Grid delivers it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FactoryApi } from '../../cli/lib/api';
import { defaultPlan } from '../../cli/lib/rehearsal';
import { generateEstate } from '../../local/azure-sim/estate/generate';
import { type Stack, startStack } from '../../local/stack';
import { inventoryFromEstate } from '../../src/domain';

interface Delivered {
  id: string;
  eventType: string;
  subject: string;
  data: Record<string, unknown>;
}

const estate = generateEstate(6, 21);
let stack: Stack;
let subscriber: Server;
const delivered: Delivered[] = [];

beforeAll(async () => {
  subscriber = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      const events = JSON.parse(body) as (Delivered & { data: { validationCode?: string } })[];
      if (req.headers['aeg-event-type'] === 'SubscriptionValidation') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ validationResponse: events[0]!.data.validationCode }));
        return;
      }
      delivered.push(...events);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => subscriber.listen(0, '127.0.0.1', resolve));
  stack = await startStack({
    estate,
    timeScale: 3600,
    faults: { seed: 5, eventGrid: { duplicateRate: 0.3 } },
  });
  stack.sim.core.addSubscription({
    name: 'lifecycle-wave-test',
    endpointUrl: `http://127.0.0.1:${(subscriber.address() as AddressInfo).port}/events`,
    topic: 'factory-lifecycle',
  });
});

afterAll(async () => {
  await stack?.stop();
  await new Promise<void>((resolve) => (subscriber ? subscriber.close(() => resolve()) : resolve()));
});

async function until<T>(read: () => T | Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 100_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('lifecycle events of a wave', () => {
  it('publishes the wave start, every stage change and the wave finish to the custom topic', async () => {
    const api = new FactoryApi({ baseUrl: stack.baseUrl, key: stack.functionKey });
    const plan = defaultPlan(estate, inventoryFromEstate(estate), 'auto');
    const wave = await api.submitWave({ type: 'application/json', text: JSON.stringify(plan) });
    const subject = `/waves/${wave.id}`;
    await until(
      () => delivered.filter((e) => e.subject === subject).map((e) => e.eventType),
      (types) => types.includes('Factory.Wave.Finished'),
      'the wave to finish',
    );
    const distinct = new Map(delivered.map((e) => [e.id, e]));
    const started = [...distinct.values()].filter((e) => e.eventType === 'Factory.Wave.Started');
    expect(started).toEqual([
      expect.objectContaining({ subject, data: expect.objectContaining({ waveId: wave.id }) }),
    ]);
    const finished = [...distinct.values()].filter((e) => e.eventType === 'Factory.Wave.Finished');
    expect(finished.map((e) => e.data.status)).toEqual(['Completed']);
    for (const machine of plan.machines) {
      const stages = [...distinct.values()]
        .filter((e) => e.subject === `${subject}/machines/${encodeURIComponent(machine.sourceName)}`)
        .map((e) => e.data.to);
      expect(stages).toContain('Validating');
      expect(stages).toContain('Done');
    }
  });
});

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type DeliveryAttempt,
  EventGridDelivery,
  retryDelayMs,
} from '../../local/azure-sim/eventgrid/delivery';
import type { EventGridEvent } from '../../local/azure-sim/eventgrid/schema';
import { createRandomStreams } from '../../local/azure-sim/framework/random';
import type { EventSubscription } from '../../local/azure-sim/framework/types';
import { createClock } from '../../local/clock';

/** 24 virtual hours pass in under a real second. */
const SCALE = 200_000;

interface Received {
  type: string | undefined;
  deliveryCount: number;
  subscription: string | undefined;
  events: EventGridEvent[];
  /** Virtual ms when it arrived. */
  at: number;
}

/**
 * A webhook that answers validation, and notifications with the next status of `statuses` (then
 * 200); a status of 0 leaves the notification without an answer.
 */
async function webhook(clock: ReturnType<typeof createClock>, statuses: number[] = []) {
  const received: Received[] = [];
  const waiters: { until: () => boolean; resolve: () => void }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const events = JSON.parse(Buffer.concat(chunks).toString('utf8')) as EventGridEvent[];
      const type = req.headers['aeg-event-type'] as string | undefined;
      if (type === 'SubscriptionValidation') {
        const data = events[0]?.data as { validationCode: string };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ validationResponse: data.validationCode }));
        return;
      }
      received.push({
        type,
        deliveryCount: Number(req.headers['aeg-delivery-count']),
        subscription: req.headers['aeg-subscription-name'] as string | undefined,
        events,
        at: clock.now(),
      });
      const status = statuses.shift() ?? 200;
      if (status !== 0) res.writeHead(status).end();
      for (const w of waiters.splice(0)) {
        if (w.until()) w.resolve();
        else waiters.push(w);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/events?code=secret`;
  return {
    url,
    received,
    /** Resolves once `until()` holds after a notification arrives. */
    waitFor: (until: () => boolean) =>
      until() ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ until, resolve })),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function event(
  n: number,
  subject = `/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm${n}`,
): EventGridEvent {
  return {
    id: `event-${n}`,
    topic: '/subscriptions/s',
    subject,
    eventType: 'Microsoft.Resources.ResourceWriteSuccess',
    eventTime: new Date(0).toISOString(),
    data: { n },
    dataVersion: '2',
    metadataVersion: '1',
  };
}

async function setup(options: {
  subscription?: Partial<EventSubscription>;
  statuses?: number[];
  faults?: Partial<{ duplicateRate: number; reorderWindowSeconds: number; failFirstAttemptRate: number }>;
  seed?: number;
  scale?: number;
  requestTimeoutMs?: number;
  onAttempt?: (attempt: DeliveryAttempt) => void;
}) {
  const clock = createClock({ scale: options.scale ?? SCALE, origin: Date.now() });
  const hook = await webhook(clock, options.statuses);
  const delivery = new EventGridDelivery({
    clock,
    random: createRandomStreams(options.seed ?? 1),
    faults: { duplicateRate: 0, reorderWindowSeconds: 0, failFirstAttemptRate: 0, ...options.faults },
    systemTopic: '/subscriptions/s',
    ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
    ...(options.onAttempt === undefined ? {} : { onAttempt: options.onAttempt }),
  });
  cleanups.push(async () => {
    await delivery.stop();
    await hook.close();
  });
  delivery.addSubscription({ name: 'factory', endpointUrl: hook.url, ...options.subscription });
  return { clock, hook, delivery };
}

describe('Event Grid delivery', () => {
  it('validates the subscription, then POSTs each event as a Notification in the Event Grid schema', async () => {
    const { hook, delivery } = await setup({});
    delivery.publish([event(1), event(2)]);
    await hook.waitFor(() => hook.received.length === 2);
    expect(hook.received.every((r) => r.type === 'Notification' && r.subscription === 'FACTORY')).toBe(true);
    const ids = hook.received.flatMap((r) => r.events.map((e) => e.id)).sort();
    expect(ids).toEqual(['event-1', 'event-2']);
    expect(hook.received[0]?.events[0]).toMatchObject({
      metadataVersion: '1',
      dataVersion: '2',
      topic: '/subscriptions/s',
    });
    await expect
      .poll(() => delivery.stats())
      .toMatchObject({ published: 2, delivered: 2, failedAttempts: 0 });
  });

  it('retries a failing webhook after 10 s then 30 s of virtual time', async () => {
    const { hook, delivery } = await setup({ statuses: [500, 503] });
    delivery.publish([event(1)]);
    await hook.waitFor(() => hook.received.length === 3);
    const [first, second, third] = hook.received;
    expect(hook.received.map((r) => r.deliveryCount)).toEqual([0, 1, 2]);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(retryDelayMs(1));
    expect(third!.at - second!.at).toBeGreaterThanOrEqual(retryDelayMs(2));
    expect(retryDelayMs(1)).toBe(10_000);
    expect(retryDelayMs(2)).toBe(30_000);
    expect(delivery.deadLetters()).toEqual([]);
  });

  it('counts a webhook that does not answer within the request timeout as a failed attempt, and retries', async () => {
    const { hook, delivery } = await setup({ statuses: [0], requestTimeoutMs: 200 });
    delivery.publish([event(1)]);
    await hook.waitFor(() => hook.received.length === 2);
    expect(hook.received.map((r) => r.deliveryCount)).toEqual([0, 1]);
    await expect.poll(() => delivery.stats()).toMatchObject({ delivered: 1, failedAttempts: 1 });
  });

  it.each([400, 413])('does not retry %i and dead-letters the event', async (status) => {
    const { hook, delivery } = await setup({ statuses: [status] });
    delivery.publish([event(1)]);
    await hook.waitFor(() => hook.received.length === 1);
    await expect.poll(() => delivery.deadLetters().length).toBe(1);
    expect(delivery.deadLetters()[0]).toMatchObject({
      subscription: 'factory',
      deadLetterReason: 'NonRetriableDeliveryFailure',
      deliveryAttempts: 1,
      lastHttpStatusCode: status,
    });
    expect(hook.received).toHaveLength(1);
  });

  it('gives up after 24 virtual hours of failures with TimeToLiveExceeded', async () => {
    const { hook, delivery } = await setup({ statuses: Array.from({ length: 40 }, () => 503) });
    delivery.publish([event(1)]);
    await expect.poll(() => delivery.deadLetters().length, { timeout: 10_000 }).toBe(1);
    const dead = delivery.deadLetters()[0]!;
    expect(dead.deadLetterReason).toBe('TimeToLiveExceeded');
    expect(dead.deliveryAttempts).toBe(hook.received.length);
    expect(hook.received.length).toBeGreaterThan(5);
    expect(hook.received.length).toBeLessThan(30);
  });

  it('repeats deliveries and loses first attempts as the fault profile says', async () => {
    const { hook, delivery } = await setup({ faults: { duplicateRate: 1, failFirstAttemptRate: 1 } });
    delivery.publish([event(1), event(2), event(3)]);
    await hook.waitFor(() => hook.received.length === 6);
    const counts = new Map<string, number>();
    for (const r of hook.received) for (const e of r.events) counts.set(e.id, (counts.get(e.id) ?? 0) + 1);
    expect([...counts.values()]).toEqual([2, 2, 2]);
    // The first attempt never reached the webhook: its first sight of each event is delivery count 1.
    expect(Math.min(...hook.received.map((r) => r.deliveryCount))).toBe(1);
    await expect.poll(() => delivery.stats()).toMatchObject({ duplicatesSent: 3, failedAttempts: 3 });
  });

  it('delays each event within the reorder window, the same way for the same seed', async () => {
    // At 1000x, 600 virtual seconds are 0.6 real seconds: real latency (ms) stays far below the window.
    const delaysFor = async (seed: number) => {
      const { hook, delivery, clock } = await setup({
        seed,
        scale: 1000,
        faults: { reorderWindowSeconds: 600 },
      });
      const at = clock.now();
      delivery.publish(Array.from({ length: 8 }, (_, i) => event(i)));
      await hook.waitFor(() => hook.received.length === 8);
      return {
        order: hook.received.map((r) => r.events[0]!.id),
        delays: new Map(hook.received.map((r) => [r.events[0]!.id, r.at - at])),
      };
    };
    const first = await delaysFor(7);
    const again = await delaysFor(7);
    for (const [id, delay] of first.delays) {
      expect(delay).toBeLessThan(600_000 + 30_000);
      expect(Math.abs(delay - again.delays.get(id)!)).toBeLessThan(30_000);
    }
    expect(first.order).not.toEqual([...first.order].sort());
  });

  it('filters by event type and subject', async () => {
    const { hook, delivery } = await setup({});
    delivery.addSubscription({
      name: 'vms-only',
      endpointUrl: hook.url,
      includedEventTypes: ['Microsoft.Resources.ResourceWriteSuccess'],
      subjectEndsWith: '/vm2',
    });
    delivery.publish([
      event(1),
      event(2),
      { ...event(3), eventType: 'Microsoft.Resources.ResourceDeleteSuccess' },
    ]);
    await hook.waitFor(
      () =>
        hook.received.filter((r) => r.subscription === 'VMS-ONLY').length === 1 && hook.received.length === 4,
    );
    expect(hook.received.filter((r) => r.subscription === 'VMS-ONLY').map((r) => r.events[0]!.id)).toEqual([
      'event-2',
    ]);
  });

  it('filters by advanced filters on data and subject, ignoring case', async () => {
    const { hook, delivery } = await setup({
      subscription: {
        advancedFilters: [
          {
            operatorType: 'StringIn',
            key: 'data.operationName',
            values: ['Microsoft.Compute/virtualMachines/write'],
          },
          {
            operatorType: 'StringBeginsWith',
            key: 'subject',
            values: ['/SUBSCRIPTIONS/S/resourceGroups/RG/'],
          },
        ],
      },
    });
    const write = (n: number, operationName: string, group = 'rg'): EventGridEvent => ({
      ...event(
        n,
        `/subscriptions/s/resourceGroups/${group}/providers/Microsoft.Compute/virtualMachines/vm${n}`,
      ),
      data: { operationName },
    });
    delivery.publish([
      write(1, 'microsoft.compute/virtualmachines/write'),
      write(2, 'Microsoft.Automanage/configurationProfileAssignments/write'),
      write(3, 'Microsoft.Compute/virtualMachines/write', 'other'),
      { ...event(4), data: {} },
      write(5, 'Microsoft.Compute/virtualMachines/write'),
    ]);
    await hook.waitFor(() => hook.received.length === 2);
    await expect.poll(() => delivery.stats().delivered).toBe(2);
    expect(hook.received.flatMap((r) => r.events.map((e) => e.id)).sort()).toEqual(['event-1', 'event-5']);
  });

  it('leaves out the events whose key holds a StringNotIn value; events without the key pass', async () => {
    const { hook, delivery } = await setup({
      subscription: {
        advancedFilters: [{ operatorType: 'StringNotIn', key: 'data.claims.appid', values: ['OUR-APP'] }],
      },
    });
    const by = (n: number, appid: string): EventGridEvent => ({ ...event(n), data: { claims: { appid } } });
    delivery.publish([
      by(1, 'our-app'),
      by(2, 'portal-user-app'),
      { ...event(3), data: {} },
      by(4, 'our-app'),
    ]);
    await hook.waitFor(() => hook.received.length === 2);
    await expect.poll(() => delivery.stats().delivered).toBe(2);
    expect(hook.received.flatMap((r) => r.events.map((e) => e.id)).sort()).toEqual(['event-2', 'event-3']);
  });

  it('tells onAttempt of each POST once answered: its events, status and real send and answer times', async () => {
    const attempts: DeliveryAttempt[] = [];
    const { hook, delivery } = await setup({
      subscription: { maxEventsPerBatch: 10 },
      statuses: [500],
      onAttempt: (attempt) => attempts.push(attempt),
    });
    const before = performance.now();
    delivery.publish([event(1), event(2)]);
    await hook.waitFor(() => hook.received.length === 2);
    await expect.poll(() => attempts.length).toBe(2);
    expect(attempts.map((a) => [a.subscription, a.eventIds, a.status])).toEqual([
      ['factory', ['event-1', 'event-2'], 500],
      ['factory', ['event-1', 'event-2'], 200],
    ]);
    for (const attempt of attempts) {
      expect(attempt.sentAt).toBeGreaterThanOrEqual(before);
      expect(attempt.answeredAt).toBeGreaterThanOrEqual(attempt.sentAt);
    }
  });

  it('tells onAttempt of a POST without an answer, with no status', async () => {
    const attempts: DeliveryAttempt[] = [];
    const { hook, delivery } = await setup({
      statuses: [0],
      requestTimeoutMs: 200,
      onAttempt: (attempt) => attempts.push(attempt),
    });
    delivery.publish([event(1)]);
    await hook.waitFor(() => hook.received.length === 2);
    await expect.poll(() => attempts.length).toBe(2);
    expect(attempts[0]).not.toHaveProperty('status');
    expect(attempts[0]!.answeredAt).toBeGreaterThanOrEqual(attempts[0]!.sentAt);
    expect(attempts[1]!.status).toBe(200);
  });

  it('puts the events due together in batches of up to maxEventsPerBatch', async () => {
    const { hook, delivery } = await setup({ subscription: { maxEventsPerBatch: 3 } });
    delivery.publish(Array.from({ length: 7 }, (_, i) => event(i)));
    await hook.waitFor(() => hook.received.flatMap((r) => r.events).length === 7);
    expect(hook.received.map((r) => r.events.length).sort()).toEqual([1, 3, 3]);
    await expect.poll(() => delivery.stats()).toMatchObject({ published: 7, delivered: 7 });
  });

  it('redelivers a failed batch: every event in it fails and is retried', async () => {
    const { hook, delivery } = await setup({ subscription: { maxEventsPerBatch: 10 }, statuses: [500] });
    delivery.publish([event(1), event(2), event(3)]);
    await hook.waitFor(() => hook.received.length === 2);
    const [failed, retried] = hook.received;
    expect(failed!.events.map((e) => e.id)).toEqual(['event-1', 'event-2', 'event-3']);
    expect(retried!.events.map((e) => e.id)).toEqual(['event-1', 'event-2', 'event-3']);
    expect(retried!.deliveryCount).toBe(1);
    expect(retried!.at - failed!.at).toBeGreaterThanOrEqual(retryDelayMs(1));
  });

  it('keeps a batch within preferredBatchSizeInKilobytes; a larger event goes alone', async () => {
    const { hook, delivery } = await setup({
      subscription: { maxEventsPerBatch: 100, preferredBatchSizeInKilobytes: 1 },
    });
    const sized = (n: number, bytes: number): EventGridEvent => ({
      ...event(n),
      data: { pad: 'x'.repeat(bytes) },
    });
    delivery.publish([sized(1, 300), sized(2, 300), sized(3, 2000), sized(4, 300)]);
    await hook.waitFor(() => hook.received.flatMap((r) => r.events).length === 4);
    const batches = hook.received.map((r) => r.events.map((e) => e.id));
    expect(batches).toContainEqual(['event-3']);
    for (const batch of batches) expect(batch.length).toBeLessThanOrEqual(batch.includes('event-3') ? 1 : 2);
  });
});

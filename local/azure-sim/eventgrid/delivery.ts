/**
 * Event Grid's push delivery to webhook subscriptions, in virtual time: the validation handshake
 * when a subscription is added, at-least-once delivery of each event (one per POST by default, or
 * batches of the events due when a POST goes out, up to `maxEventsPerBatch` and about
 * `preferredBatchSizeInKilobytes`) with `aeg-event-type: Notification`, retries on the published
 * schedule (a failed batch fails every event in it), no retry for 400 and 413, and a dead-letter
 * record when it gives up.
 *
 * Faults of the profile's `eventGrid` section (lost first attempts, duplicates, reordering within a
 * window) are drawn when an event is published, from seeded streams, so the same events published
 * in the same order meet the same faults however fast the webhook answers.
 */
import { setMaxListeners } from 'node:events';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Clock } from '../../clock';
import type { FaultProfile } from '../faults/schema';
import { seededUuid } from '../framework/ids';
import type { AdvancedFilter, DeadLetterRecord, EventSubscription } from '../framework/types';
import type { EventGridEvent } from './schema';

const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
/** Waits before each retry, after the 1st, 2nd, ... failed attempt; the last repeats (virtual ms). */
export const RETRY_DELAYS_MS = [
  10 * SECOND_MS,
  30 * SECOND_MS,
  MINUTE_MS,
  5 * MINUTE_MS,
  10 * MINUTE_MS,
  30 * MINUTE_MS,
  HOUR_MS,
  3 * HOUR_MS,
  6 * HOUR_MS,
  12 * HOUR_MS,
];
export const MAX_DELIVERY_ATTEMPTS = 30;
/** Event time to live: Event Grid stops retrying 24 h after publication (virtual ms). */
export const EVENT_TIME_TO_LIVE_MS = 24 * HOUR_MS;
/** Statuses Event Grid does not retry. */
const NOT_RETRIED = new Set([400, 413]);
/** Real ms Event Grid waits for a webhook's answer before counting the attempt as failed. */
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** POSTs in flight per subscription, so a burst of events does not flood the webhook. */
const MAX_IN_FLIGHT = 16;
/**
 * Real ms a connection to a webhook stays open between POSTs: the default idle timeout of .NET's
 * HTTP client (`SocketsHttpHandler.PooledConnectionIdleTimeout`, 1 min since .NET 6). Event Grid
 * does not publish its own; Node's global agent would close it after 5 s.
 */
const IDLE_CONNECTION_MS = 60_000;
/** Event Grid's default `preferredBatchSizeInKilobytes`. */
const DEFAULT_BATCH_KILOBYTES = 64;

/** The wait after `attempts` failed attempts, virtual ms. */
export function retryDelayMs(attempts: number): number {
  return RETRY_DELAYS_MS[Math.min(attempts, RETRY_DELAYS_MS.length) - 1] ?? RETRY_DELAYS_MS[0]!;
}

export interface DeliveryStats {
  published: number;
  /** Events of POSTs answered 2xx, duplicates included. */
  delivered: number;
  duplicatesSent: number;
  /** Attempts that failed (non-2xx, network error, timeout, or lost by fault injection). */
  failedAttempts: number;
  deadLettered: number;
}

/**
 * One POST of events to a subscription's webhook, as Event Grid's delivery metrics see it
 * (`DestinationProcessingDurationInMs` is `answeredAt - sentAt`).
 */
export interface DeliveryAttempt {
  subscription: string;
  /** The ids of the events the POST carried. */
  eventIds: string[];
  /** Real ms (`performance.now()`) when the POST was sent and when its answer was read or it failed. */
  sentAt: number;
  answeredAt: number;
  /** The webhook's status; undefined when no answer came (network error or timeout). */
  status?: number;
}

export interface DeliveryOptions {
  clock: Clock;
  random: (stream: string) => number;
  faults: FaultProfile['eventGrid'];
  /** The topic named in validation events (`/subscriptions/{id}`). */
  systemTopic: string;
  requestTimeoutMs?: number;
  /** Told of every POST of events once it is answered or has failed. */
  onAttempt?: (attempt: DeliveryAttempt) => void;
}

/** One event's way to one subscription; the events due together share a POST. */
interface Delivery {
  event: EventGridEvent;
  /** Virtual ms when the events were published (time to live counts from here). */
  publishedAt: number;
  attempts: number;
  loseFirstAttempt: boolean;
  /** Virtual ms after the first success at which a duplicate follows, when the draw says so. */
  duplicateAfterMs?: number;
  isDuplicate: boolean;
  lastStatus?: number;
  lastOutcome?: string;
}

interface Subscriber {
  sub: EventSubscription;
  state: 'validating' | 'active' | 'failed';
  /** Deliveries waiting for the validation handshake. */
  waiting: { delivery: Delivery; delayMs: number }[];
  /** Deliveries due, in the order they fell due, waiting for a POST. */
  due: Delivery[];
  /** A pump is scheduled for the end of this turn of the event loop. */
  pumpScheduled: boolean;
  inFlight: number;
}

/** The string at an advanced filter's key (`data.a.b` walks the data), if there is one. */
function valueAt(event: EventGridEvent, key: string): string | undefined {
  const [head, ...path] = key.split('.');
  let value: unknown = (event as unknown as Record<string, unknown>)[head!];
  for (const part of path) {
    value =
      typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[part] : undefined;
  }
  return typeof value === 'string' ? value.toLowerCase() : undefined;
}

function passes(filter: AdvancedFilter, event: EventGridEvent): boolean {
  const value = valueAt(event, filter.key);
  const values = filter.values.map((v) => v.toLowerCase());
  switch (filter.operatorType) {
    case 'StringNotIn':
      return value === undefined || !values.includes(value);
    case 'StringIn':
      return value !== undefined && values.includes(value);
    case 'StringBeginsWith':
      return value !== undefined && values.some((prefix) => value.startsWith(prefix));
  }
}

export function matches(
  sub: EventSubscription,
  event: EventGridEvent,
  customTopic: string | undefined,
): boolean {
  if (sub.topic?.toLowerCase() !== customTopic?.toLowerCase()) return false;
  const type = event.eventType.toLowerCase();
  if (sub.includedEventTypes?.length && !sub.includedEventTypes.some((t) => t.toLowerCase() === type))
    return false;
  // Subject filters ignore case, as Event Grid's do unless isSubjectCaseSensitive is set.
  const subject = event.subject.toLowerCase();
  const begins = sub.subjectBeginsWith?.toLowerCase();
  const ends = sub.subjectEndsWith?.toLowerCase();
  if ((begins && !subject.startsWith(begins)) || (ends && !subject.endsWith(ends))) return false;
  return (sub.advancedFilters ?? []).every((filter) => passes(filter, event));
}

export class EventGridDelivery {
  private readonly subscribers: Subscriber[] = [];
  private readonly dead: DeadLetterRecord[] = [];
  private readonly abort = new AbortController();
  private readonly pending = new Set<Promise<void>>();
  private readonly agents = {
    http: new HttpAgent({ keepAlive: true, timeout: IDLE_CONNECTION_MS }),
    https: new HttpsAgent({ keepAlive: true, timeout: IDLE_CONNECTION_MS }),
  };
  private readonly counters: DeliveryStats = {
    published: 0,
    delivered: 0,
    duplicatesSent: 0,
    failedAttempts: 0,
    deadLettered: 0,
  };

  constructor(private readonly options: DeliveryOptions) {
    // Every scheduled delivery and every POST listens for the stop.
    setMaxListeners(0, this.abort.signal);
  }

  addSubscription(sub: EventSubscription): void {
    const subscriber: Subscriber = {
      sub,
      state: 'validating',
      waiting: [],
      due: [],
      pumpScheduled: false,
      inFlight: 0,
    };
    this.subscribers.push(subscriber);
    this.track(this.validate(subscriber));
  }

  /** Routes events of a system topic (customTopic undefined) or of a custom topic to the subscriptions. */
  publish(events: EventGridEvent[], customTopic?: string): void {
    if (this.abort.signal.aborted) return;
    this.counters.published += events.length;
    for (const subscriber of this.subscribers) {
      for (const event of events) {
        if (matches(subscriber.sub, event, customTopic)) this.enqueue(subscriber, event);
      }
    }
  }

  deadLetters(): DeadLetterRecord[] {
    return [...this.dead];
  }

  stats(): DeliveryStats {
    return { ...this.counters };
  }

  async stop(): Promise<void> {
    this.abort.abort(new Error('Event Grid delivery stopped'));
    await Promise.allSettled([...this.pending]);
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch(() => undefined).finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  private enqueue(subscriber: Subscriber, event: EventGridEvent): void {
    const { random, faults, clock } = this.options;
    // Every draw happens here, in publication order, so outcomes do not depend on webhook timing.
    const reorder = random('eventgrid.reorder');
    const lose = random('eventgrid.failFirstAttempt');
    const duplicate = random('eventgrid.duplicate');
    const duplicateDelay = random('eventgrid.duplicateDelay');
    const windowMs = faults.reorderWindowSeconds * SECOND_MS;
    const delivery: Delivery = {
      event,
      publishedAt: clock.now(),
      attempts: 0,
      loseFirstAttempt: lose < faults.failFirstAttemptRate,
      isDuplicate: false,
      ...(duplicate < faults.duplicateRate
        ? { duplicateAfterMs: Math.floor(duplicateDelay * Math.max(windowMs, SECOND_MS)) }
        : {}),
    };
    const delayMs = Math.floor(reorder * windowMs);
    if (subscriber.state === 'active') this.schedule(subscriber, delivery, clock.now() + delayMs);
    else if (subscriber.state === 'validating') subscriber.waiting.push({ delivery, delayMs });
    else
      this.deadLetter(
        subscriber,
        { ...delivery, lastOutcome: 'SubscriptionValidationFailed' },
        'NonRetriableDeliveryFailure',
      );
  }

  /** Deliveries scheduled together fall due together, in the order given. */
  private schedule(subscriber: Subscriber, deliveries: Delivery | Delivery[], at: number): void {
    const all = Array.isArray(deliveries) ? deliveries : [deliveries];
    this.track(
      this.options.clock.sleepUntil(at, this.abort.signal).then(() => {
        for (const delivery of all) this.attempt(subscriber, delivery);
      }),
    );
  }

  /** The delivery falls due: its attempt is lost (fault injection) or it joins the next POST. */
  private attempt(subscriber: Subscriber, delivery: Delivery): void {
    delivery.attempts += 1;
    if (delivery.attempts === 1 && delivery.loseFirstAttempt) {
      delivery.lastOutcome = 'Lost';
      const retryAt = this.settle(subscriber, delivery, undefined);
      if (retryAt !== undefined) this.schedule(subscriber, delivery, retryAt);
      return;
    }
    subscriber.due.push(delivery);
    // Events that fall due in the same turn (published together) can then share a POST.
    if (subscriber.pumpScheduled) return;
    subscriber.pumpScheduled = true;
    setImmediate(() => {
      subscriber.pumpScheduled = false;
      this.pump(subscriber);
    });
  }

  /** POSTs what is due, a batch at a time, while fewer than MAX_IN_FLIGHT POSTs are out. */
  private pump(subscriber: Subscriber): void {
    while (!this.abort.signal.aborted && subscriber.inFlight < MAX_IN_FLIGHT && subscriber.due.length > 0) {
      const batch = this.nextBatch(subscriber);
      subscriber.inFlight += 1;
      this.track(
        this.postBatch(subscriber, batch).finally(() => {
          subscriber.inFlight -= 1;
          this.pump(subscriber);
        }),
      );
    }
  }

  private nextBatch(subscriber: Subscriber): { deliveries: Delivery[]; body: string } {
    const maxEvents = Math.max(1, subscriber.sub.maxEventsPerBatch ?? 1);
    const maxBytes = (subscriber.sub.preferredBatchSizeInKilobytes ?? DEFAULT_BATCH_KILOBYTES) * 1024;
    const deliveries: Delivery[] = [];
    const parts: string[] = [];
    let bytes = 2;
    while (deliveries.length < maxEvents && subscriber.due.length > 0) {
      const part = JSON.stringify(subscriber.due[0]!.event);
      const size = Buffer.byteLength(part) + (parts.length > 0 ? 1 : 0);
      // An event larger than the preferred size goes alone.
      if (parts.length > 0 && bytes + size > maxBytes) break;
      deliveries.push(subscriber.due.shift()!);
      parts.push(part);
      bytes += size;
    }
    return { deliveries, body: `[${parts.join(',')}]` };
  }

  private async postBatch(
    subscriber: Subscriber,
    batch: { deliveries: Delivery[]; body: string },
  ): Promise<void> {
    let status: number | undefined;
    let outcome: string;
    const sentAt = performance.now();
    try {
      status = await this.post(
        subscriber.sub.endpointUrl,
        subscriber.sub.name,
        batch.body,
        Math.max(...batch.deliveries.map((d) => d.attempts - 1)),
      );
      outcome = status >= 200 && status < 300 ? 'Success' : `HttpStatus${status}`;
    } catch (err) {
      if (this.abort.signal.aborted) return;
      outcome = err instanceof Error && err.name === 'TimeoutError' ? 'TimedOut' : 'NetworkError';
    }
    this.options.onAttempt?.({
      subscription: subscriber.sub.name,
      eventIds: batch.deliveries.map((d) => d.event.id),
      sentAt,
      answeredAt: performance.now(),
      ...(status === undefined ? {} : { status }),
    });
    // All or none: the webhook's answer is every event's outcome, and a retry takes them together.
    // A failed batch is retried as it went: the events due again at one time fall due together.
    const answeredAt = this.options.clock.now();
    const retries = new Map<number, Delivery[]>();
    for (const delivery of batch.deliveries) {
      delivery.lastOutcome = outcome;
      if (status !== undefined) delivery.lastStatus = status;
      const retryAt = this.settle(subscriber, delivery, status, answeredAt);
      if (retryAt !== undefined) retries.set(retryAt, [...(retries.get(retryAt) ?? []), delivery]);
    }
    for (const [at, deliveries] of retries) this.schedule(subscriber, deliveries, at);
  }

  /** After an attempt: a duplicate to follow, a dead letter, or the time of a retry (returned). */
  private settle(
    subscriber: Subscriber,
    delivery: Delivery,
    status: number | undefined,
    now = this.options.clock.now(),
  ): number | undefined {
    if (status !== undefined && status >= 200 && status < 300) {
      this.counters.delivered += 1;
      if (delivery.isDuplicate) this.counters.duplicatesSent += 1;
      if (!delivery.isDuplicate && delivery.duplicateAfterMs !== undefined) {
        // The repeat carries the same delivery count as the attempt it repeats.
        const copy: Delivery = {
          ...delivery,
          attempts: delivery.attempts - 1,
          loseFirstAttempt: false,
          isDuplicate: true,
        };
        this.schedule(subscriber, copy, now + delivery.duplicateAfterMs);
      }
      return undefined;
    }
    this.counters.failedAttempts += 1;
    // A duplicate is Event Grid's own repeat: when it fails, the original has already been delivered.
    if (delivery.isDuplicate) return undefined;
    if (status !== undefined && NOT_RETRIED.has(status)) {
      this.deadLetter(subscriber, delivery, 'NonRetriableDeliveryFailure');
      return undefined;
    }
    if (delivery.attempts >= MAX_DELIVERY_ATTEMPTS) {
      this.deadLetter(subscriber, delivery, 'MaxDeliveryAttemptsExceeded');
      return undefined;
    }
    const next = now + retryDelayMs(delivery.attempts);
    if (next - delivery.publishedAt > EVENT_TIME_TO_LIVE_MS) {
      this.deadLetter(subscriber, delivery, 'TimeToLiveExceeded');
      return undefined;
    }
    return next;
  }

  private deadLetter(subscriber: Subscriber, delivery: Delivery, reason: string): void {
    this.dead.push({
      subscription: subscriber.sub.name,
      event: { ...delivery.event },
      deadLetterReason: reason,
      deliveryAttempts: delivery.attempts,
      lastDeliveryOutcome: delivery.lastOutcome ?? 'None',
      ...(delivery.lastStatus !== undefined ? { lastHttpStatusCode: delivery.lastStatus } : {}),
      deadLetteredAt: this.options.clock.now(),
    });
    this.counters.deadLettered += 1;
  }

  /**
   * The handshake Event Grid does when a webhook subscription is created: the endpoint must echo
   * the validation code. Retried on the delivery schedule, since a local webhook may start later.
   */
  private async validate(subscriber: Subscriber): Promise<void> {
    const { clock, random, systemTopic } = this.options;
    const code = seededUuid(random, 'eventgrid.validationCode').toUpperCase();
    const event: EventGridEvent = {
      id: seededUuid(random, 'eventgrid.validationId'),
      topic: subscriber.sub.topic ?? systemTopic,
      subject: '',
      eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
      eventTime: new Date(clock.now()).toISOString(),
      data: { validationCode: code },
      dataVersion: '2',
      metadataVersion: '1',
    };
    const startedAt = clock.now();
    for (let attempt = 1; attempt <= MAX_DELIVERY_ATTEMPTS; attempt++) {
      if (this.abort.signal.aborted) return;
      try {
        const answer = await this.postForJson(subscriber.sub.endpointUrl, subscriber.sub.name, [event]);
        if (answer.ok && answer.validationResponse === code) {
          subscriber.state = 'active';
          for (const { delivery, delayMs } of subscriber.waiting.splice(0)) {
            this.schedule(subscriber, delivery, clock.now() + delayMs);
          }
          return;
        }
      } catch {
        if (this.abort.signal.aborted) return;
      }
      const next = clock.now() + retryDelayMs(attempt);
      if (next - startedAt > EVENT_TIME_TO_LIVE_MS) break;
      await clock.sleepUntil(next, this.abort.signal);
    }
    subscriber.state = 'failed';
    for (const { delivery } of subscriber.waiting.splice(0)) {
      this.deadLetter(
        subscriber,
        { ...delivery, lastOutcome: 'SubscriptionValidationFailed' },
        'NonRetriableDeliveryFailure',
      );
    }
  }

  private headers(eventType: string, subscription: string, deliveryCount: number): Record<string, string> {
    return {
      'content-type': 'application/json; charset=utf-8',
      'aeg-event-type': eventType,
      'aeg-subscription-name': subscription.toUpperCase(),
      'aeg-delivery-count': String(deliveryCount),
      'aeg-metadata-version': '1',
      'aeg-data-version': '1',
    };
  }

  /**
   * POSTs `body` and reads the answer whole. An answer later than the request timeout fails the
   * attempt with a TimeoutError. node:http rather than fetch: per POST, fetch's streams and signals
   * cost the simulator more CPU than the host's answer, on a machine the host shares.
   */
  private send(
    url: string,
    headers: Record<string, string>,
    body: string,
  ): Promise<{ status: number; text: string }> {
    const target = new URL(url);
    const timeoutMs = this.options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const fail = (error: Error) => {
        clearTimeout(timer);
        reject(error);
      };
      const secure = target.protocol === 'https:';
      const request = (secure ? httpsRequest : httpRequest)(
        target,
        {
          method: 'POST',
          agent: secure ? this.agents.https : this.agents.http,
          headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
          signal: this.abort.signal,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', fail);
          response.on('end', () => {
            clearTimeout(timer);
            resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
          });
        },
      );
      const timer = setTimeout(() => {
        request.destroy(
          Object.assign(new Error(`no answer from the webhook in ${timeoutMs} ms`), { name: 'TimeoutError' }),
        );
      }, timeoutMs);
      request.on('error', fail);
      request.end(body);
    });
  }

  private async post(
    url: string,
    subscription: string,
    body: string,
    deliveryCount: number,
  ): Promise<number> {
    return (await this.send(url, this.headers('Notification', subscription, deliveryCount), body)).status;
  }

  private async postForJson(
    url: string,
    subscription: string,
    events: EventGridEvent[],
  ): Promise<{ ok: boolean; validationResponse?: unknown }> {
    const response = await this.send(
      url,
      this.headers('SubscriptionValidation', subscription, 0),
      JSON.stringify(events),
    );
    if (response.status < 200 || response.status >= 300) return { ok: false };
    try {
      const body = JSON.parse(response.text) as { validationResponse?: unknown };
      return { ok: true, validationResponse: body.validationResponse };
    } catch {
      return { ok: false };
    }
  }
}

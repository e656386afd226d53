/** Event Grid's wire shapes: the Event Grid schema it delivers, and what custom topics accept. */
import type { SystemEvent } from '../framework/types';

/** An event as Event Grid delivers it to a webhook (Event Grid schema). */
export interface EventGridEvent {
  id: string;
  topic: string;
  subject: string;
  eventType: string;
  /** ISO 8601 instant. */
  eventTime: string;
  data: unknown;
  dataVersion: string;
  metadataVersion: '1';
}

export function fromSystemEvent(event: SystemEvent & { id: string }): EventGridEvent {
  return {
    id: event.id,
    topic: event.topic,
    subject: event.subject,
    eventType: event.eventType,
    eventTime: new Date(event.eventTime).toISOString(),
    data: event.data,
    dataVersion: event.dataVersion ?? '1',
    metadataVersion: '1',
  };
}

export type Parsed<T> = { ok: true; events: T[] } | { ok: false; message: string };

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function nonEmpty(event: Record<string, unknown>, key: string): string | undefined {
  const value = event[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Events posted in the Event Grid schema: `id`, `subject`, `eventType`, `eventTime`, `dataVersion`
 * are required, as the service checks them; Event Grid sets `topic` and `metadataVersion` itself.
 */
export function parseEventGridBatch(body: unknown, topicId: string): Parsed<EventGridEvent> {
  if (!Array.isArray(body)) return { ok: false, message: 'The request body must be a JSON array of events.' };
  const events: EventGridEvent[] = [];
  for (const [i, raw] of body.entries()) {
    if (!isObject(raw)) return { ok: false, message: `Event ${i} is not a JSON object.` };
    const missing = ['id', 'subject', 'eventType', 'eventTime', 'dataVersion'].filter((k) =>
      k === 'dataVersion' ? typeof raw[k] !== 'string' : nonEmpty(raw, k) === undefined,
    );
    if (missing.length > 0) {
      return { ok: false, message: `Event ${i} is missing required properties: ${missing.join(', ')}.` };
    }
    const time = Date.parse(String(raw['eventTime']));
    if (!Number.isFinite(time)) return { ok: false, message: `Event ${i} has an invalid eventTime.` };
    events.push({
      id: String(raw['id']),
      topic: topicId,
      subject: String(raw['subject']),
      eventType: String(raw['eventType']),
      eventTime: new Date(time).toISOString(),
      data: raw['data'] ?? null,
      dataVersion: String(raw['dataVersion']),
      metadataVersion: '1',
    });
  }
  return { ok: true, events };
}

/**
 * Events posted as CloudEvents 1.0 (`application/cloudevents-batch+json`), delivered to Event Grid
 * schema subscribers with `type` as eventType and `source`'s subject, as Event Grid maps them.
 */
/** `now` (virtual ms) stands in for a missing `time`. */
export function parseCloudEventBatch(body: unknown, topicId: string, now: number): Parsed<EventGridEvent> {
  if (!Array.isArray(body))
    return { ok: false, message: 'The request body must be a JSON array of CloudEvents.' };
  const events: EventGridEvent[] = [];
  for (const [i, raw] of body.entries()) {
    if (!isObject(raw)) return { ok: false, message: `CloudEvent ${i} is not a JSON object.` };
    const missing = ['id', 'source', 'type', 'specversion'].filter((k) => nonEmpty(raw, k) === undefined);
    if (missing.length > 0) {
      return { ok: false, message: `CloudEvent ${i} is missing required attributes: ${missing.join(', ')}.` };
    }
    if (raw['specversion'] !== '1.0')
      return { ok: false, message: `CloudEvent ${i} has specversion other than 1.0.` };
    const time = raw['time'] === undefined ? Number.NaN : Date.parse(String(raw['time']));
    events.push({
      id: String(raw['id']),
      topic: topicId,
      subject: nonEmpty(raw, 'subject') ?? String(raw['source']),
      eventType: String(raw['type']),
      eventTime: new Date(Number.isFinite(time) ? time : now).toISOString(),
      data: raw['data'] ?? raw['data_base64'] ?? null,
      dataVersion: '',
      metadataVersion: '1',
    });
  }
  return { ok: true, events };
}

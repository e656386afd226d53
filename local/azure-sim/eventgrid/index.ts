/**
 * The simulator's Event Grid: the sink the framework publishes system events to, custom topics
 * that `EventGridPublisherClient` publishes to with a key, and delivery to webhook subscriptions.
 */
import { timingSafeEqual } from 'node:crypto';
import { seededUuid } from '../framework/ids';
import type {
  ArmResult,
  DeadLetterRecord,
  EventSink,
  EventSinkFactory,
  EventSubscription,
  SimContext,
  SystemEvent,
  TopicRequest,
} from '../framework/types';
import { type DeliveryAttempt, EventGridDelivery } from './delivery';
import { type EventGridEvent, fromSystemEvent, parseCloudEventBatch, parseEventGridBatch } from './schema';

/** Event Grid refuses publish requests larger than 1 MB. */
const MAX_PUBLISH_BYTES = 1024 * 1024;
const TOPIC_PATH = /^\/eventGrid\/topics\/([^/]+)\/api\/events\/?$/i;

export interface CustomTopic {
  name: string;
  /** Access key expected in `aeg-sas-key`. */
  key: string;
  /** Resource group named in the topic's ARM id (events' `topic`); default the Migrate project's. */
  resourceGroup?: string;
}

export interface EventGridSinkOptions {
  topics?: CustomTopic[];
  /** Real ms to wait for a webhook's answer. */
  requestTimeoutMs?: number;
  /** Told of every POST of events to a webhook once it is answered or has failed. */
  onAttempt?: (attempt: DeliveryAttempt) => void;
}

export interface EventGridSink extends EventSink {
  deadLetters(): DeadLetterRecord[];
}

/** The path `EventGridPublisherClient` is pointed at: `{simulator base URL}{topicPath(name)}`. */
export const topicPath = (name: string) => `/eventGrid/topics/${encodeURIComponent(name)}/api/events`;

function error(status: number, code: string, message: string): ArmResult {
  return { status, body: { error: { code, message } } };
}

function keyMatches(given: string | undefined, expected: string): boolean {
  const a = Buffer.from(given ?? '');
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function createEventGridSink(
  sim: SimContext,
  subscriptions: EventSubscription[],
  options: EventGridSinkOptions = {},
): EventGridSink {
  const systemTopic = `/subscriptions/${sim.subscriptionId}`;
  const delivery = new EventGridDelivery({
    clock: sim.clock,
    random: (stream) => sim.random(stream),
    faults: sim.faults.eventGrid,
    systemTopic,
    ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
    ...(options.onAttempt ? { onAttempt: options.onAttempt } : {}),
  });
  for (const subscription of subscriptions) delivery.addSubscription(subscription);
  const topics = new Map((options.topics ?? []).map((t) => [t.name.toLowerCase(), t]));
  const topicId = (topic: CustomTopic) =>
    `/subscriptions/${sim.subscriptionId}/resourceGroups/${topic.resourceGroup ?? sim.estate.migrateProject.resourceGroup}/providers/Microsoft.EventGrid/topics/${topic.name}`;

  function publishToTopic(req: TopicRequest, name: string): ArmResult {
    const topic = topics.get(name.toLowerCase());
    if (!topic) return error(404, 'NotFound', `The topic '${name}' does not exist.`);
    if (req.method.toUpperCase() !== 'POST') return error(405, 'MethodNotAllowed', 'Only POST is supported.');
    if (!keyMatches(req.headers['aeg-sas-key'], topic.key)) {
      // Never echo the key that was sent.
      return error(
        401,
        'Unauthorized',
        `The request authorization key is not authorized for topic '${topic.name}'.`,
      );
    }
    if (!req.query.get('api-version'))
      return error(400, 'BadRequest', 'The api-version query parameter is required.');
    if (Buffer.byteLength(req.rawBody) > MAX_PUBLISH_BYTES) {
      return error(
        413,
        'RequestEntityTooLarge',
        `The maximum size of a publish request is ${MAX_PUBLISH_BYTES} bytes.`,
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(req.rawBody);
    } catch {
      return error(400, 'BadRequest', 'The request body is not valid JSON.');
    }
    const cloudEvents = (req.headers['content-type'] ?? '').toLowerCase().includes('cloudevents');
    const parsed = cloudEvents
      ? parseCloudEventBatch(body, topicId(topic), sim.clock.now())
      : parseEventGridBatch(body, topicId(topic));
    if (!parsed.ok) return error(400, 'BadRequest', parsed.message);
    delivery.publish(parsed.events, topic.name);
    return { status: 200 };
  }

  return {
    publish(events: SystemEvent[]) {
      const wire: EventGridEvent[] = events.map((e) =>
        fromSystemEvent({ ...e, id: e.id ?? seededUuid((stream) => sim.random(stream), 'eventgrid.ids') }),
      );
      delivery.publish(wire);
    },
    addSubscription: (subscription) => delivery.addSubscription(subscription),
    stop: () => delivery.stop(),
    handleTopicRequest(req: TopicRequest) {
      const match = TOPIC_PATH.exec(req.path);
      if (!match) return undefined;
      return Promise.resolve(publishToTopic(req, decodeURIComponent(match[1]!)));
    },
    deadLetters: () => delivery.deadLetters(),
  };
}

/** The factory the simulator takes (`eventSink` option), with the custom topics it should serve. */
export function eventGridSinkFactory(options: EventGridSinkOptions = {}): EventSinkFactory {
  return (sim, subscriptions) => createEventGridSink(sim, subscriptions, options);
}

/**
 * Stage changes published to the custom Event Grid topic (`@azure/eventgrid`), Event Grid schema,
 * so other systems (CMDB, ticketing, chat) can follow the migration. Authenticates with the topic's
 * key when one is configured, else with the app's identity (EventGrid Data Sender).
 */
import { AzureKeyCredential, type TokenCredential } from '@azure/core-auth';
import { EventGridPublisherClient, type SendEventGridEventInput } from '@azure/eventgrid';
import type { FactoryConfig, Secret } from '../config';
import { callArm } from './arm';
import { SharedBatches } from './batching';
import type { FactoryEvent, LifecyclePublisher, StageChangeEvent } from './types';

export const STAGE_CHANGED = 'Factory.Machine.StageChanged';
/** Event Grid accepts at most 1 MB per publish; stage events are small, so batches of 100 stay far below. */
const PUBLISH_BATCH = 100;
/**
 * Publishes in flight at once from this process: events that activities hand in meanwhile share the
 * next publish, so a busy app makes a few large publishes rather than one per stage change.
 */
const PUBLISHES_IN_FLIGHT = 2;

export function toEventGridEvent(event: StageChangeEvent): SendEventGridEventInput<StageChangeEvent> {
  return {
    id: event.id,
    eventType: STAGE_CHANGED,
    subject: `/waves/${encodeURIComponent(event.waveId)}/machines/${encodeURIComponent(event.machineName)}`,
    dataVersion: '1.0',
    eventTime: new Date(event.at),
    data: event,
  };
}

export class EventGridLifecyclePublisher implements LifecyclePublisher {
  readonly #client: EventGridPublisherClient<'EventGrid'>;
  readonly #batches = new SharedBatches<SendEventGridEventInput<unknown>>((events) => this.#sendAll(events), {
    maxItems: PUBLISH_BATCH,
    maxInFlight: PUBLISHES_IN_FLIGHT,
  });

  constructor(
    topic: { endpoint: string; key?: Secret },
    credential: TokenCredential,
    retryOptions: FactoryConfig['limits']['armRetry'],
  ) {
    this.#client = new EventGridPublisherClient(
      topic.endpoint,
      'EventGrid',
      topic.key === undefined ? credential : new AzureKeyCredential(topic.key.reveal()),
      { retryOptions },
    );
  }

  async publish(events: StageChangeEvent[]): Promise<void> {
    await this.#batches.add(events.map(toEventGridEvent));
  }

  async send(events: FactoryEvent[]): Promise<void> {
    await this.#batches.add(
      events.map((event) => ({
        id: event.id,
        eventType: event.eventType,
        subject: event.subject,
        dataVersion: '1.0',
        eventTime: new Date(event.at),
        data: event.data,
      })),
    );
  }

  async #sendAll(events: SendEventGridEventInput<unknown>[]): Promise<void> {
    for (let i = 0; i < events.length; i += PUBLISH_BATCH) {
      const batch = events.slice(i, i + PUBLISH_BATCH);
      await callArm('Publish lifecycle events', () => this.#client.send(batch));
    }
  }
}

/** With no topic configured, stage changes are only journaled. */
export class UnpublishedLifecycle implements LifecyclePublisher {
  async publish(): Promise<void> {}
  async send(): Promise<void> {}
}

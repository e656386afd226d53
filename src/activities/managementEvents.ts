/**
 * Lifecycle events of managed VMs and waves, published to the same custom topic as stage changes
 * (`LIFECYCLE_TOPIC_ENDPOINT`, Event Grid schema; docs/events.md lists the types and data).
 * Publishing is best-effort and never blocks the work it reports: the journal has the fact.
 */
import { AzureKeyCredential, type TokenCredential } from '@azure/core-auth';
import { EventGridPublisherClient } from '@azure/eventgrid';
import type { FactoryConfig } from '../config';

export const FACTORY_EVENT = {
  vmOnboarded: 'Factory.Vm.Onboarded',
  vmOnboardingSkipped: 'Factory.Vm.OnboardingSkipped',
  vmOnboardingFailed: 'Factory.Vm.OnboardingFailed',
  vmRemediated: 'Factory.Vm.Remediated',
  vmRemediationFailed: 'Factory.Vm.RemediationFailed',
  vmRemediationEscalated: 'Factory.Vm.RemediationEscalated',
  vmUnmanaged: 'Factory.Vm.Unmanaged',
  vmManaged: 'Factory.Vm.Managed',
  waveStarted: 'Factory.Wave.Started',
  waveFinished: 'Factory.Wave.Finished',
} as const;

export type FactoryEventType = (typeof FACTORY_EVENT)[keyof typeof FACTORY_EVENT];

export interface FactoryEventInput {
  /** Unique per fact, so subscribers drop duplicates (delivery is at least once). */
  id: string;
  eventType: FactoryEventType;
  /** e.g. the VM's ARM id, or `/waves/{waveId}`. */
  subject: string;
  /** ISO instant of the fact. */
  at: string;
  data: Record<string, unknown>;
}

export interface FactoryEventPublisher {
  publish(events: FactoryEventInput[]): Promise<void>;
}

export function createFactoryEventPublisher(
  config: FactoryConfig,
  credential: TokenCredential,
): FactoryEventPublisher {
  const topic = config.lifecycleTopic;
  if (topic === undefined) return { publish: async () => {} };
  const client = new EventGridPublisherClient(
    topic.endpoint,
    'EventGrid',
    topic.key === undefined ? credential : new AzureKeyCredential(topic.key.reveal()),
    { retryOptions: config.limits.armRetry },
  );
  return {
    publish: async (events) => {
      if (events.length === 0) return;
      await client.send(
        events.map((event) => ({
          id: event.id,
          eventType: event.eventType,
          subject: event.subject,
          dataVersion: '1.0',
          eventTime: new Date(event.at),
          data: event.data,
        })),
      );
    },
  };
}

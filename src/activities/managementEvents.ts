/**
 * Types of the lifecycle events of managed VMs and waves, published to the same custom topic as stage changes
 * (`LIFECYCLE_TOPIC_ENDPOINT`, Event Grid schema; docs/events.md lists the types and data).
 * Publishing is best-effort and never blocks the work it reports: the journal has the fact.
 */
import type { FactoryEvent } from '../azure/types';

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

export interface FactoryEventInput extends FactoryEvent {
  eventType: FactoryEventType;
}

/** Where management publishes: the lifecycle gateway's `send` (src/azure/lifecycle.ts). */
export interface FactoryEventPublisher {
  publish(events: FactoryEventInput[]): Promise<void>;
}

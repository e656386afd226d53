/**
 * What the Event Grid handlers and the management API share, built once per process on top of the
 * app's services (settings, gateways, journal): the management store, the management operations
 * and their activities, and the settings the onboarding and drift orchestrations run with.
 */
import {
  createManagementActivities,
  type ManagementActivities,
  VmManagement,
} from '../activities/management';
import { createCredential } from '../config';
import type { OnboardingSettings } from '../orchestrations/onboarding';
import type { RemediationSettings } from '../orchestrations/remediation';
import { createManagementStore, type ManagementStore } from '../store/management';
import { type Services, services } from './http/services';

const MINUTE_MS = 60_000;

export interface ManagementServices extends Services {
  store: ManagementStore;
  management: VmManagement;
  managementActivities: ManagementActivities;
  onboarding: OnboardingSettings;
  remediation: RemediationSettings;
}

/**
 * Pacing in virtual time. Automanage configures a VM in about 30 min: the first read 2 min after
 * the assignment, then 4, 8, 16 min apart (at 2, 6, 14 and 30 min), at most 15 min apart; a
 * running VM gets 6 h, a VM that is off is waited for up to 7 days.
 */
const RETRY = { attempts: 6, minDelayMs: 30_000, maxDelayMs: 15 * MINUTE_MS };
const ONBOARDING_TIMING = {
  pollMinMs: 2 * MINUTE_MS,
  pollMaxMs: 15 * MINUTE_MS,
  timeoutMs: 6 * 60 * MINUTE_MS,
  pendingTimeoutMs: 7 * 24 * 60 * MINUTE_MS,
};

let building: Promise<ManagementServices> | undefined;

async function build(): Promise<ManagementServices> {
  const base = await services();
  const { config } = base;
  const credential = createCredential(config);
  const store = await createManagementStore(config.journal, credential);
  const management = new VmManagement({
    azure: base.azure,
    journal: base.journal,
    store,
    publisher: { publish: (events) => base.azure.lifecycle.send(events) },
    settings: config.management,
    managedResourceGroups: config.managedResourceGroups,
    warn: (message) => console.warn(message),
  });
  return {
    ...base,
    store,
    management,
    managementActivities: createManagementActivities(management),
    onboarding: { ...ONBOARDING_TIMING, retry: { ...RETRY } },
    remediation: {
      quietPeriodMs: config.management.driftQuietPeriodMs,
      escalateAfter: config.management.driftEscalateAfter,
      pollMinMs: ONBOARDING_TIMING.pollMinMs,
      pollMaxMs: ONBOARDING_TIMING.pollMaxMs,
      timeoutMs: 2 * 60 * MINUTE_MS,
      retry: { ...RETRY },
    },
  };
}

export function managementServices(): Promise<ManagementServices> {
  if (building === undefined) {
    building = build();
    building.catch(() => {
      building = undefined;
    });
  }
  return building;
}

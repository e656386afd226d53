/**
 * The product's Event Grid subscriptions (infra/main.bicep: `vm-written`, `migration-item-changed`,
 * `vm-policy-state`), built from the same infra/eventSubscriptions.json, for the simulator: a
 * rehearsal and the events bench receive exactly the events, in the batches, Azure would send.
 */
import settings from '../infra/eventSubscriptions.json';
import type { EventSubscription } from './azure-sim/framework/types';

export interface SubscriptionScope {
  subscriptionId: string;
  /** Resource groups whose VMs the app manages (`MANAGED_RESOURCE_GROUPS`). */
  managedResourceGroups: string[];
  /** ARM id of the Recovery Services vault of the migration project. */
  vaultId: string;
  /** The webhook, with its system key. */
  endpointUrl: string;
  /** The app's client id: migration-item events its own calls caused are not delivered. */
  ownClientId: string;
  /** Overrides the product's batch size (the events bench compares sizes). */
  maxEventsPerBatch?: number;
}

export function productSubscriptions(scope: SubscriptionScope): EventSubscription[] {
  const delivery = {
    endpointUrl: scope.endpointUrl,
    maxEventsPerBatch: scope.maxEventsPerBatch ?? settings.delivery.maxEventsPerBatch,
    preferredBatchSizeInKilobytes: settings.delivery.preferredBatchSizeInKilobytes,
  };
  const vmSubjects = scope.managedResourceGroups.map(
    (group) =>
      `/subscriptions/${scope.subscriptionId}/resourceGroups/${group}/providers/Microsoft.Compute/virtualMachines/`,
  );
  return [
    {
      name: 'vm-written',
      ...delivery,
      includedEventTypes: settings.vmWritten.includedEventTypes,
      advancedFilters: [
        { operatorType: 'StringIn', key: 'data.operationName', values: settings.vmWritten.operationNames },
        { operatorType: 'StringBeginsWith', key: 'subject', values: vmSubjects },
      ],
    },
    {
      name: 'migration-item-changed',
      ...delivery,
      includedEventTypes: settings.migrationItemChanged.includedEventTypes,
      advancedFilters: [
        {
          operatorType: 'StringBeginsWith',
          key: 'data.operationName',
          values: [settings.migrationItemChanged.operationNamePrefix],
        },
        { operatorType: 'StringBeginsWith', key: 'subject', values: [`${scope.vaultId}/`] },
        { operatorType: 'StringNotIn', key: 'data.claims.appid', values: [scope.ownClientId] },
      ],
    },
    {
      name: 'vm-policy-state',
      ...delivery,
      includedEventTypes: settings.policyState.includedEventTypes,
      advancedFilters: [{ operatorType: 'StringBeginsWith', key: 'subject', values: vmSubjects }],
    },
  ];
}

/**
 * The product's Event Grid subscriptions as rehearsals make them (local/subscriptions.ts, from
 * infra/eventSubscriptions.json), judged by the simulator's own filter: each event reaches the app
 * through the one subscription meant for it, or not at all.
 */
import { describe, expect, it } from 'vitest';
import { matches } from '../../local/azure-sim/eventgrid/delivery';
import type { EventGridEvent } from '../../local/azure-sim/eventgrid/schema';
import { productSubscriptions } from '../../local/subscriptions';

const SUB = '00000000-0000-4000-8000-000000000001';
const GROUP = `/subscriptions/${SUB}/resourceGroups`;
const VAULT = `${GROUP}/rg-migrate/providers/Microsoft.RecoveryServices/vaults/vault1`;
const subscriptions = productSubscriptions({
  subscriptionId: SUB,
  managedResourceGroups: ['rg-prod'],
  vaultId: VAULT,
  endpointUrl: 'https://app.example/runtime/webhooks/eventgrid?functionName=systemEvents',
  ownClientId: 'factory-app',
});

function event(eventType: string, subject: string, operationName?: string, appid?: string): EventGridEvent {
  return {
    id: 'e1',
    topic: `/subscriptions/${SUB}`,
    subject,
    eventType,
    eventTime: '2026-01-01T00:00:00Z',
    data: {
      ...(operationName === undefined ? {} : { operationName }),
      ...(appid === undefined ? {} : { claims: { appid } }),
    },
    dataVersion: '2',
    metadataVersion: '1',
  };
}

const receivers = (e: EventGridEvent) =>
  subscriptions.filter((s) => matches(s, e, undefined)).map((s) => s.name);

describe('the product subscriptions', () => {
  it('deliver in batches of the product size', () => {
    expect(subscriptions.map((s) => s.maxEventsPerBatch)).toEqual([3, 3, 3]);
  });

  it('pass each event the app handles to one subscription and nothing else', () => {
    const vm = `${GROUP}/rg-prod/providers/Microsoft.Compute/virtualMachines/web-01`;
    const write = 'Microsoft.Resources.ResourceWriteSuccess';
    expect(receivers(event(write, vm, 'Microsoft.Compute/virtualMachines/write'))).toEqual(['vm-written']);
    expect(
      receivers(
        event(
          write,
          `${GROUP}/rg-other/providers/Microsoft.Compute/virtualMachines/x`,
          'Microsoft.Compute/virtualMachines/write',
        ),
      ),
    ).toEqual([]);
    const item = `${VAULT}/replicationFabrics/f/replicationProtectionContainers/c/replicationMigrationItems/web-01`;
    const testMigrate = (appid: string) =>
      event(
        'Microsoft.Resources.ResourceActionSuccess',
        `${item}/testMigrate`,
        'Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/replicationMigrationItems/testMigrate/action',
        appid,
      );
    expect(receivers(testMigrate('portal-operator'))).toEqual(['migration-item-changed']);
    // The same action taken by the factory itself: its pipeline waits for the outcome already.
    expect(receivers(testMigrate('FACTORY-APP'))).toEqual([]);
    expect(
      receivers(
        event(
          write,
          `${vm}/providers/Microsoft.Automanage/configurationProfileAssignments/default`,
          'Microsoft.Automanage/configurationProfileAssignments/write',
        ),
      ),
    ).toEqual([]);
    expect(receivers(event('Microsoft.PolicyInsights.PolicyStateChanged', vm))).toEqual(['vm-policy-state']);
  });
});

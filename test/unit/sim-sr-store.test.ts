/** The Site Recovery simulator's item store: what its indexes find as items come, change and go. */
import { describe, expect, it } from 'vitest';
import type { MigrationItemRecord } from '../../local/azure-sim/providers/siterecovery/state';
import { SiteRecoveryStore } from '../../local/azure-sim/providers/siterecovery/store';

const RG = '/subscriptions/s/resourceGroups/rg-target';

/** The fields the indexes read; the rest of a record does not matter to them. */
function item(name: string, appliance: string, targetVmName: string): MigrationItemRecord {
  return {
    id: `/vault/items/${name}`,
    name,
    appliance,
    settings: { vmwareMachineId: `/sites/s/machines/${name}`, targetResourceGroupId: RG, targetVmName },
  } as unknown as MigrationItemRecord;
}

const names = (records: MigrationItemRecord[]) => records.map((r) => r.name).sort();

describe('SiteRecoveryStore indexes', () => {
  it('find items by appliance, machine and target, following changes and removals', () => {
    const store = new SiteRecoveryStore('/vault');
    store.putItem(item('web-01', 'app-1', 'web-01'));
    store.putItem(item('web-02', 'app-1', 'web-02'));
    store.putItem(item('db-01', 'app-2', 'db-01'));
    expect(names(store.itemsOfAppliance('app-1'))).toEqual(['web-01', 'web-02']);
    expect(names(store.itemsOfMachine('/SITES/S/MACHINES/WEB-02'))).toEqual(['web-02']);
    expect(names(store.itemsTargeting(RG.toUpperCase(), 'DB-01'))).toEqual(['db-01']);

    // A PATCH renames the target VM: the old name is free, the new one taken.
    store.putItem(item('web-02', 'app-1', 'web-02-new'));
    expect(store.itemsTargeting(RG, 'web-02')).toEqual([]);
    expect(names(store.itemsTargeting(RG, 'web-02-new'))).toEqual(['web-02']);
    expect(names(store.itemsOfAppliance('app-1'))).toEqual(['web-01', 'web-02']);

    store.removeItem('/VAULT/ITEMS/WEB-01');
    expect(names(store.itemsOfAppliance('app-1'))).toEqual(['web-02']);
    expect(store.itemsOfMachine('/sites/s/machines/web-01')).toEqual([]);
    expect(store.itemsTargeting(RG, 'web-01')).toEqual([]);
    expect(names(store.allItems())).toEqual(['db-01', 'web-02']);
  });
});

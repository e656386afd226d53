/**
 * `Microsoft.Resources`: the subscription and its resource groups. Seeded from the estate's landing
 * zone, plus the groups that hold its networks and the Migrate project (Azure cannot have those
 * resources without their group).
 */
import { ArmError } from '../../framework/errors';
import { isStringRecord } from '../../framework/json';
import type {
  ResourceGroupApi,
  ResourceGroupRecord,
  ResourceProvider,
  SimContext,
} from '../../framework/types';
import { InMemoryResourceGroupStore } from './store';

const GROUP = '/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}';

export function createResourcesProvider(sim: SimContext): {
  provider: ResourceProvider;
  api: ResourceGroupApi;
} {
  const store = new InMemoryResourceGroupStore();
  const { estate } = sim;
  const idOf = (name: string) => `/subscriptions/${estate.subscriptionId}/resourceGroups/${name}`;
  const seed = (name: string, location: string) => {
    if (!store.get(name)) store.put({ id: idOf(name), name, location, tags: {} });
  };
  for (const group of estate.resourceGroups) seed(group.name, group.location);
  for (const vnet of estate.virtualNetworks) seed(vnet.resourceGroup, estate.location);
  seed(estate.migrateProject.resourceGroup, estate.location);

  const toArm = (group: ResourceGroupRecord) => ({
    id: group.id,
    name: group.name,
    type: 'Microsoft.Resources/resourceGroups',
    location: group.location,
    tags: group.tags,
    properties: { provisioningState: 'Succeeded' },
  });
  const must = (name: string) => {
    const group = store.get(name);
    if (!group) throw ArmError.resourceGroupNotFound(name);
    return group;
  };
  const provider: ResourceProvider = {
    namespace: 'Microsoft.Resources',
    routes: [
      {
        method: 'GET',
        pattern: '/subscriptions/{subscriptionId}',
        kind: 'read',
        operation: 'Microsoft.Resources/subscriptions/read',
        handler: () => ({
          status: 200,
          body: {
            id: `/subscriptions/${estate.subscriptionId}`,
            subscriptionId: estate.subscriptionId,
            tenantId: sim.tenantId,
            displayName: 'Migration landing zone (simulated)',
            state: 'Enabled',
            subscriptionPolicies: {
              locationPlacementId: 'Public_2014-09-01',
              quotaId: 'PayAsYouGo_2014-09-01',
              spendingLimit: 'Off',
            },
            authorizationSource: 'RoleBased',
          },
        }),
      },
      {
        method: 'GET',
        pattern: '/subscriptions/{subscriptionId}/resourcegroups',
        kind: 'read',
        operation: 'Microsoft.Resources/subscriptions/resourceGroups/read',
        handler: () => ({ status: 200, body: { value: store.list().map(toArm) } }),
      },
      {
        method: 'GET',
        pattern: GROUP,
        kind: 'read',
        operation: 'Microsoft.Resources/subscriptions/resourceGroups/read',
        handler: (req) => ({ status: 200, body: toArm(must(req.params.resourceGroupName!)) }),
      },
      {
        method: 'PUT',
        pattern: GROUP,
        kind: 'write',
        operation: 'Microsoft.Resources/subscriptions/resourceGroups/write',
        handler: (req) => {
          const name = req.params.resourceGroupName!;
          if (!/^[-\w._()]{1,90}$/.test(name) || name.endsWith('.')) {
            throw ArmError.badRequest(
              'InvalidResourceGroup',
              `The provided resource group name '${name}' has invalid characters.`,
            );
          }
          const body = (req.body ?? {}) as { location?: unknown; tags?: unknown };
          if (typeof body.location !== 'string' || body.location === '') {
            throw ArmError.badRequest(
              'LocationRequired',
              'The location property is required for this definition.',
            );
          }
          const existing = store.get(name);
          if (existing && existing.location.toLowerCase() !== body.location.toLowerCase()) {
            throw ArmError.conflict(
              'InvalidResourceGroupLocation',
              `Invalid resource group location '${body.location}'. The Resource group already exists in location '${existing.location}'.`,
            );
          }
          const group: ResourceGroupRecord = {
            id: idOf(existing?.name ?? name),
            name: existing?.name ?? name,
            location: existing?.location ?? body.location,
            tags: isStringRecord(body.tags) ? body.tags : {},
          };
          store.put(group);
          return { status: existing ? 200 : 201, body: toArm(group) };
        },
      },
      {
        method: 'DELETE',
        pattern: GROUP,
        kind: 'delete',
        operation: 'Microsoft.Resources/subscriptions/resourceGroups/delete',
        handler: (req) => {
          const group = store.get(req.params.resourceGroupName!);
          if (!group) return { status: 204 };
          const groupId = group.id.toLowerCase();
          return sim.startOperation({
            resourceId: group.id,
            doneAt: sim.clock.now() + 60_000,
            complete: () => {
              for (const vm of sim.compute.listVms()) {
                if (vm.id.toLowerCase().startsWith(`${groupId}/`)) sim.compute.deleteVm(vm.id);
              }
              store.delete(group.name);
              return undefined;
            },
          });
        },
      },
    ],
  };
  return { provider, api: { get: (name) => store.get(name), list: () => store.list() } };
}

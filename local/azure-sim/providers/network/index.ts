/**
 * `Microsoft.Network`: virtual networks and subnets, seeded from the estate's landing zone. Writes
 * check address spaces as Azure does (subnets inside the network, not overlapping each other).
 */
import { createHash } from 'node:crypto';
import { overlaps, parseCidr } from '../../estate/schema';
import { ArmError } from '../../framework/errors';
import { dig, isStringArray, isStringRecord } from '../../framework/json';
import type { ArmRequest, ResourceProvider, SimContext } from '../../framework/types';
import { InMemoryVnetStore, type SubnetRecord, type VnetRecord } from './store';

const VNETS =
  '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Network/virtualNetworks';
const VNET = `${VNETS}/{virtualNetworkName}`;
const SUBNET = `${VNET}/subnets/{subnetName}`;
/** Virtual duration of a network write or delete, in ms. */
const WRITE_MS = 10_000;

export function createNetworkProvider(sim: SimContext): ResourceProvider {
  const store = new InMemoryVnetStore();
  const idOf = (resourceGroup: string, name: string) => {
    const group = sim.resourceGroups.get(resourceGroup);
    if (!group) throw ArmError.resourceGroupNotFound(resourceGroup);
    return `/subscriptions/${sim.subscriptionId}/resourceGroups/${group.name}/providers/Microsoft.Network/virtualNetworks/${name}`;
  };
  for (const vnet of sim.estate.virtualNetworks) {
    const id = idOf(vnet.resourceGroup, vnet.name);
    store.put({
      id,
      name: vnet.name,
      resourceGroup: sim.resourceGroups.get(vnet.resourceGroup)!.name,
      location: sim.estate.location,
      addressPrefixes: [...vnet.addressPrefixes],
      subnets: vnet.subnets.map((s) => ({ ...s })),
      tags: {},
      resourceGuid: guidOf(id),
      provisioningState: 'Succeeded',
    });
  }
  const mustGet = (req: ArmRequest) => {
    const vnet = store.get(idOf(req.params.resourceGroupName!, req.params.virtualNetworkName!));
    if (!vnet) {
      throw ArmError.notFound(
        'Microsoft.Network/virtualNetworks',
        req.params.virtualNetworkName!,
        req.params.resourceGroupName,
      );
    }
    return vnet;
  };
  const settle = (id: string) => () => {
    const vnet = store.get(id);
    if (!vnet)
      throw ArmError.conflict(
        'OperationPreempted',
        'The virtual network was deleted while the operation ran.',
      );
    vnet.provisioningState = 'Succeeded';
    return vnetToArm(vnet);
  };

  return {
    namespace: 'Microsoft.Network',
    routes: [
      {
        method: 'GET',
        pattern: VNET,
        kind: 'read',
        operation: 'Microsoft.Network/virtualNetworks/read',
        handler: (req) => ({ status: 200, body: vnetToArm(mustGet(req)) }),
      },
      {
        method: 'GET',
        pattern: VNETS,
        kind: 'read',
        operation: 'Microsoft.Network/virtualNetworks/read',
        handler: (req) => {
          const group = sim.resourceGroups.get(req.params.resourceGroupName!);
          if (!group) throw ArmError.resourceGroupNotFound(req.params.resourceGroupName!);
          const vnets = store
            .list()
            .filter((v) => v.resourceGroup.toLowerCase() === group.name.toLowerCase());
          return { status: 200, body: { value: vnets.map(vnetToArm) } };
        },
      },
      {
        method: 'GET',
        pattern: '/subscriptions/{subscriptionId}/providers/Microsoft.Network/virtualNetworks',
        kind: 'read',
        operation: 'Microsoft.Network/virtualNetworks/read',
        handler: () => ({ status: 200, body: { value: store.list().map(vnetToArm) } }),
      },
      {
        method: 'PUT',
        pattern: VNET,
        kind: 'write',
        operation: 'Microsoft.Network/virtualNetworks/write',
        handler: (req, ctx) => {
          const id = idOf(req.params.resourceGroupName!, req.params.virtualNetworkName!);
          const previous = store.get(id);
          const location = dig(req.body, 'location');
          if (typeof location !== 'string' || location === '') {
            throw ArmError.badRequest(
              'LocationRequired',
              'The location property is required for this definition.',
            );
          }
          const prefixes = dig(req.body, 'properties', 'addressSpace', 'addressPrefixes');
          if (!isStringArray(prefixes) || prefixes.length === 0) {
            throw ArmError.badRequest(
              'InvalidRequestFormat',
              'Cannot parse the request: addressSpace.addressPrefixes is required.',
            );
          }
          const rawSubnets = dig(req.body, 'properties', 'subnets') ?? [];
          if (!Array.isArray(rawSubnets)) {
            throw ArmError.badRequest(
              'InvalidRequestFormat',
              "Cannot parse the request: 'subnets' must be an array.",
            );
          }
          const subnets = rawSubnets.map((s) => parseSubnet(s, dig(s, 'name')));
          checkAddressSpace(id, prefixes, subnets);
          const tags = dig(req.body, 'tags');
          const vnet: VnetRecord = {
            id,
            name: previous?.name ?? req.params.virtualNetworkName!,
            resourceGroup: sim.resourceGroups.get(req.params.resourceGroupName!)!.name,
            location: previous?.location ?? location,
            addressPrefixes: prefixes,
            subnets,
            tags: isStringRecord(tags) ? tags : {},
            resourceGuid: guidOf(id),
            provisioningState: 'Updating',
          };
          store.put(vnet);
          return ctx.startOperation({
            resourceId: id,
            doneAt: ctx.clock.now() + WRITE_MS,
            status: previous ? 200 : 201,
            body: vnetToArm(vnet),
            complete: settle(id),
          });
        },
      },
      {
        method: 'DELETE',
        pattern: VNET,
        kind: 'delete',
        operation: 'Microsoft.Network/virtualNetworks/delete',
        handler: (req, ctx) => {
          const group = sim.resourceGroups.get(req.params.resourceGroupName!);
          const vnet = group && store.get(idOf(group.name, req.params.virtualNetworkName!));
          if (!vnet) return { status: 204 };
          const users = ctx.compute
            .listVms()
            .filter((vm) => vm.subnetId?.toLowerCase().startsWith(`${vnet.id.toLowerCase()}/`));
          if (users.length > 0) {
            throw ArmError.badRequest(
              'InUseSubnetCannotBeDeleted',
              `Subnet of virtual network ${vnet.name} is in use by ${users.map((vm) => vm.id).join(', ')} and cannot be deleted.`,
            );
          }
          vnet.provisioningState = 'Deleting';
          return ctx.startOperation({
            resourceId: vnet.id,
            doneAt: ctx.clock.now() + WRITE_MS,
            complete: () => {
              store.delete(vnet.id);
              return undefined;
            },
          });
        },
      },
      {
        method: 'GET',
        pattern: `${VNET}/subnets`,
        kind: 'read',
        operation: 'Microsoft.Network/virtualNetworks/subnets/read',
        handler: (req) => {
          const vnet = mustGet(req);
          return { status: 200, body: { value: vnet.subnets.map((s) => subnetToArm(vnet, s)) } };
        },
      },
      {
        method: 'GET',
        pattern: SUBNET,
        kind: 'read',
        operation: 'Microsoft.Network/virtualNetworks/subnets/read',
        handler: (req) => {
          const vnet = mustGet(req);
          const subnet = findSubnet(vnet, req.params.subnetName!);
          if (!subnet)
            throw ArmError.notFound(
              'Microsoft.Network/virtualNetworks/subnets',
              req.params.subnetName!,
              req.params.resourceGroupName,
            );
          return { status: 200, body: subnetToArm(vnet, subnet) };
        },
      },
      {
        method: 'PUT',
        pattern: SUBNET,
        kind: 'write',
        operation: 'Microsoft.Network/virtualNetworks/subnets/write',
        handler: (req, ctx) => {
          const vnet = mustGet(req);
          const subnet = parseSubnet(req.body, req.params.subnetName);
          const existing = findSubnet(vnet, subnet.name);
          const subnets = existing
            ? vnet.subnets.map((s) => (s === existing ? subnet : s))
            : [...vnet.subnets, subnet];
          checkAddressSpace(vnet.id, vnet.addressPrefixes, subnets);
          vnet.subnets = subnets;
          vnet.provisioningState = 'Updating';
          return ctx.startOperation({
            resourceId: `${vnet.id}/subnets/${subnet.name}`,
            doneAt: ctx.clock.now() + WRITE_MS,
            status: existing ? 200 : 201,
            body: subnetToArm(vnet, subnet),
            complete: () => {
              settle(vnet.id)();
              return subnetToArm(vnet, subnet);
            },
          });
        },
      },
      {
        method: 'DELETE',
        pattern: SUBNET,
        kind: 'delete',
        operation: 'Microsoft.Network/virtualNetworks/subnets/delete',
        handler: (req, ctx) => {
          const vnet = mustGet(req);
          const subnet = findSubnet(vnet, req.params.subnetName!);
          if (!subnet) return { status: 204 };
          const subnetId = `${vnet.id}/subnets/${subnet.name}`.toLowerCase();
          if (ctx.compute.listVms().some((vm) => vm.subnetId?.toLowerCase() === subnetId)) {
            throw ArmError.badRequest(
              'InUseSubnetCannotBeDeleted',
              `Subnet ${subnet.name} is in use and cannot be deleted.`,
            );
          }
          return ctx.startOperation({
            resourceId: `${vnet.id}/subnets/${subnet.name}`,
            doneAt: ctx.clock.now() + WRITE_MS,
            complete: () => {
              vnet.subnets = vnet.subnets.filter((s) => s !== subnet);
              return undefined;
            },
          });
        },
      },
    ],
  };
}

function findSubnet(vnet: VnetRecord, name: string): SubnetRecord | undefined {
  return vnet.subnets.find((s) => s.name.toLowerCase() === name.toLowerCase());
}

function parseSubnet(raw: unknown, name: unknown): SubnetRecord {
  const prefix = dig(raw, 'properties', 'addressPrefix');
  if (typeof name !== 'string' || name === '') {
    throw ArmError.badRequest('InvalidRequestFormat', 'Cannot parse the request: a subnet needs a name.');
  }
  if (typeof prefix !== 'string' || !parseCidr(prefix)) {
    throw ArmError.badRequest(
      'InvalidAddressPrefixFormat',
      `Address prefix ${String(prefix)} of subnet ${name} has an invalid format.`,
    );
  }
  return { name, addressPrefix: prefix };
}

function checkAddressSpace(vnetId: string, prefixes: string[], subnets: SubnetRecord[]): void {
  const spaces = prefixes.map((p) => {
    const range = parseCidr(p);
    if (!range)
      throw ArmError.badRequest('InvalidAddressPrefixFormat', `Address prefix ${p} has an invalid format.`);
    return range;
  });
  const ranges = subnets.map((s) => ({ subnet: s, range: parseCidr(s.addressPrefix)! }));
  for (const { subnet, range } of ranges) {
    if (!spaces.some((space) => range.start >= space.start && range.end <= space.end)) {
      throw ArmError.badRequest(
        'NetcfgSubnetRangeOutsideVnet',
        `Subnet '${subnet.name}' is not valid because its IP address range is outside the IP address range of virtual network '${vnetId}'.`,
      );
    }
  }
  for (let i = 0; i < ranges.length; i++) {
    for (let j = i + 1; j < ranges.length; j++) {
      if (overlaps(ranges[i]!.range, ranges[j]!.range)) {
        throw ArmError.badRequest(
          'NetcfgSubnetRangesOverlap',
          `Subnet '${ranges[j]!.subnet.name}' is not valid because its IP address range overlaps with that of an existing subnet in virtual network '${vnetId}'.`,
        );
      }
    }
  }
}

function guidOf(id: string): string {
  const h = createHash('sha1').update(id.toLowerCase()).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function etagOf(value: unknown): string {
  return `W/"${createHash('sha1').update(JSON.stringify(value)).digest('hex').slice(0, 32)}"`;
}

function subnetToArm(vnet: VnetRecord, subnet: SubnetRecord) {
  const properties = {
    provisioningState: 'Succeeded',
    addressPrefix: subnet.addressPrefix,
    delegations: [],
    privateEndpointNetworkPolicies: 'Disabled',
    privateLinkServiceNetworkPolicies: 'Enabled',
  };
  return {
    id: `${vnet.id}/subnets/${subnet.name}`,
    name: subnet.name,
    type: 'Microsoft.Network/virtualNetworks/subnets',
    etag: etagOf(properties),
    properties,
  };
}

function vnetToArm(vnet: VnetRecord) {
  const properties = {
    provisioningState: vnet.provisioningState,
    resourceGuid: vnet.resourceGuid,
    addressSpace: { addressPrefixes: vnet.addressPrefixes },
    subnets: vnet.subnets.map((s) => subnetToArm(vnet, s)),
    virtualNetworkPeerings: [],
    enableDdosProtection: false,
  };
  return {
    id: vnet.id,
    name: vnet.name,
    type: 'Microsoft.Network/virtualNetworks',
    location: vnet.location,
    tags: vnet.tags,
    etag: etagOf(properties),
    properties,
  };
}

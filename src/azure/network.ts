/** Virtual networks and subnets over @azure/arm-network, for validating targets and test networks. */

import { NetworkManagementClient, type VirtualNetwork } from '@azure/arm-network';
import type { TokenCredential } from '@azure/core-auth';
import type { FactoryConfig } from '../config';
import { type ArmClientOptions, armIdValue, callArm, collect, readArm } from './arm';
import type { NetworkGateway, SubnetRecord, VnetRecord } from './types';

export function toVnetRecord(vnet: VirtualNetwork): VnetRecord {
  const id = vnet.id ?? '';
  return {
    id,
    name: vnet.name ?? '',
    resourceGroup: armIdValue(id, 'resourceGroups') ?? '',
    location: vnet.location ?? '',
    addressPrefixes: [...(vnet.addressSpace?.addressPrefixes ?? [])],
    subnets: (vnet.subnets ?? []).map((subnet) => {
      const record: SubnetRecord = { id: subnet.id ?? '', name: subnet.name ?? '' };
      const prefix = subnet.addressPrefix ?? subnet.addressPrefixes?.[0];
      if (prefix !== undefined) record.addressPrefix = prefix;
      return record;
    }),
  };
}

export class ArmNetworkGateway implements NetworkGateway {
  readonly #client: NetworkManagementClient;

  constructor(config: FactoryConfig, credential: TokenCredential, options: ArmClientOptions) {
    this.#client = new NetworkManagementClient(credential, config.azure.subscriptionId, options);
  }

  async listVnets(): Promise<VnetRecord[]> {
    const vnets = await callArm('List virtual networks', () =>
      collect(this.#client.virtualNetworks.listAll()),
    );
    return vnets.map(toVnetRecord);
  }

  async getVnet(resourceGroup: string, name: string): Promise<VnetRecord | undefined> {
    const vnet = await readArm('Read virtual network', () =>
      this.#client.virtualNetworks.get(resourceGroup, name),
    );
    return vnet === undefined ? undefined : toVnetRecord(vnet);
  }
}

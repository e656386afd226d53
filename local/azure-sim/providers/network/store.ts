/** Virtual networks and their subnets, keyed by ARM id without regard to case. */
export interface SubnetRecord {
  name: string;
  addressPrefix: string;
}

export interface VnetRecord {
  id: string;
  name: string;
  resourceGroup: string;
  location: string;
  addressPrefixes: string[];
  subnets: SubnetRecord[];
  tags: Record<string, string>;
  resourceGuid: string;
  provisioningState: 'Updating' | 'Succeeded' | 'Deleting';
}

export interface VnetStore {
  get(id: string): VnetRecord | undefined;
  put(vnet: VnetRecord): void;
  delete(id: string): boolean;
  list(): VnetRecord[];
}

export class InMemoryVnetStore implements VnetStore {
  private readonly vnets = new Map<string, VnetRecord>();

  get(id: string) {
    return this.vnets.get(id.toLowerCase());
  }

  put(vnet: VnetRecord) {
    this.vnets.set(vnet.id.toLowerCase(), vnet);
  }

  delete(id: string) {
    return this.vnets.delete(id.toLowerCase());
  }

  list() {
    return [...this.vnets.values()].sort((a, b) => a.id.toLowerCase().localeCompare(b.id.toLowerCase()));
  }
}

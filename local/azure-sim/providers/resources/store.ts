/** Resource groups of the simulated subscription. */
import type { ResourceGroupRecord } from '../../framework/types';

export interface ResourceGroupStore {
  get(name: string): ResourceGroupRecord | undefined;
  put(group: ResourceGroupRecord): void;
  delete(name: string): boolean;
  list(): ResourceGroupRecord[];
}

export class InMemoryResourceGroupStore implements ResourceGroupStore {
  private readonly groups = new Map<string, ResourceGroupRecord>();

  get(name: string) {
    return this.groups.get(name.toLowerCase());
  }

  put(group: ResourceGroupRecord) {
    this.groups.set(group.name.toLowerCase(), group);
  }

  delete(name: string) {
    return this.groups.delete(name.toLowerCase());
  }

  list() {
    return [...this.groups.values()];
  }
}

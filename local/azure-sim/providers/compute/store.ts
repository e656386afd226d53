/** The Compute provider's VMs, keyed by ARM id without regard to case (as ARM resolves names). */
import type { VmRecord } from '../../framework/types';

export interface StoredVm extends VmRecord {
  vmId: string;
  provisioningState: 'Creating' | 'Updating' | 'Succeeded' | 'Failed' | 'Deleting';
}

export interface VmStore {
  get(id: string): StoredVm | undefined;
  put(vm: StoredVm): void;
  delete(id: string): boolean;
  list(): StoredVm[];
}

export class InMemoryVmStore implements VmStore {
  private readonly vms = new Map<string, StoredVm>();

  get(id: string) {
    return this.vms.get(id.toLowerCase());
  }

  put(vm: StoredVm) {
    this.vms.set(vm.id.toLowerCase(), vm);
  }

  delete(id: string) {
    return this.vms.delete(id.toLowerCase());
  }

  list() {
    return [...this.vms.values()];
  }
}

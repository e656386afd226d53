/** Compute over @azure/arm-compute (the modular client): VMs with their instance view, and VM sizes. */

import { ComputeManagementClient, type ResourceSku, type VirtualMachine } from '@azure/arm-compute';
import type { TokenCredential } from '@azure/core-auth';
import type { FactoryConfig } from '../config';
import { type ArmClientOptions, armIdValue, callArm, collect, readArm } from './arm';
import type { ComputeGateway, VmRecord, VmSku } from './types';

/** Maps an SDK VM (with or without instance view) to the plain record. */
export function toVmRecord(vm: VirtualMachine): VmRecord {
  const id = vm.id ?? '';
  const record: VmRecord = {
    id,
    name: vm.name ?? '',
    resourceGroup: armIdValue(id, 'resourceGroups') ?? '',
    location: vm.location,
    tags: { ...(vm.tags ?? {}) },
  };
  const statuses = vm.instanceView?.statuses ?? [];
  const power = statuses.find((s) => s.code?.startsWith('PowerState/'))?.code?.slice('PowerState/'.length);
  const agent = vm.instanceView?.vmAgent?.statuses?.[0]?.displayStatus;
  const osType = vm.storageProfile?.osDisk?.osType;
  const optional: Partial<VmRecord> = {
    vmSize: vm.hardwareProfile?.vmSize,
    provisioningState: vm.provisioningState,
    powerState: power,
    vmAgentStatus: agent,
    osType: osType === 'Windows' || osType === 'Linux' ? osType : undefined,
  };
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined) (record as unknown as Record<string, unknown>)[key] = value;
  }
  return record;
}

/** Maps a `virtualMachines` SKU; `restricted` when a Location restriction names the region. */
export function toVmSku(sku: ResourceSku, location: string): VmSku {
  const capability = (name: string) => {
    const value = sku.capabilities?.find((c) => c.name === name)?.value;
    return value === undefined ? undefined : Number(value);
  };
  const region = location.toLowerCase();
  const info = sku.locationInfo?.find((l) => l.location?.toLowerCase() === region);
  const restricted = (sku.restrictions ?? []).some(
    (r) => r.type === 'Location' && (r.values ?? []).some((v) => v.toLowerCase() === region),
  );
  const record: VmSku = { name: sku.name ?? '', zones: [...(info?.zones ?? [])], restricted };
  if (sku.family !== undefined) record.family = sku.family;
  const vCpus = capability('vCPUs');
  if (vCpus !== undefined && Number.isFinite(vCpus)) record.vCpus = vCpus;
  const memoryGB = capability('MemoryGB');
  if (memoryGB !== undefined && Number.isFinite(memoryGB)) record.memoryGB = memoryGB;
  return record;
}

export class ArmComputeGateway implements ComputeGateway {
  readonly #client: ComputeManagementClient;

  constructor(config: FactoryConfig, credential: TokenCredential, options: ArmClientOptions) {
    this.#client = new ComputeManagementClient(credential, config.azure.subscriptionId, options);
  }

  async getVm(resourceGroup: string, name: string): Promise<VmRecord | undefined> {
    const vm = await readArm('Read virtual machine', () =>
      this.#client.virtualMachines.get(resourceGroup, name, { expand: 'instanceView' }),
    );
    return vm === undefined ? undefined : toVmRecord(vm);
  }

  async listVms(resourceGroup: string): Promise<VmRecord[]> {
    const vms = await callArm('List virtual machines', () =>
      collect(this.#client.virtualMachines.list(resourceGroup)),
    );
    return vms.map(toVmRecord);
  }

  async listSkus(location: string): Promise<VmSku[]> {
    const skus = await callArm('List VM sizes', () =>
      collect(this.#client.resourceSkus.list({ filter: `location eq '${location.replaceAll("'", "''")}'` })),
    );
    return skus.filter((s) => s.resourceType === 'virtualMachines').map((s) => toVmSku(s, location));
  }
}

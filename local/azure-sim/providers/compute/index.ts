/**
 * `Microsoft.Compute`: virtual machines (with instance view and power actions) and the region's VM
 * sizes. Other providers create and delete VMs in process through the `ComputeApi` it returns
 * (Site Recovery's test migrate and migrate), which emits the same events as the ARM calls.
 */
import { randomUUID } from 'node:crypto';
import { ArmError } from '../../framework/errors';
import { resourceEvent, servicePrincipal } from '../../framework/events';
import { dig, isStringRecord } from '../../framework/json';
import { pageOf } from '../../framework/paging';
import type {
  ArmRequest,
  ComputeApi,
  ResourceProvider,
  Route,
  SimContext,
  VmRecord,
} from '../../framework/types';
import { findVmSize, skuResource, VM_SIZES } from './skus';
import { InMemoryVmStore, type StoredVm } from './store';

const VM =
  '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/virtualMachines/{vmName}';
const WRITE = 'Microsoft.Compute/virtualMachines/write';
const DELETE = 'Microsoft.Compute/virtualMachines/delete';

/** Virtual durations of VM operations, in ms (typical Azure figures). */
const DURATION_MS = { create: 90_000, update: 30_000, delete: 60_000, power: 30_000 };
/** VMs per page of a list, as ARM pages them. */
const PAGE_SIZE = 100;
/** The app id Azure shows for Site Recovery's own writes. */
const SITE_RECOVERY_APP_ID = 'b8340c3b-9267-498f-b21a-15d5547fd85e';

export function createComputeProvider(sim: SimContext): { provider: ResourceProvider; api: ComputeApi } {
  const store = new InMemoryVmStore();

  const idOf = (resourceGroup: string, name: string) => {
    const group = sim.resourceGroups.get(resourceGroup);
    if (!group) throw ArmError.resourceGroupNotFound(resourceGroup);
    return `/subscriptions/${sim.subscriptionId}/resourceGroups/${group.name}/providers/Microsoft.Compute/virtualMachines/${name}`;
  };
  const mustGet = (req: ArmRequest) => {
    const vm = store.get(idOf(req.params.resourceGroupName!, req.params.vmName!));
    if (!vm)
      throw ArmError.notFound(
        'Microsoft.Compute/virtualMachines',
        req.params.vmName!,
        req.params.resourceGroupName,
      );
    return vm;
  };

  const api: ComputeApi = {
    createVm(spec, createdBy) {
      validateName(spec.name);
      if (!findVmSize(spec.vmSize)) throw invalidSize(spec.vmSize);
      const id = idOf(spec.resourceGroup, spec.name);
      const previous = store.get(id);
      const vm: StoredVm = {
        ...spec,
        id,
        location: spec.location ?? sim.estate.location,
        powerState: spec.powerState ?? 'running',
        tags: spec.tags ?? {},
        createdAt: previous?.createdAt ?? sim.clock.now(),
        createdBy: previous?.createdBy ?? createdBy,
        vmId: previous?.vmId ?? randomUUID(),
        provisioningState: 'Succeeded',
      };
      store.put(vm);
      emitOutOfBand(sim, 'Write', WRITE, id, createdBy);
      return publicRecord(vm);
    },
    deleteVm(id) {
      const existed = store.delete(id);
      if (existed) emitOutOfBand(sim, 'Delete', DELETE, id, 'siteRecovery');
      return existed;
    },
    getVm: (id) => {
      const vm = store.get(id);
      return vm && publicRecord(vm);
    },
    listVms: () => store.list().map(publicRecord),
    setPowerState(id, state) {
      const vm = store.get(id);
      if (vm) vm.powerState = state;
    },
  };

  const power = (action: string, to: VmRecord['powerState']): Route => ({
    method: 'POST',
    pattern: `${VM}/${action}`,
    kind: 'action',
    operation: `Microsoft.Compute/virtualMachines/${action}/action`,
    handler: (req, ctx) => {
      const vm = mustGet(req);
      return ctx.startOperation({
        resourceId: vm.id,
        doneAt: ctx.clock.now() + DURATION_MS.power,
        complete: () => {
          const current = store.get(vm.id);
          if (!current)
            throw ArmError.notFound('Microsoft.Compute/virtualMachines', vm.name, vm.resourceGroup);
          current.powerState = to;
          return undefined;
        },
      });
    },
  });

  const provider: ResourceProvider = {
    namespace: 'Microsoft.Compute',
    routes: [
      {
        method: 'GET',
        pattern: VM,
        kind: 'read',
        operation: 'Microsoft.Compute/virtualMachines/read',
        handler: (req) => {
          const vm = mustGet(req);
          const expand = req.query.get('$expand')?.toLowerCase() === 'instanceview';
          return { status: 200, body: toArm(vm, expand) };
        },
      },
      {
        method: 'GET',
        pattern: `${VM}/instanceView`,
        kind: 'read',
        operation: 'Microsoft.Compute/virtualMachines/instanceView/read',
        handler: (req) => ({ status: 200, body: instanceView(mustGet(req)) }),
      },
      {
        method: 'PUT',
        pattern: VM,
        kind: 'write',
        operation: WRITE,
        handler: (req, ctx) => {
          const name = req.params.vmName!;
          validateName(name);
          const body = req.body;
          const location = dig(body, 'location');
          if (typeof location !== 'string' || location === '') {
            throw ArmError.badRequest(
              'LocationRequired',
              'The location property is required for this definition.',
            );
          }
          const vmSize = dig(body, 'properties', 'hardwareProfile', 'vmSize');
          if (typeof vmSize !== 'string') {
            throw ArmError.badRequest(
              'InvalidParameter',
              "Required parameter 'hardwareProfile.vmSize' is missing (null).",
            );
          }
          const size = findVmSize(vmSize);
          if (!size) throw invalidSize(vmSize);
          const id = idOf(req.params.resourceGroupName!, name);
          const previous = store.get(id);
          if (previous && previous.location.toLowerCase() !== location.toLowerCase()) {
            throw ArmError.badRequest(
              'PropertyChangeNotAllowed',
              "Changing property 'location' is not allowed.",
            );
          }
          const osType =
            dig(body, 'properties', 'storageProfile', 'osDisk', 'osType') === 'Linux' ? 'Linux' : 'Windows';
          const subnetId =
            dig(
              body,
              'properties',
              'networkProfile',
              'networkInterfaceConfigurations',
              0,
              'properties',
              'ipConfigurations',
              0,
              'properties',
              'subnet',
              'id',
            ) ?? previous?.subnetId;
          const licenseType = dig(body, 'properties', 'licenseType');
          const tags = dig(body, 'tags');
          const vm: StoredVm = {
            id,
            name: previous?.name ?? name,
            resourceGroup: sim.resourceGroups.get(req.params.resourceGroupName!)!.name,
            location: previous?.location ?? location,
            vmSize: size.name,
            osType,
            powerState: previous?.powerState ?? 'running',
            tags: isStringRecord(tags) ? tags : {},
            ...(typeof subnetId === 'string' ? { subnetId } : {}),
            ...(typeof licenseType === 'string' ? { licenseType } : {}),
            createdAt: previous?.createdAt ?? ctx.clock.now(),
            createdBy: previous?.createdBy ?? 'arm',
            vmId: previous?.vmId ?? randomUUID(),
            provisioningState: previous ? 'Updating' : 'Creating',
          };
          store.put(vm);
          return ctx.startOperation({
            resourceId: id,
            doneAt: ctx.clock.now() + (previous ? DURATION_MS.update : DURATION_MS.create),
            status: previous ? 200 : 201,
            body: toArm(vm, false),
            complete: () => settle(vm.id),
          });
        },
      },
      {
        method: 'PATCH',
        pattern: VM,
        kind: 'write',
        operation: WRITE,
        handler: (req, ctx) => {
          const vm = mustGet(req);
          const tags = dig(req.body, 'tags');
          if (tags !== undefined) {
            if (!isStringRecord(tags))
              throw ArmError.badRequest('InvalidRequestContent', "'tags' must map names to strings.");
            vm.tags = tags;
          }
          const vmSize = dig(req.body, 'properties', 'hardwareProfile', 'vmSize');
          if (typeof vmSize === 'string') {
            const size = findVmSize(vmSize);
            if (!size) throw invalidSize(vmSize);
            vm.vmSize = size.name;
          }
          vm.provisioningState = 'Updating';
          return ctx.startOperation({
            resourceId: vm.id,
            doneAt: ctx.clock.now() + DURATION_MS.update,
            status: 200,
            body: toArm(vm, false),
            complete: () => settle(vm.id),
          });
        },
      },
      {
        method: 'DELETE',
        pattern: VM,
        kind: 'delete',
        operation: DELETE,
        handler: (req, ctx) => {
          const group = sim.resourceGroups.get(req.params.resourceGroupName!);
          const vm = group && store.get(idOf(group.name, req.params.vmName!));
          if (!vm) return { status: 204 };
          vm.provisioningState = 'Deleting';
          return ctx.startOperation({
            resourceId: vm.id,
            doneAt: ctx.clock.now() + DURATION_MS.delete,
            complete: () => {
              store.delete(vm.id);
              return undefined;
            },
          });
        },
      },
      {
        method: 'GET',
        pattern:
          '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/virtualMachines',
        kind: 'read',
        operation: 'Microsoft.Compute/virtualMachines/read',
        handler: (req) => {
          const group = sim.resourceGroups.get(req.params.resourceGroupName!);
          if (!group) throw ArmError.resourceGroupNotFound(req.params.resourceGroupName!);
          const vms = store
            .list()
            .filter((vm) => vm.resourceGroup.toLowerCase() === group.name.toLowerCase());
          return {
            status: 200,
            body: pageOf(
              sorted(vms).map((vm) => toArm(vm, false)),
              req,
              PAGE_SIZE,
            ),
          };
        },
      },
      {
        method: 'GET',
        pattern: '/subscriptions/{subscriptionId}/providers/Microsoft.Compute/virtualMachines',
        kind: 'read',
        operation: 'Microsoft.Compute/virtualMachines/read',
        handler: (req) => ({
          status: 200,
          body: pageOf(
            sorted(store.list()).map((vm) => toArm(vm, false)),
            req,
            PAGE_SIZE,
          ),
        }),
      },
      power('powerOff', 'stopped'),
      power('start', 'running'),
      power('restart', 'running'),
      power('deallocate', 'deallocated'),
      {
        method: 'GET',
        pattern: '/subscriptions/{subscriptionId}/providers/Microsoft.Compute/skus',
        kind: 'read',
        operation: 'Microsoft.Compute/skus/read',
        handler: (req) => {
          const wanted = /location\s+eq\s+'([^']+)'/i.exec(req.query.get('$filter') ?? '')?.[1];
          const location = sim.estate.location;
          const inRegion = wanted === undefined || wanted.toLowerCase() === location.toLowerCase();
          return {
            status: 200,
            body: { value: inRegion ? VM_SIZES.map((s) => skuResource(s, location)) : [] },
          };
        },
      },
    ],
  };

  function settle(id: string): unknown {
    const current = store.get(id);
    if (!current)
      throw ArmError.conflict('OperationPreempted', 'The VM was deleted while the operation ran.');
    current.provisioningState = 'Succeeded';
    return toArm(current, false);
  }

  return { provider, api };
}

function sorted(vms: StoredVm[]): StoredVm[] {
  return [...vms].sort((a, b) => a.id.toLowerCase().localeCompare(b.id.toLowerCase()));
}

function publicRecord(vm: StoredVm): VmRecord {
  const { vmId: _vmId, provisioningState: _state, ...record } = vm;
  return { ...record, tags: { ...record.tags } };
}

function validateName(name: string): void {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$/.test(name) || /[.-]$/.test(name)) {
    throw ArmError.badRequest(
      'InvalidResourceName',
      `Resource name ${name} is invalid. The name can be up to 64 characters long. It can contain only letters, numbers, periods, underscores and hyphens, and cannot end with a period or hyphen.`,
    );
  }
}

function invalidSize(vmSize: string): ArmError {
  return new ArmError(400, 'InvalidParameter', `The value ${vmSize} provided for the VM size is not valid.`, [
    {
      code: 'InvalidParameter',
      target: 'vmSize',
      message: `The value ${vmSize} provided for the VM size is not valid.`,
    },
  ]);
}

function emitOutOfBand(
  sim: SimContext,
  verb: 'Write' | 'Delete',
  operationName: string,
  id: string,
  createdBy: string,
) {
  const principal = servicePrincipal(
    sim,
    createdBy === 'siteRecovery' ? SITE_RECOVERY_APP_ID : 'sim-control',
  );
  sim.emitEvent(
    resourceEvent(sim, {
      verb,
      success: true,
      operationName,
      resourceUri: id,
      principal,
      correlationId: randomUUID(),
      httpRequest: { method: verb === 'Write' ? 'PUT' : 'DELETE', url: id },
    }),
  );
}

function toArm(vm: StoredVm, withInstanceView: boolean) {
  const osDiskName = `${vm.name}_OsDisk_1_${vm.vmId.replace(/-/g, '')}`;
  return {
    id: vm.id,
    name: vm.name,
    type: 'Microsoft.Compute/virtualMachines',
    location: vm.location,
    tags: vm.tags,
    properties: {
      vmId: vm.vmId,
      hardwareProfile: { vmSize: vm.vmSize },
      storageProfile: {
        osDisk: {
          osType: vm.osType,
          name: osDiskName,
          createOption: vm.createdBy === 'siteRecovery' ? 'Attach' : 'FromImage',
          caching: 'ReadWrite',
          managedDisk: {
            storageAccountType: 'Premium_LRS',
            id: `/subscriptions/${vm.id.split('/')[2]}/resourceGroups/${vm.resourceGroup}/providers/Microsoft.Compute/disks/${osDiskName}`,
          },
          ...(vm.osDiskSizeGB === undefined ? {} : { diskSizeGB: vm.osDiskSizeGB }),
        },
        dataDisks: (vm.dataDiskSizesGB ?? []).map((sizeGB, lun) => ({
          lun,
          name: `${vm.name}_DataDisk_${lun}`,
          createOption: 'Attach',
          diskSizeGB: sizeGB,
          managedDisk: { storageAccountType: 'Premium_LRS' },
        })),
      },
      networkProfile: {
        networkInterfaces: [
          {
            id: `/subscriptions/${vm.id.split('/')[2]}/resourceGroups/${vm.resourceGroup}/providers/Microsoft.Network/networkInterfaces/${vm.name}-nic`,
            properties: { primary: true },
          },
        ],
      },
      ...(vm.licenseType === undefined ? {} : { licenseType: vm.licenseType }),
      provisioningState: vm.provisioningState,
      timeCreated: new Date(vm.createdAt).toISOString(),
      ...(withInstanceView ? { instanceView: instanceView(vm) } : {}),
    },
  };
}

const POWER_DISPLAY: Record<VmRecord['powerState'], string> = {
  running: 'VM running',
  stopped: 'VM stopped',
  deallocated: 'VM deallocated',
};

function instanceView(vm: StoredVm) {
  const time = new Date(vm.createdAt).toISOString();
  const provisioning = vm.provisioningState.toLowerCase();
  const agentReady = vm.powerState === 'running' && vm.provisioningState === 'Succeeded';
  return {
    computerName: vm.name.slice(0, 15),
    osName: vm.osType === 'Windows' ? 'Windows Server' : 'Linux',
    vmAgent: {
      vmAgentVersion: agentReady ? '2.7.41491.1102' : 'Unknown',
      statuses: [
        agentReady
          ? {
              code: 'ProvisioningState/succeeded',
              level: 'Info',
              displayStatus: 'Ready',
              message: 'GuestAgent is running and processing the extensions.',
              time,
            }
          : {
              code: 'ProvisioningState/Unavailable',
              level: 'Warning',
              displayStatus: 'Not Ready',
              message: 'VM status blob is found but not yet populated.',
              time,
            },
      ],
    },
    statuses: [
      {
        code: `ProvisioningState/${provisioning}`,
        level: 'Info',
        displayStatus: `Provisioning ${provisioning}`,
        time,
      },
      { code: `PowerState/${vm.powerState}`, level: 'Info', displayStatus: POWER_DISPLAY[vm.powerState] },
    ],
  };
}

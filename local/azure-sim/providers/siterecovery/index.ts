/**
 * `Microsoft.RecoveryServices` as @azure/arm-recoveryservices-siterecovery 5.x calls it for agentless
 * VMware migration: the vault of the estate's Migrate project, one replication fabric, protection
 * container and VMwareCbt policy per appliance, migration items and the jobs of their operations.
 *
 * Item state is derived from the clock on every read (state.ts); what a state change does outside
 * the item (test and target VMs in Compute, the item's removal) is applied by `settle`, which runs
 * on every request that touches the item and when each operation's virtual time comes.
 */

import { createHash } from 'node:crypto';
import type { EstateMachine } from '../../estate/schema';
import { ArmError } from '../../framework/errors';
import { pageOf } from '../../framework/paging';
import type {
  ArmRequest,
  ArmResult,
  LedgerFindings,
  ProviderFactory,
  ResourceProvider,
  Route,
  SimContext,
} from '../../framework/types';
import { vmwareSiteId } from '../migrate';
import {
  deleteItem,
  enableItem,
  type FailureRates,
  type ItemView,
  latestSpan,
  type MigrationItemOperation,
  type MigrationItemRecord,
  migrateItem,
  pauseItem,
  resumeItem,
  resyncItem,
  type SiteRecoveryTiming,
  type Span,
  testCleanupItem,
  testMigrateItem,
  timingFromEstate,
  viewItem,
} from './state';
import { JOB_FRIENDLY_NAMES, type JobRecord, type Scenario, SiteRecoveryStore } from './store';
import { parseEnableInput, parseMigrateInput, parseTestMigrateInput, parseUpdateInput } from './validate';

const NS = 'Microsoft.RecoveryServices';
const VAULT = `/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/${NS}/vaults/{resourceName}`;
const FABRIC = `${VAULT}/replicationFabrics/{fabricName}`;
const CONTAINER = `${FABRIC}/replicationProtectionContainers/{protectionContainerName}`;
const ITEM = `${CONTAINER}/replicationMigrationItems/{migrationItemName}`;
const ITEM_OP = `${NS}/vaults/replicationFabrics/replicationProtectionContainers/replicationMigrationItems`;
/** Items per page of a list; the rest follows through `nextLink`. */
const PAGE_SIZE = 100;
const DEFAULT_VM_SIZE = 'Standard_D2s_v3';
const MINUTE_MS = 60_000;

export const fabricName = (appliance: string) => `${appliance}replicationfabric`;
export const containerName = (appliance: string) => `${appliance}replicationcontainer`;
/** Az.Migrate's Initialize-AzMigrateReplicationInfrastructure names the policy `migrate{site}policy`. */
export const policyName = (appliance: string) => `migrate${appliance}sitepolicy`;
/** ... and the VMwareCbt container mapping `containermapping`. */
export const MAPPING_NAME = 'containermapping';

const lastSegment = (id: string) => id.split('/').filter(Boolean).pop() ?? '';
const iso = (ms: number) => new Date(ms).toISOString();
const sameId = (a: string | undefined, b: string | undefined) =>
  a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase();

function notAllowed(
  record: MigrationItemRecord,
  view: ItemView,
  operation: MigrationItemOperation,
): ArmError {
  const allowed = view.allowedOperations.length > 0 ? view.allowedOperations.join(', ') : 'none';
  return ArmError.conflict(
    'MigrationItemOperationNotAllowed',
    `The operation '${operation}' cannot be performed on migration item '${record.name}' in its current state ` +
      `(migrationState '${view.migrationState}', testMigrateState '${view.testMigrateState}'). Allowed operations: ${allowed}.`,
  );
}

export const createSiteRecoveryProvider: ProviderFactory = (sim: SimContext): ResourceProvider => {
  const estate = sim.estate;
  const project = estate.migrateProject;
  const vaultId = `/subscriptions/${sim.subscriptionId}/resourceGroups/${project.resourceGroup}/providers/${NS}/vaults/${project.vault}`;
  const timing: SiteRecoveryTiming = timingFromEstate(estate.timing);
  const store = new SiteRecoveryStore(vaultId);
  const rates = (): FailureRates => ({
    initialSeedingFailureRate: sim.faults.initialSeedingFailureRate,
    testMigrationFailureRate: sim.faults.testMigrationFailureRate,
    migrationFailureRate: sim.faults.migrationFailureRate,
  });
  const draws = (itemId: string) => (purpose: string) =>
    sim.random(`siterecovery.${purpose}:${itemId.toLowerCase()}`);
  const fabricId = (appliance: string) => `${vaultId}/replicationFabrics/${fabricName(appliance)}`;
  const containerId = (appliance: string) =>
    `${fabricId(appliance)}/replicationProtectionContainers/${containerName(appliance)}`;
  const policyId = (appliance: string) => `${vaultId}/replicationPolicies/${policyName(appliance)}`;

  function checkVault(req: ArmRequest): void {
    if (
      !sameId(req.params['resourceGroupName'], project.resourceGroup) ||
      !sameId(req.params['resourceName'], project.vault)
    ) {
      throw ArmError.notFound(
        `${NS}/vaults`,
        req.params['resourceName'] ?? '',
        req.params['resourceGroupName'],
      );
    }
  }

  function applianceOfFabric(req: ArmRequest): string {
    checkVault(req);
    const name = req.params['fabricName'] ?? '';
    const appliance = estate.appliances.find((a) => sameId(fabricName(a.name), name));
    if (!appliance) {
      throw new ArmError(
        404,
        'FabricNotFound',
        `The replication fabric '${name}' was not found in vault '${project.vault}'.`,
      );
    }
    return appliance.name;
  }

  function applianceOfContainer(req: ArmRequest): string {
    const appliance = applianceOfFabric(req);
    const name = req.params['protectionContainerName'] ?? '';
    if (!sameId(containerName(appliance), name)) {
      throw new ArmError(
        404,
        'ProtectionContainerNotFound',
        `The protection container '${name}' was not found in fabric '${fabricName(appliance)}'.`,
      );
    }
    return appliance;
  }

  const itemIdOf = (req: ArmRequest, appliance: string) =>
    `${containerId(appliance)}/replicationMigrationItems/${req.params['migrationItemName'] ?? ''}`;

  /** Applies what the item's state implies outside it (VMs, removal); returns the current view. */
  function settle(record: MigrationItemRecord): ItemView {
    const now = sim.clock.now();
    const view = viewItem(record, now, timing);
    const fx = store.effectsOf(record.id);
    const machine = machineOf(record);
    const test = record.testMigration;
    if (view.testVmExists && fx.testVmId === undefined && test) {
      const subnet = record.settings.testSubnetName ?? record.settings.targetSubnetName ?? 'default';
      const vm = sim.compute.createVm(
        {
          ...vmShape(record, machine),
          name: test.testVmName,
          subnetId: `${test.networkId}/subnets/${subnet}`,
        },
        'siteRecovery',
      );
      fx.testVmId = vm.id;
      store.testVms.add(vm.id);
    }
    if (!view.testVmExists && fx.testVmId !== undefined) {
      sim.compute.deleteVm(fx.testVmId);
      store.testVms.delete(fx.testVmId);
      delete fx.testVmId;
    }
    if (view.targetVmExists && fx.targetVmId === undefined) {
      const subnet = record.settings.targetSubnetName ?? 'default';
      const vm = sim.compute.createVm(
        {
          ...vmShape(record, machine),
          name: record.settings.targetVmName,
          subnetId: `${record.settings.targetNetworkId}/subnets/${subnet}`,
        },
        'siteRecovery',
      );
      fx.targetVmId = vm.id;
    }
    if (view.sourceShutDown) store.shutDownSources.add(record.machineName);
    if (view.deleted) store.removeItem(record.id);
    return view;
  }

  function machineOf(record: MigrationItemRecord): EstateMachine | undefined {
    return estate.machines.find((m) => m.name.toLowerCase() === record.machineName.toLowerCase());
  }

  function vmShape(record: MigrationItemRecord, machine: EstateMachine | undefined) {
    const included = new Set(record.settings.disksToInclude.map((d) => d.diskId.toLowerCase()));
    const disks = (machine?.disks ?? []).filter((d) => included.has(d.id.toLowerCase()));
    return {
      resourceGroup: lastSegment(record.settings.targetResourceGroupId),
      location: estate.location,
      vmSize: record.settings.targetVmSize ?? machine?.assessment.recommendedSize ?? DEFAULT_VM_SIZE,
      osType: machine?.os.type ?? 'Windows',
      tags: record.settings.targetVmTags ?? {},
      ...(record.settings.licenseType ? { licenseType: record.settings.licenseType } : {}),
      osDiskSizeGB: disks.find((d) => d.isOS === true)?.sizeGB ?? 0,
      dataDiskSizesGB: disks.filter((d) => d.isOS !== true).map((d) => d.sizeGB),
    };
  }

  /** The item if it exists (settled first), else 404 as Site Recovery answers. */
  function findItem(req: ArmRequest): { record: MigrationItemRecord; view: ItemView } {
    const appliance = applianceOfContainer(req);
    const id = itemIdOf(req, appliance);
    const record = store.getItem(id);
    const view = record ? settle(record) : undefined;
    if (!record || !view || view.deleted) {
      throw new ArmError(
        404,
        'MigrationItemNotFound',
        `The migration item '${req.params['migrationItemName']}' was not found in protection container '${containerName(appliance)}'.`,
      );
    }
    return { record, view };
  }

  function itemJson(record: MigrationItemRecord, view: ItemView) {
    const machine = machineOf(record);
    const s = record.settings;
    const current = latestSpan(record);
    const scenario = store.getJob(current.jobName)?.scenario ?? 'EnableMigration';
    const appliance = record.appliance;
    const nics = (machine?.nics ?? []).map((nic, i) => ({
      nicId: nic.id,
      isPrimaryNic: i === 0 ? 'true' : 'false',
      sourceIPAddress: nic.ip,
      sourceIPAddressType: 'Dynamic',
      targetSubnetName: s.targetSubnetName ?? 'default',
      testNetworkId: s.testNetworkId,
      testSubnetName: s.testSubnetName ?? s.targetSubnetName ?? 'default',
      targetIPAddressType: 'Dynamic',
      isSelectedForMigration: 'true',
    }));
    return {
      id: record.id,
      name: record.name,
      type: `${NS}/vaults/replicationFabrics/replicationProtectionContainers/replicationMigrationItems`,
      location: estate.location,
      properties: {
        machineName: record.machineName,
        policyId: record.policyId,
        policyFriendlyName: policyName(appliance),
        recoveryServicesProviderId: `${fabricId(appliance)}/replicationRecoveryServicesProviders/${appliance}`,
        replicationStatus: view.migrationStateDescription,
        migrationState: view.migrationState,
        migrationStateDescription: view.migrationStateDescription,
        ...(view.lastTestMigrationTime !== undefined
          ? {
              lastTestMigrationTime: iso(view.lastTestMigrationTime),
              lastTestMigrationStatus: view.lastTestMigrationStatus,
            }
          : {}),
        ...(view.lastMigrationTime !== undefined
          ? { lastMigrationTime: iso(view.lastMigrationTime), lastMigrationStatus: view.lastMigrationStatus }
          : {}),
        testMigrateState: view.testMigrateState,
        testMigrateStateDescription: view.testMigrateStateDescription,
        health: view.health,
        healthErrors: view.healthErrors,
        allowedOperations: view.allowedOperations,
        currentJob: {
          jobName: scenario,
          jobId: `${vaultId}/replicationJobs/${current.jobName}`,
          startTime: iso(current.startAt),
        },
        criticalJobHistory: [],
        eventCorrelationId: record.enable.jobName,
        providerSpecificDetails: {
          instanceType: 'VMwareCbt',
          vmwareMachineId: s.vmwareMachineId,
          osType: machine?.os.type,
          osName: machine?.os.name,
          firmwareType: machine?.bootType,
          targetGeneration: machine?.bootType === 'EFI' ? '2' : '1',
          licenseType: s.licenseType ?? 'NoLicenseType',
          sqlServerLicenseType: s.sqlServerLicenseType,
          dataMoverRunAsAccountId: s.dataMoverRunAsAccountId,
          snapshotRunAsAccountId: s.snapshotRunAsAccountId,
          targetVmName: s.targetVmName,
          targetVmSize: s.targetVmSize,
          targetLocation: estate.location,
          targetResourceGroupId: s.targetResourceGroupId,
          targetAvailabilitySetId: s.targetAvailabilitySetId,
          targetAvailabilityZone: s.targetAvailabilityZone,
          targetVmTags: s.targetVmTags,
          protectedDisks: s.disksToInclude.map((d) => ({
            diskId: d.diskId,
            diskName: d.diskId,
            diskType: d.diskType ?? 'Standard_LRS',
            isOSDisk: d.isOSDisk,
            capacityInBytes:
              (machine?.disks.find((m) => m.id.toLowerCase() === d.diskId.toLowerCase())?.sizeGB ?? 0) *
              1024 ** 3,
            logStorageAccountId: d.logStorageAccountId,
            logStorageAccountSasSecretName: d.logStorageAccountSasSecretName,
            diskEncryptionSetId: d.diskEncryptionSetId,
          })),
          targetNetworkId: s.targetNetworkId,
          testNetworkId: s.testNetworkId,
          vmNics: nics,
          targetNicTags: s.targetNicTags,
          seedDiskTags: s.seedDiskTags,
          targetDiskTags: s.targetDiskTags,
          performAutoResync: s.performAutoResync ?? 'true',
          ...(view.lastRecoveryPoint
            ? {
                lastRecoveryPointId: view.lastRecoveryPoint.id,
                lastRecoveryPointReceived: iso(view.lastRecoveryPoint.at),
              }
            : {}),
          ...(record.migration && view.migrationProgressPercentage !== undefined && view.lastRecoveryPoint
            ? { migrationRecoveryPointId: view.lastRecoveryPoint.id }
            : {}),
          initialSeedingProgressPercentage: view.initialSeedingProgressPercentage,
          ...(view.migrationProgressPercentage !== undefined
            ? { migrationProgressPercentage: view.migrationProgressPercentage }
            : {}),
          resyncRequired: view.resyncRequired,
          resyncState:
            record.resync && sim.clock.now() < record.resync.doneAt ? 'StartedResynchronization' : 'None',
          initialSeedingRetryCount: view.initialSeedingRetryCount,
        },
      },
    };
  }

  function jobJson(job: JobRecord) {
    const now = sim.clock.now();
    const finished = now >= job.doneAt;
    const state = !finished ? 'InProgress' : job.failure ? 'Failed' : 'Succeeded';
    return {
      id: `${vaultId}/replicationJobs/${job.name}`,
      name: job.name,
      type: `${NS}/vaults/replicationJobs`,
      location: estate.location,
      properties: {
        activityId: `${job.name} ActivityId: ${job.name}`,
        scenarioName: job.scenario,
        friendlyName: JOB_FRIENDLY_NAMES[job.scenario],
        state,
        stateDescription: !finished ? 'InProgress' : job.failure ? 'Failed' : 'Completed',
        tasks: [],
        errors:
          finished && job.failure
            ? [
                {
                  serviceErrorDetails: {
                    code: job.failure.code,
                    message: job.failure.message,
                    possibleCauses: job.failure.possibleCauses,
                    recommendedAction: job.failure.recommendedAction,
                    activityId: job.name,
                  },
                  errorLevel: 'Error',
                  creationTime: iso(job.doneAt),
                },
              ]
            : [],
        startTime: iso(job.startAt),
        ...(finished ? { endTime: iso(job.doneAt) } : {}),
        // Cancel, restart and resume of jobs are not simulated, so none is offered.
        allowedActions: [],
        targetObjectId: job.itemId,
        targetObjectName: job.machineName,
        targetInstanceType: 'ProtectionEntity',
        customDetails: {
          instanceType: 'AsrJobDetails',
          affectedObjectDetails: { [job.itemId]: job.itemName },
        },
      },
    };
  }

  const page = <T>(req: ArmRequest, all: T[]): ArmResult => ({
    status: 200,
    body: pageOf(all, req, PAGE_SIZE),
  });

  /** Items still present (settled), each with its view. */
  function liveItems(filter: (r: MigrationItemRecord) => boolean) {
    const out: { record: MigrationItemRecord; view: ItemView }[] = [];
    for (const record of store.allItems()) {
      if (!filter(record)) continue;
      const view = settle(record);
      if (!view.deleted) out.push({ record, view });
    }
    return out;
  }

  function jobFor(
    record: MigrationItemRecord,
    scenario: Scenario,
    span: Span,
    failure?: JobRecord['failure'],
  ): void {
    store.addJob({
      name: span.jobName,
      scenario,
      itemId: record.id,
      itemName: record.name,
      machineName: record.machineName,
      startAt: span.startAt,
      doneAt: span.doneAt,
      ...(failure ? { failure } : {}),
    });
  }

  /** Starts the item's operation as an LRO whose status URL ends in the job name. */
  function startItemOperation(
    record: MigrationItemRecord,
    span: Span,
    failure?: JobRecord['failure'],
  ): ArmResult {
    return sim.startOperation({
      resourceId: record.id,
      doneAt: span.doneAt,
      operationId: span.jobName,
      complete: () => {
        const current = store.getItem(record.id);
        const view = current ? settle(current) : undefined;
        if (failure) throw new ArmError(400, failure.code, failure.message);
        return current && view && !view.deleted ? itemJson(current, view) : undefined;
      },
    });
  }

  /** Target VM names are unique in the target resource group, across items and existing VMs. */
  function checkTargetName(targetRgId: string, vmName: string, exceptItemId?: string): void {
    const taken =
      store
        .itemsTargeting(targetRgId, vmName)
        .some((r) => !sameId(r.id, exceptItemId) && !viewItem(r, sim.clock.now(), timing).deleted) ||
      sim.compute.getVm(
        `/subscriptions/${sim.subscriptionId}/resourceGroups/${lastSegment(targetRgId)}/providers/Microsoft.Compute/virtualMachines/${vmName}`,
      ) !== undefined;
    if (taken) {
      throw ArmError.badRequest(
        'TargetVmNameNotUnique',
        `A virtual machine named '${vmName}' already exists or is being migrated to resource group '${lastSegment(targetRgId)}'. Choose another target name.`,
        [
          {
            code: 'TargetVmNameNotUnique',
            message: 'The target VM name is already used.',
            target: 'targetVmName',
          },
        ],
      );
    }
  }

  function checkLandingZone(settings: {
    targetResourceGroupId: string;
    targetNetworkId: string;
    testNetworkId?: string;
  }) {
    if (!estate.resourceGroups.some((g) => sameId(g.name, lastSegment(settings.targetResourceGroupId)))) {
      throw ArmError.badRequest(
        'TargetResourceGroupNotFound',
        `The target resource group '${settings.targetResourceGroupId}' does not exist.`,
        [
          {
            code: 'TargetResourceGroupNotFound',
            message: 'Unknown resource group.',
            target: 'targetResourceGroupId',
          },
        ],
      );
    }
    for (const key of ['targetNetworkId', 'testNetworkId'] as const) {
      const id = settings[key];
      if (id === undefined) continue;
      const known = estate.virtualNetworks.some((v) =>
        sameId(
          `/subscriptions/${sim.subscriptionId}/resourceGroups/${v.resourceGroup}/providers/Microsoft.Network/virtualNetworks/${v.name}`,
          id,
        ),
      );
      if (!known) {
        throw ArmError.badRequest('TargetNetworkNotFound', `The virtual network '${id}' does not exist.`, [
          { code: 'TargetNetworkNotFound', message: 'Unknown virtual network.', target: key },
        ]);
      }
    }
  }

  function enable(req: ArmRequest): ArmResult {
    const appliance = applianceOfContainer(req);
    const id = itemIdOf(req, appliance);
    const existing = store.getItem(id);
    if (existing && !settle(existing).deleted) {
      throw ArmError.conflict(
        'MigrationItemAlreadyExists',
        `The migration item '${req.params['migrationItemName']}' already exists; replication is already enabled for this machine.`,
      );
    }
    const input = parseEnableInput(req.body);
    if (!sameId(input.policyId, policyId(appliance))) {
      throw ArmError.badRequest(
        'PolicyNotFound',
        `The replication policy '${input.policyId}' is not associated with protection container '${containerName(appliance)}'.`,
        [{ code: 'PolicyNotFound', message: 'Unknown policy.', target: 'properties.policyId' }],
      );
    }
    const machineName = lastSegment(input.settings.vmwareMachineId);
    const machine = estate.machines.find(
      (m) => m.name.toLowerCase() === machineName.toLowerCase() && m.appliance === appliance,
    );
    if (!machine) {
      throw ArmError.badRequest(
        'VMwareMachineNotFound',
        `The VMware machine '${input.settings.vmwareMachineId}' was not discovered by appliance '${appliance}'.`,
        [{ code: 'VMwareMachineNotFound', message: 'Unknown machine.', target: 'vmwareMachineId' }],
      );
    }
    // Items found through the store's indexes, not a scan of the vault: an enable is O(its appliance).
    const twin = store
      .itemsOfMachine(input.settings.vmwareMachineId)
      .find((record) => !settle(record).deleted);
    if (twin) {
      throw ArmError.conflict(
        'MachineAlreadyReplicating',
        `The machine '${machine.name}' is already being replicated by migration item '${twin.name}'.`,
      );
    }
    for (const disk of input.settings.disksToInclude) {
      if (!machine.disks.some((d) => d.id.toLowerCase() === disk.diskId.toLowerCase())) {
        throw ArmError.badRequest(
          'InvalidDiskSelection',
          `The disk '${disk.diskId}' is not a disk of '${machine.name}'.`,
          [{ code: 'InvalidDiskSelection', message: 'Unknown disk.', target: 'disksToInclude' }],
        );
      }
    }
    const settings = { ...input.settings, targetVmName: input.settings.targetVmName ?? machine.name };
    checkLandingZone(settings);
    checkTargetName(settings.targetResourceGroupId, settings.targetVmName);
    const limits = estate.appliances.find((a) => a.name === appliance)!;
    const held = store.itemsOfAppliance(appliance).filter((record) => !settle(record).deleted).length;
    if (held >= limits.maxConcurrentReplications) {
      throw ArmError.conflict(
        'MaxConcurrentReplicationsReached',
        `Appliance '${appliance}' is already replicating ${held} machines, its limit of simultaneous replications (${limits.maxConcurrentReplications}). Complete or stop a replication before enabling another.`,
      );
    }
    const included = new Set(settings.disksToInclude.map((d) => d.diskId.toLowerCase()));
    const now = sim.clock.now();
    const record = enableItem(
      {
        id,
        name: req.params['migrationItemName'] ?? machine.name,
        machineName: machine.name,
        appliance,
        policyId: policyId(appliance),
        diskGB: machine.disks
          .filter((d) => included.has(d.id.toLowerCase()))
          .reduce((sum, d) => sum + d.sizeGB, 0),
        seedingGBPerHour: limits.seedingGBPerHour,
        settings,
      },
      now,
      store.newJobName(),
      timing,
      rates(),
      draws(id),
    );
    store.putItem(record);
    jobFor(record, 'EnableMigration', record.enable);
    return startItemOperation(record, record.enable);
  }

  function update(req: ArmRequest): ArmResult {
    const { record, view } = findItem(req);
    const updatable = [
      'InitialSeedingInProgress',
      'InitialSeedingFailed',
      'Replicating',
      'ProtectionSuspended',
      'MigrationFailed',
    ];
    if (!updatable.includes(view.migrationState) || view.testMigrateState !== 'None') {
      throw ArmError.conflict(
        'MigrationItemOperationNotAllowed',
        `The replication settings of migration item '${record.name}' cannot be updated in its current state (migrationState '${view.migrationState}', testMigrateState '${view.testMigrateState}').`,
      );
    }
    const settings = parseUpdateInput(req.body, record.settings);
    checkLandingZone(settings);
    if (
      !sameId(settings.targetVmName, record.settings.targetVmName) ||
      !sameId(settings.targetResourceGroupId, record.settings.targetResourceGroupId)
    ) {
      checkTargetName(settings.targetResourceGroupId, settings.targetVmName, record.id);
    }
    const now = sim.clock.now();
    const span: Span = {
      jobName: store.newJobName(),
      startAt: now,
      doneAt: now + timing.enableMinutes * MINUTE_MS,
    };
    const next = { ...record, settings };
    store.putItem(next);
    jobFor(next, 'UpdateMigrationItem', span);
    return startItemOperation(next, span);
  }

  function failureOf(code: string, message: string, possibleCauses: string, recommendedAction: string) {
    return { code, message, possibleCauses, recommendedAction };
  }

  /** A POST action gated on `allowedOperations`. */
  function action(
    operation: MigrationItemOperation,
    scenario: Scenario,
    apply: (
      record: MigrationItemRecord,
      now: number,
      jobName: string,
      req: ArmRequest,
    ) => MigrationItemRecord,
    spanOf: (record: MigrationItemRecord) => Span,
    failure?: (record: MigrationItemRecord, view: ItemView) => JobRecord['failure'] | undefined,
  ) {
    return (req: ArmRequest): ArmResult => {
      const { record, view } = findItem(req);
      if (operation === 'Migrate' && record.migration && view.migrationState !== 'MigrationFailed') {
        store.duplicateMigrateCalls += 1;
      }
      if (!view.allowedOperations.includes(operation)) throw notAllowed(record, view, operation);
      const next = apply(record, sim.clock.now(), store.newJobName(), req);
      store.putItem(next);
      const span = spanOf(next);
      const nextView = viewItem(next, span.doneAt, timing);
      const jobFailure = failure?.(next, nextView);
      jobFor(next, scenario, span, jobFailure);
      return startItemOperation(next, span, jobFailure);
    };
  }

  const testMigrate = action(
    'TestMigrate',
    'TestMigrate',
    (record, now, jobName, req) => {
      const input = parseTestMigrateInput(req.body);
      checkLandingZone({ ...record.settings, testNetworkId: input.networkId });
      return testMigrateItem(record, now, jobName, input, timing, rates(), draws(record.id));
    },
    (r) => r.testMigration!,
    (_record, view) => {
      const error = view.healthErrors.find((e) => e.errorCode === 'TestMigrationVmBootFailed');
      return error
        ? failureOf(error.errorCode, error.errorMessage, error.possibleCauses, error.recommendedAction)
        : undefined;
    },
  );
  const testCleanup = action(
    'TestMigrateCleanup',
    'TestMigrateCleanup',
    (record, now, jobName) => testCleanupItem(record, now, jobName, timing),
    (r) => r.testCleanup!,
  );
  const migrate = action(
    'Migrate',
    'Migrate',
    (record, now, jobName, req) =>
      migrateItem(
        record,
        now,
        jobName,
        parseMigrateInput(req.body).performShutdown,
        timing,
        rates(),
        draws(record.id),
      ),
    (r) => r.migration!,
    (_record, view) => {
      const error = view.healthErrors.find((e) => e.errorCode === 'MigrationVmCreationFailed');
      return error
        ? failureOf(error.errorCode, error.errorMessage, error.possibleCauses, error.recommendedAction)
        : undefined;
    },
  );
  const resync = action(
    'StartResync',
    'StartResync',
    (record, now, jobName) => resyncItem(record, now, jobName, timing),
    (r) => r.resync!,
  );
  const pause = action(
    'PauseReplication',
    'PauseReplication',
    (record, now, jobName) => pauseItem(record, now, jobName, timing),
    (r) => r.pause!,
  );
  const resume = action(
    'ResumeReplication',
    'ResumeReplication',
    (record, now, jobName) => resumeItem(record, now, jobName, timing),
    (r) => r.resume!,
  );

  function remove(req: ArmRequest): ArmResult {
    const { record, view } = findItem(req);
    // deleteOption=ForceDelete removes the item whatever its state, as the portal's "force" does.
    const force = (req.query.get('deleteOption') ?? '').toLowerCase() === 'forcedelete';
    if (!force && !view.allowedOperations.includes('DisableMigration'))
      throw notAllowed(record, view, 'DisableMigration');
    const next = deleteItem(record, sim.clock.now(), store.newJobName(), timing);
    store.putItem(next);
    jobFor(next, 'DisableMigration', next.deletion!);
    return startItemOperation(next, next.deletion!);
  }

  const fabricJson = (appliance: string) => ({
    id: fabricId(appliance),
    name: fabricName(appliance),
    type: `${NS}/vaults/replicationFabrics`,
    location: estate.location,
    properties: {
      friendlyName: appliance,
      internalIdentifier: appliance,
      bcdrState: 'Valid',
      health: 'Normal',
      healthErrorDetails: [],
      customDetails: {
        instanceType: 'VMwareV2',
        vmwareSiteId: vmwareSiteId(sim, appliance),
        migrationSolutionId: `/subscriptions/${sim.subscriptionId}/resourceGroups/${project.resourceGroup}/providers/Microsoft.Migrate/MigrateProjects/${project.name}/Solutions/Servers-Migration-ServerMigration`,
        serviceEndpoint: `https://${appliance}.migration.example`,
        serviceResourceId: appliance,
      },
    },
  });
  const containerJson = (appliance: string) => ({
    id: containerId(appliance),
    name: containerName(appliance),
    type: `${NS}/vaults/replicationFabrics/replicationProtectionContainers`,
    location: estate.location,
    properties: {
      fabricFriendlyName: appliance,
      friendlyName: containerName(appliance),
      fabricType: 'VMwareV2',
      protectedItemCount: store.itemsOfAppliance(appliance).filter((r) => !settle(r).deleted).length,
      pairingStatus: 'Paired',
      role: 'Primary',
      fabricSpecificDetails: { instanceType: 'VMwareV2' },
    },
  });
  const policyJson = (appliance: string) => ({
    id: policyId(appliance),
    name: policyName(appliance),
    type: `${NS}/vaults/replicationPolicies`,
    location: estate.location,
    properties: {
      friendlyName: policyName(appliance),
      providerSpecificDetails: {
        instanceType: 'VMwareCbt',
        recoveryPointHistoryInMinutes: 4320,
        crashConsistentFrequencyInMinutes: timing.deltaCycleMinutes,
        appConsistentFrequencyInMinutes: 4 * timing.deltaCycleMinutes,
      },
    },
  });

  /** The container's VMwareCbt mapping, naming the policy and the replication key vault and log storage. */
  const mappingJson = (appliance: string) => {
    const artifact = createHash('sha256')
      .update(vmwareSiteId(sim, appliance).toLowerCase())
      .digest('hex')
      .slice(0, 14);
    const group = `/subscriptions/${sim.subscriptionId}/resourceGroups/${project.resourceGroup}/providers`;
    return {
      id: `${containerId(appliance)}/replicationProtectionContainerMappings/${MAPPING_NAME}`,
      name: MAPPING_NAME,
      type: `${NS}/vaults/replicationFabrics/replicationProtectionContainers/replicationProtectionContainerMappings`,
      location: estate.location,
      properties: {
        targetProtectionContainerId: 'Microsoft Azure',
        targetProtectionContainerFriendlyName: 'Microsoft Azure',
        providerSpecificDetails: {
          instanceType: 'VMwareCbt',
          keyVaultId: `${group}/Microsoft.KeyVault/vaults/migratekv${artifact}`,
          keyVaultUri: `https://migratekv${artifact}.vault.azure.net/`,
          storageAccountId: `${group}/Microsoft.Storage/storageAccounts/migratelsa${artifact}`,
          storageAccountSasSecretName: `migratelsa${artifact}-cacheSas`,
          serviceBusConnectionStringSecretName: `migratesb${artifact}-secret`,
          targetLocation: estate.location,
        },
        health: 'Normal',
        healthErrorDetails: [],
        policyId: policyId(appliance),
        state: 'Paired',
        sourceProtectionContainerFriendlyName: containerName(appliance),
        sourceFabricFriendlyName: appliance,
        targetFabricFriendlyName: 'Microsoft Azure',
        policyFriendlyName: policyName(appliance),
      },
    };
  };

  const read = (pattern: string, operation: string, handler: (req: ArmRequest) => ArmResult): Route => ({
    method: 'GET',
    pattern,
    kind: 'read',
    operation: `${NS}/${operation}/read`,
    handler,
  });
  const routes: Route[] = [
    read(VAULT, 'vaults', (req) => {
      checkVault(req);
      return {
        status: 200,
        body: {
          id: vaultId,
          name: project.vault,
          type: `${NS}/vaults`,
          location: estate.location,
          sku: { name: 'Standard' },
          properties: { provisioningState: 'Succeeded' },
        },
      };
    }),
    read(`${VAULT}/replicationFabrics`, 'vaults/replicationFabrics', (req) => {
      checkVault(req);
      return { status: 200, body: { value: estate.appliances.map((a) => fabricJson(a.name)) } };
    }),
    read(FABRIC, 'vaults/replicationFabrics', (req) => ({
      status: 200,
      body: fabricJson(applianceOfFabric(req)),
    })),
    read(
      `${FABRIC}/replicationProtectionContainers`,
      'vaults/replicationFabrics/replicationProtectionContainers',
      (req) => ({
        status: 200,
        body: { value: [containerJson(applianceOfFabric(req))] },
      }),
    ),
    read(CONTAINER, 'vaults/replicationFabrics/replicationProtectionContainers', (req) => ({
      status: 200,
      body: containerJson(applianceOfContainer(req)),
    })),
    read(
      `${CONTAINER}/replicationProtectionContainerMappings`,
      'vaults/replicationFabrics/replicationProtectionContainers/replicationProtectionContainerMappings',
      (req) => ({ status: 200, body: { value: [mappingJson(applianceOfContainer(req))] } }),
    ),
    read(
      `${CONTAINER}/replicationProtectionContainerMappings/{mappingName}`,
      'vaults/replicationFabrics/replicationProtectionContainers/replicationProtectionContainerMappings',
      (req) => {
        const appliance = applianceOfContainer(req);
        if (!sameId(req.params['mappingName'], MAPPING_NAME)) {
          throw new ArmError(
            404,
            'ProtectionContainerMappingNotFound',
            `The protection container mapping '${req.params['mappingName']}' was not found.`,
          );
        }
        return { status: 200, body: mappingJson(appliance) };
      },
    ),
    read(`${VAULT}/replicationProtectionContainers`, 'vaults/replicationProtectionContainers', (req) => {
      checkVault(req);
      return { status: 200, body: { value: estate.appliances.map((a) => containerJson(a.name)) } };
    }),
    read(`${VAULT}/replicationPolicies`, 'vaults/replicationPolicies', (req) => {
      checkVault(req);
      return { status: 200, body: { value: estate.appliances.map((a) => policyJson(a.name)) } };
    }),
    read(`${VAULT}/replicationPolicies/{policyName}`, 'vaults/replicationPolicies', (req) => {
      checkVault(req);
      const appliance = estate.appliances.find((a) => sameId(policyName(a.name), req.params['policyName']));
      if (!appliance) {
        throw new ArmError(
          404,
          'PolicyNotFound',
          `The replication policy '${req.params['policyName']}' was not found.`,
        );
      }
      return { status: 200, body: policyJson(appliance.name) };
    }),
    read(
      `${CONTAINER}/replicationMigrationItems`,
      'vaults/replicationFabrics/replicationProtectionContainers/replicationMigrationItems',
      (req) => {
        const appliance = applianceOfContainer(req);
        return page(
          req,
          liveItems((r) => r.appliance === appliance).map(({ record, view }) => itemJson(record, view)),
        );
      },
    ),
    read(`${VAULT}/replicationMigrationItems`, 'vaults/replicationMigrationItems', (req) => {
      checkVault(req);
      return page(
        req,
        liveItems(() => true).map(({ record, view }) => itemJson(record, view)),
      );
    }),
    read(
      ITEM,
      'vaults/replicationFabrics/replicationProtectionContainers/replicationMigrationItems',
      (req) => {
        const { record, view } = findItem(req);
        return { status: 200, body: itemJson(record, view) };
      },
    ),
    { method: 'PUT', pattern: ITEM, kind: 'write', operation: `${ITEM_OP}/write`, handler: enable },
    { method: 'PATCH', pattern: ITEM, kind: 'write', operation: `${ITEM_OP}/write`, handler: update },
    { method: 'DELETE', pattern: ITEM, kind: 'delete', operation: `${ITEM_OP}/delete`, handler: remove },
    ...(
      [
        ['testMigrate', testMigrate],
        ['testMigrateCleanup', testCleanup],
        ['migrate', migrate],
        ['resync', resync],
        ['pauseReplication', pause],
        ['resumeReplication', resume],
      ] as const
    ).map(
      ([name, handler]): Route => ({
        method: 'POST',
        pattern: `${ITEM}/${name}`,
        kind: 'action',
        operation: `${ITEM_OP}/${name}/action`,
        handler,
      }),
    ),
    read(`${VAULT}/replicationJobs`, 'vaults/replicationJobs', (req) => {
      checkVault(req);
      return page(req, store.allJobs().map(jobJson));
    }),
    read(`${VAULT}/replicationJobs/{jobName}`, 'vaults/replicationJobs', (req) => {
      checkVault(req);
      const job = store.getJob(req.params['jobName'] ?? '');
      if (!job) throw new ArmError(404, 'JobNotFound', `The job '${req.params['jobName']}' was not found.`);
      const item = store.getItem(job.itemId);
      if (item) settle(item);
      return { status: 200, body: jobJson(job) };
    }),
  ];

  return {
    namespace: NS,
    routes,
    controlActions: {
      /** On-premises power state of every estate machine: a migration with performShutdown turns it off. */
      sourcePowerStates: () => {
        liveItems(() => true);
        return Object.fromEntries(
          estate.machines.map((m) => [m.name, store.shutDownSources.has(m.name) ? 'Off' : m.powerState]),
        );
      },
    },
    ledgerFindings(): Partial<LedgerFindings> {
      const live = liveItems(() => true);
      return {
        duplicateMigrateCalls: store.duplicateMigrateCalls,
        leakedTestVms: [...store.testVms].filter((id) => sim.compute.getVm(id) !== undefined).length,
        undeletedMigrationItems: live.filter(
          ({ record, view }) => view.migrationState === 'MigrationSucceeded' && record.deletion === undefined,
        ).length,
      };
    },
  };
};

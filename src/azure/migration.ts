/**
 * Site Recovery migration items (agentless VMware, provider `VMwareCbt`) over
 * @azure/arm-recoveryservices-siterecovery.
 *
 * The replication infrastructure of a machine is found as Az.Migrate's New-AzMigrateServerReplication
 * finds it: the machine's site (from its ARM id) selects the `VMwareV2` fabric whose `vmwareSiteId`
 * names that site, then the fabric's first protection container and that container's VMwareCbt
 * mapping, whose details give the policy and the log storage account. Without a mapping the policy
 * is `migrate{site}policy` (what Az.Migrate's initialisation creates) or else the vault's only
 * VMwareCbt policy, and the log storage account comes from MIGRATE_LOG_STORAGE_ACCOUNT_ID. The item
 * is named after the machine. Resolution is cached per site for the life of the gateway.
 */

import {
  type EnableMigrationInput,
  type HealthError,
  type MigrationItem,
  SiteRecoveryManagementClient,
  type UpdateMigrationItemInput,
  type VMwareCbtMigrationDetails,
  type VMwareCbtNicInput,
} from '@azure/arm-recoveryservices-siterecovery';
import type { TokenCredential } from '@azure/core-auth';
import { createPipelineRequest } from '@azure/core-rest-pipeline';
import type { FactoryConfig } from '../config';
import { NonRetriableError } from '../domain/errors';
import {
  type ArmClientOptions,
  armIdValue,
  callArm,
  collect,
  errorInfoFromBody,
  isoOf,
  readArm,
  retryAfterMsOf,
  toAzureError,
} from './arm';
import type {
  EnableReplicationRequest,
  EnableResult,
  HealthIssue,
  MigrateRequest,
  MigrationGateway,
  MigrationItemRecord,
  OperationOutcome,
  OperationRef,
  OperationStatus,
  TestMigrateRequest,
  UpdateMigrationItemRequest,
} from './types';

interface MappingDetails {
  instanceType?: string;
  keyVaultUri?: string;
  storageAccountId?: string;
  targetLocation?: string;
  policyId?: string;
}

interface SiteInfrastructure {
  fabricName: string;
  containerName: string;
  policyId: string;
  logStorageAccountId: string;
  logStorageAccountSasSecretName: string;
}

/** Maps an SDK migration item to the plain record the pipeline uses. */
export function toMigrationItemRecord(item: MigrationItem): MigrationItemRecord {
  const p = item.properties ?? {};
  const details: Partial<VMwareCbtMigrationDetails> =
    p.providerSpecificDetails?.instanceType === 'VMwareCbt'
      ? (p.providerSpecificDetails as VMwareCbtMigrationDetails)
      : {};
  const job = p.currentJob;
  const record: MigrationItemRecord = {
    id: item.id ?? '',
    name: item.name ?? '',
    migrationState: p.migrationState ?? 'None',
    testMigrateState: p.testMigrateState ?? 'None',
    allowedOperations: [...(p.allowedOperations ?? [])],
    healthErrors: (p.healthErrors ?? []).map(toHealthIssue),
    resyncRequired: (details.resyncRequired ?? '').toLowerCase() === 'true',
  };
  Object.assign(
    record,
    definedOnly({
      machineId: details.vmwareMachineId,
      machineName: p.machineName,
      migrationStateDescription: p.migrationStateDescription,
      testMigrateStateDescription: p.testMigrateStateDescription,
      health: p.health,
      currentJob:
        job?.jobName === undefined
          ? undefined
          : {
              name: job.jobName,
              ...(job.jobId === undefined ? {} : { id: job.jobId }),
              ...(isoOf(job.startTime) === undefined ? {} : { startedAt: isoOf(job.startTime) }),
            },
      initialSeedingProgressPercent: details.initialSeedingProgressPercentage,
      migrationProgressPercent: details.migrationProgressPercentage,
      lastRecoveryPointId: details.lastRecoveryPointId,
      lastRecoveryPointReceived: isoOf(details.lastRecoveryPointReceived),
      lastTestMigrationTime: isoOf(p.lastTestMigrationTime),
      lastMigrationTime: isoOf(p.lastMigrationTime),
      targetVmName: details.targetVmName,
      targetVmSize: details.targetVmSize,
      targetResourceGroupId: details.targetResourceGroupId,
      targetNetworkId: details.targetNetworkId,
      testNetworkId: details.testNetworkId,
    }),
  );
  return record;
}

function toHealthIssue(error: HealthError): HealthIssue {
  const issue: HealthIssue = {
    code: error.errorCode ?? 'Unknown',
    message: error.errorMessage ?? error.summaryMessage ?? error.errorCode ?? 'Unknown health error',
  };
  Object.assign(
    issue,
    definedOnly({
      possibleCauses: error.possibleCauses,
      recommendedAction: error.recommendedAction,
      severity: error.errorLevel,
      createdAt: isoOf(error.creationTimeUtc),
    }),
  );
  return issue;
}

/** Az.Migrate's name hash for the log storage account of a key-vault-backed mapping. */
export function hashForArtifact(artifact: string): number {
  let hash = 0;
  for (let i = 0; i < artifact.length; i++) {
    hash = (hash << 5) - hash + artifact.charCodeAt(i);
    hash |= 0;
  }
  return Math.abs(hash);
}

const yesNo = (value: boolean | undefined) => (value === undefined ? undefined : value ? 'true' : 'false');

/** Status of an operation from its status URL's answer (Azure-AsyncOperation body or Location code). */
export function outcomeFromStatusResponse(statusCode: number, body: unknown): OperationOutcome {
  const status =
    typeof body === 'object' && body !== null ? (body as { status?: unknown }).status : undefined;
  if (typeof status === 'string') {
    const normalised = normaliseStatus(status);
    const error = normalised === 'Failed' ? errorInfoFromBody(body) : undefined;
    return error === undefined ? { status: normalised } : { status: normalised, error };
  }
  if (statusCode === 202) return { status: 'InProgress' };
  if (statusCode >= 200 && statusCode < 300) return { status: 'Succeeded' };
  const error = errorInfoFromBody(body, statusCode);
  return error === undefined ? { status: 'Failed' } : { status: 'Failed', error };
}

function normaliseStatus(status: string): OperationStatus {
  switch (status.toLowerCase()) {
    case 'succeeded':
      return 'Succeeded';
    case 'failed':
      return 'Failed';
    case 'canceled':
    case 'cancelled':
      return 'Canceled';
    default:
      return 'InProgress';
  }
}

interface RawResponse {
  status: number;
  headers: { get(name: string): string | undefined };
  request: { url: string };
  parsedBody?: unknown;
  bodyAsText?: string | null;
}

function bodyOf(raw: RawResponse): unknown {
  return raw.parsedBody ?? parseBody(raw.bodyAsText);
}

/** The `startTime` of an Azure-AsyncOperation status body, in epoch ms. */
function startTimeOf(body: unknown): number | undefined {
  const value =
    typeof body === 'object' && body !== null ? (body as { startTime?: unknown }).startTime : undefined;
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  return Number.isFinite(ms) ? ms : undefined;
}

function isRestError(error: unknown): boolean {
  return error instanceof Error && error.name === 'RestError';
}

interface StartedPoller {
  getOperationState(): { status: string };
}

/** Vault, its resource group, fabric, protection container and item: how every item call is addressed. */
type ItemPath = [vault: string, vaultGroup: string, fabric: string, container: string, item: string];

export class SiteRecoveryMigrationGateway implements MigrationGateway {
  readonly #client: SiteRecoveryManagementClient;
  readonly #vault: string;
  readonly #vaultGroup: string;
  readonly #subscriptionId: string;
  readonly #runAsAccountId: string | undefined;
  readonly #logStorageAccountId: string | undefined;
  readonly #endpoint: string;
  readonly #sites = new Map<string, Promise<SiteInfrastructure>>();

  constructor(config: FactoryConfig, credential: TokenCredential, options: ArmClientOptions) {
    this.#client = new SiteRecoveryManagementClient(credential, config.azure.subscriptionId, options);
    this.#vault = config.migrate.vaultName;
    this.#vaultGroup = config.migrate.vaultResourceGroup;
    this.#subscriptionId = config.azure.subscriptionId;
    this.#runAsAccountId = config.migrate.runAsAccountId;
    this.#logStorageAccountId = config.migrate.logStorageAccountId;
    this.#endpoint = config.azure.armEndpoint;
  }

  async get(machineId: string): Promise<MigrationItemRecord | undefined> {
    const { site, item } = this.#address(machineId);
    const infra = await this.#infrastructure(site);
    const found = await readArm('Read migration item', () =>
      this.#client.replicationMigrationItems.get(
        this.#vault,
        this.#vaultGroup,
        infra.fabricName,
        infra.containerName,
        item,
      ),
    );
    return found === undefined ? undefined : toMigrationItemRecord(found);
  }

  async enable(request: EnableReplicationRequest): Promise<EnableResult> {
    const existing = await this.get(request.machineId);
    if (existing !== undefined) return { started: false, item: existing };
    if (this.#runAsAccountId === undefined) {
      throw new NonRetriableError(
        'MIGRATE_RUN_AS_ACCOUNT_ID is not set: replication needs the vCenter run-as account',
      );
    }
    const { site, item } = this.#address(request.machineId);
    const infra = await this.#infrastructure(site);
    const input: EnableMigrationInput = {
      properties: {
        policyId: infra.policyId,
        providerSpecificDetails: {
          instanceType: 'VMwareCbt',
          vmwareMachineId: request.machineId,
          disksToInclude: request.disks.map((disk) => ({
            diskId: disk.diskId,
            isOSDisk: disk.isOSDisk ? 'true' : 'false',
            logStorageAccountId: infra.logStorageAccountId,
            logStorageAccountSasSecretName: infra.logStorageAccountSasSecretName,
            ...(disk.diskType === undefined ? {} : { diskType: disk.diskType }),
            ...(disk.diskEncryptionSetId === undefined
              ? {}
              : { diskEncryptionSetId: disk.diskEncryptionSetId }),
          })),
          dataMoverRunAsAccountId: this.#runAsAccountId,
          snapshotRunAsAccountId: this.#runAsAccountId,
          targetResourceGroupId: request.targetResourceGroupId,
          targetNetworkId: request.targetNetworkId,
          targetBootDiagnosticsStorageAccountId: infra.logStorageAccountId,
          ...definedOnly({
            targetSubnetName: request.targetSubnetName,
            testNetworkId: request.testNetworkId,
            testSubnetName: request.testSubnetName,
            targetVmName: request.targetVmName,
            targetVmSize: request.targetVmSize,
            targetAvailabilitySetId: request.targetAvailabilitySetId,
            targetAvailabilityZone: request.targetAvailabilityZone,
            licenseType: request.licenseType,
            sqlServerLicenseType: request.sqlServerLicenseType,
            performAutoResync: yesNo(request.performAutoResync),
            targetVmTags: request.vmTags,
            targetDiskTags: request.diskTags,
            targetNicTags: request.nicTags,
          }),
        },
      },
    };
    const operation = await this.#start('enable', infra, item, (path, onResponse) =>
      this.#client.replicationMigrationItems.beginCreate(...path, input, { onResponse }),
    );
    return { started: true, operation };
  }

  async update(machineId: string, changes: UpdateMigrationItemRequest): Promise<OperationRef> {
    const { site, item } = this.#address(machineId);
    const infra = await this.#infrastructure(site);
    let vmNics: VMwareCbtNicInput[] | undefined;
    if (changes.targetSubnetName !== undefined || changes.testSubnetName !== undefined) {
      vmNics = await this.#primaryNicChange(infra, item, changes);
    }
    const input: UpdateMigrationItemInput = {
      properties: {
        providerSpecificDetails: {
          instanceType: 'VMwareCbt',
          ...definedOnly({
            targetVmName: changes.targetVmName,
            targetVmSize: changes.targetVmSize,
            targetResourceGroupId: changes.targetResourceGroupId,
            targetNetworkId: changes.targetNetworkId,
            testNetworkId: changes.testNetworkId,
            targetAvailabilitySetId: changes.targetAvailabilitySetId,
            targetAvailabilityZone: changes.targetAvailabilityZone,
            licenseType: changes.licenseType,
            sqlServerLicenseType: changes.sqlServerLicenseType,
            targetVmTags: changes.vmTags,
            targetDiskTags: changes.diskTags,
            targetNicTags: changes.nicTags,
            vmNics,
          }),
        },
      },
    };
    return this.#start('update', infra, item, (path, onResponse) =>
      this.#client.replicationMigrationItems.beginUpdate(...path, input, { onResponse }),
    );
  }

  async testMigrate(machineId: string, request: TestMigrateRequest = {}): Promise<OperationRef> {
    const { site, item } = this.#address(machineId);
    const infra = await this.#infrastructure(site);
    let { networkId, recoveryPointId } = request;
    if (networkId === undefined || recoveryPointId === undefined) {
      // As Start-AzMigrateTestMigration: the item's test network and latest recovery point.
      const current = await this.#details(infra, item);
      networkId ??= current.testNetworkId;
      recoveryPointId ??= current.lastRecoveryPointId;
    }
    if (networkId === undefined) {
      throw new NonRetriableError(`Test migration of ${item}: no test network given nor set on the item`);
    }
    if (recoveryPointId === undefined) {
      throw new NonRetriableError(`Test migration of ${item}: the item has no recovery point yet`);
    }
    return this.#start('testMigrate', infra, item, (path, onResponse) =>
      this.#client.replicationMigrationItems.beginTestMigrate(
        ...path,
        {
          properties: {
            providerSpecificDetails: {
              instanceType: 'VMwareCbt',
              networkId,
              recoveryPointId,
              ...definedOnly({ osUpgradeVersion: request.osUpgradeVersion }),
            },
          },
        },
        { onResponse },
      ),
    );
  }

  async testMigrateCleanup(machineId: string, comments?: string): Promise<OperationRef> {
    const { site, item } = this.#address(machineId);
    const infra = await this.#infrastructure(site);
    return this.#start('testMigrateCleanup', infra, item, (path, onResponse) =>
      this.#client.replicationMigrationItems.beginTestMigrateCleanup(
        ...path,
        { properties: definedOnly({ comments }) },
        { onResponse },
      ),
    );
  }

  async migrate(machineId: string, request: MigrateRequest): Promise<OperationRef> {
    const { site, item } = this.#address(machineId);
    const infra = await this.#infrastructure(site);
    return this.#start('migrate', infra, item, (path, onResponse) =>
      this.#client.replicationMigrationItems.beginMigrate(
        ...path,
        {
          properties: {
            providerSpecificDetails: {
              instanceType: 'VMwareCbt',
              performShutdown: request.performShutdown ? 'true' : 'false',
              ...definedOnly({ osUpgradeVersion: request.osUpgradeVersion }),
            },
          },
        },
        { onResponse },
      ),
    );
  }

  async complete(machineId: string, options: { force?: boolean } = {}): Promise<OperationRef> {
    const { site, item } = this.#address(machineId);
    const infra = await this.#infrastructure(site);
    return this.#start('complete', infra, item, (path, onResponse) =>
      this.#client.replicationMigrationItems.beginDelete(...path, {
        onResponse,
        ...(options.force ? { deleteOption: 'ForceDelete' } : {}),
      }),
    );
  }

  async resync(machineId: string, skipCbtReset = true): Promise<OperationRef> {
    const { site, item } = this.#address(machineId);
    const infra = await this.#infrastructure(site);
    return this.#start('resync', infra, item, (path, onResponse) =>
      this.#client.replicationMigrationItems.beginResync(
        ...path,
        {
          properties: {
            providerSpecificDetails: {
              instanceType: 'VMwareCbt',
              skipCbtReset: skipCbtReset ? 'true' : 'false',
            },
          },
        },
        { onResponse },
      ),
    );
  }

  async getOperation(ref: OperationRef): Promise<OperationOutcome> {
    if (ref.statusUrl === undefined) {
      return ref.error === undefined ? { status: ref.status } : { status: ref.status, error: ref.error };
    }
    const url = new URL(ref.statusUrl);
    // Status URLs carry the api-version; one sent without a value gets the client's.
    if (!url.searchParams.get('api-version')) url.searchParams.set('api-version', this.#client.apiVersion);
    const response = await callArm(`Poll ${ref.action}`, () =>
      this.#client.sendRequest(createPipelineRequest({ url: url.toString(), method: 'GET' })),
    );
    // An error answer from an Azure-AsyncOperation URL is about the poll, not the operation; a
    // Location URL answers a failed operation with its error, except for throttling and 5xx.
    const pollFailed =
      response.status >= 400 &&
      (ref.statusKind !== 'location' || response.status === 429 || response.status >= 500);
    if (pollFailed) {
      throw toAzureError(
        Object.assign(new Error(`Polling ${ref.action} answered ${response.status}`), {
          name: 'RestError',
          statusCode: response.status,
          response,
        }),
        `Poll ${ref.action}`,
      );
    }
    const outcome = outcomeFromStatusResponse(response.status, parseBody(response.bodyAsText));
    const retryAfterMs = retryAfterMsOf(response);
    return retryAfterMs === undefined ? outcome : { ...outcome, retryAfterSeconds: retryAfterMs / 1000 };
  }

  async *list(): AsyncIterable<MigrationItemRecord> {
    const items = this.#client.replicationMigrationItems.list(this.#vault, this.#vaultGroup);
    try {
      for await (const item of items) yield toMigrationItemRecord(item);
    } catch (error) {
      throw toAzureError(error, 'List migration items');
    }
  }

  /**
   * Starts an LRO: `begin*` sends it and reads its status once (core-lro), never waiting further.
   * The accepting answer's headers make the ref; a failure reported by that first status read is
   * returned as data (status `Failed` with Azure's error from the status body).
   */
  async #start(
    action: string,
    infra: SiteInfrastructure,
    item: string,
    begin: (path: ItemPath, onResponse: (raw: RawResponse) => void) => Promise<StartedPoller>,
  ): Promise<OperationRef> {
    const resourceId = this.#itemId(infra, item);
    const path: ItemPath = [this.#vault, this.#vaultGroup, infra.fabricName, infra.containerName, item];
    let accepted: RawResponse | undefined;
    let last: RawResponse | undefined;
    // The answer of the Azure-AsyncOperation status URL, among the reads core-lro makes after it.
    let status: RawResponse | undefined;
    const onResponse = (raw: RawResponse) => {
      if (accepted !== undefined && status === undefined && this.#isStatusRead(accepted, raw)) status = raw;
      accepted ??= raw;
      last = raw;
    };
    const ref: OperationRef = { resourceId, action, status: 'InProgress' };
    try {
      const poller = await begin(path, onResponse);
      ref.status = normaliseStatus(poller.getOperationState().status);
    } catch (thrown) {
      if (accepted === undefined || accepted.status >= 400 || last === undefined) {
        throw toAzureError(thrown, `Start ${action}`);
      }
      // Accepted; a failed status read (throttled, 5xx) leaves the operation running as far as we know.
      if (!isRestError(thrown)) {
        const outcome = outcomeFromStatusResponse(last.status, bodyOf(last));
        ref.status = outcome.status === 'InProgress' ? 'Failed' : outcome.status;
        ref.error = outcome.error ?? {
          code: 'OperationFailed',
          message: thrown instanceof Error ? thrown.message : String(thrown),
        };
      }
    }
    const asyncOperation = accepted?.headers.get('azure-asyncoperation');
    const statusUrl = asyncOperation ?? accepted?.headers.get('location');
    // ARM sends absolute URLs; a relative one is resolved against the endpoint the request went to.
    if (statusUrl !== undefined) {
      ref.statusUrl = new URL(statusUrl, this.#endpoint).toString();
      ref.statusKind = asyncOperation === undefined ? 'location' : 'asyncOperation';
    }
    const startedAt = status !== undefined && status.status < 400 ? startTimeOf(bodyOf(status)) : undefined;
    if (startedAt !== undefined) ref.startedAt = startedAt;
    const retryAfter = Number(accepted?.headers.get('retry-after'));
    if (Number.isFinite(retryAfter) && retryAfter > 0) ref.retryAfterSeconds = retryAfter;
    return ref;
  }

  /** Whether `raw` answers a read of the Azure-AsyncOperation URL that `accepted` gave. */
  #isStatusRead(accepted: RawResponse, raw: RawResponse): boolean {
    const statusUrl = accepted.headers.get('azure-asyncoperation');
    if (statusUrl === undefined) return false;
    return new URL(statusUrl, this.#endpoint).pathname === new URL(raw.request.url).pathname;
  }

  async #details(infra: SiteInfrastructure, item: string): Promise<Partial<VMwareCbtMigrationDetails>> {
    const found = await callArm('Read migration item', () =>
      this.#client.replicationMigrationItems.get(
        this.#vault,
        this.#vaultGroup,
        infra.fabricName,
        infra.containerName,
        item,
      ),
    );
    const details = found.properties?.providerSpecificDetails;
    return details?.instanceType === 'VMwareCbt' ? (details as VMwareCbtMigrationDetails) : {};
  }

  /** The item's NICs with the new subnet on the primary NIC (Set-AzMigrateServerReplication's way). */
  async #primaryNicChange(
    infra: SiteInfrastructure,
    item: string,
    changes: UpdateMigrationItemRequest,
  ): Promise<VMwareCbtNicInput[]> {
    const nics = (await this.#details(infra, item)).vmNics ?? [];
    return nics
      .filter((nic) => nic.nicId !== undefined)
      .map((nic) => {
        const primary = (nic.isPrimaryNic ?? '').toLowerCase() === 'true';
        return {
          nicId: nic.nicId!,
          isPrimaryNic: nic.isPrimaryNic ?? 'false',
          ...definedOnly({
            targetSubnetName: primary
              ? (changes.targetSubnetName ?? nic.targetSubnetName)
              : nic.targetSubnetName,
            testSubnetName: primary ? (changes.testSubnetName ?? nic.testSubnetName) : nic.testSubnetName,
            isSelectedForMigration: nic.isSelectedForMigration,
            targetNicName: nic.targetNicName,
          }),
        };
      });
  }

  #address(machineId: string): { site: string; item: string } {
    const site = armIdValue(machineId, 'VMwareSites');
    const item = armIdValue(machineId, 'machines');
    if (site === undefined || item === undefined) {
      throw new NonRetriableError(
        `'${machineId}' is not a discovered VMware machine id (.../Microsoft.OffAzure/VMwareSites/{site}/machines/{name})`,
      );
    }
    return { site, item };
  }

  #itemId(infra: SiteInfrastructure, item: string): string {
    return (
      `/subscriptions/${this.#subscriptionId}/resourceGroups/${this.#vaultGroup}` +
      `/providers/Microsoft.RecoveryServices/vaults/${this.#vault}/replicationFabrics/${infra.fabricName}` +
      `/replicationProtectionContainers/${infra.containerName}/replicationMigrationItems/${item}`
    );
  }

  #infrastructure(site: string): Promise<SiteInfrastructure> {
    const key = site.toLowerCase();
    let found = this.#sites.get(key);
    if (found === undefined) {
      found = this.#resolve(site);
      found.catch(() => this.#sites.delete(key));
      this.#sites.set(key, found);
    }
    return found;
  }

  async #resolve(site: string): Promise<SiteInfrastructure> {
    const notInitialised = (what: string) =>
      new NonRetriableError(
        `The replication infrastructure of site '${site}' is not initialised (${what}); ` +
          'run Initialize-AzMigrateReplicationInfrastructure for the project',
      );
    let fabricName: string | undefined;
    await callArm('List replication fabrics', async () => {
      for await (const fabric of this.#client.replicationFabrics.list(this.#vault, this.#vaultGroup)) {
        const custom = fabric.properties?.customDetails as
          | { instanceType?: string; vmwareSiteId?: string }
          | undefined;
        const fabricSite = custom?.vmwareSiteId ? armIdValue(custom.vmwareSiteId, 'VMwareSites') : undefined;
        if (custom?.instanceType === 'VMwareV2' && fabricSite?.toLowerCase() === site.toLowerCase()) {
          fabricName = fabric.name;
          break;
        }
      }
    });
    if (fabricName === undefined) throw notInitialised('no VMwareV2 fabric for the site');
    const fabric = fabricName;
    let containerName: string | undefined;
    await callArm('List protection containers', async () => {
      for await (const container of this.#client.replicationProtectionContainers.listByReplicationFabrics(
        this.#vault,
        this.#vaultGroup,
        fabric,
      )) {
        containerName = container.name;
        break;
      }
    });
    if (containerName === undefined) throw notInitialised('no protection container in its fabric');
    const container = containerName;
    const mapping = await this.#vmwareCbtMapping(fabric, container);
    const policyId = mapping?.policyId ?? (await this.#policyFor(site));
    if (policyId === undefined) throw notInitialised('no VMwareCbt replication policy');
    let logStorageAccountId: string;
    if (this.#logStorageAccountId !== undefined) {
      logStorageAccountId = this.#logStorageAccountId;
    } else if (mapping?.keyVaultUri) {
      const hash = hashForArtifact(site + (mapping.targetLocation ?? ''));
      logStorageAccountId =
        `/subscriptions/${this.#subscriptionId}/resourceGroups/${this.#vaultGroup}` +
        `/providers/Microsoft.Storage/storageAccounts/migratelsa${hash}`;
    } else if (mapping?.storageAccountId) {
      logStorageAccountId = mapping.storageAccountId;
    } else {
      throw notInitialised(
        'no container mapping names the log storage account; set MIGRATE_LOG_STORAGE_ACCOUNT_ID',
      );
    }
    const storageName = logStorageAccountId.split('/').pop() ?? '';
    return {
      fabricName: fabric,
      containerName: container,
      policyId,
      logStorageAccountId,
      logStorageAccountSasSecretName: `${storageName}-cacheSas`,
    };
  }
  /** The container's VMwareCbt mapping (Az.Migrate names it `containermapping`), if any. */
  async #vmwareCbtMapping(fabric: string, container: string): Promise<MappingDetails | undefined> {
    const mappings = await readArm('List container mappings', () =>
      collect(
        this.#client.replicationProtectionContainerMappings.listByReplicationProtectionContainers(
          this.#vault,
          this.#vaultGroup,
          fabric,
          container,
        ),
      ),
    );
    for (const mapping of mappings ?? []) {
      const details = mapping.properties?.providerSpecificDetails as
        | Omit<MappingDetails, 'policyId'>
        | undefined;
      if (details?.instanceType === 'VMwareCbt') {
        return { ...details, ...definedOnly({ policyId: mapping.properties?.policyId }) };
      }
    }
    return undefined;
  }

  /**
   * Without a mapping: the policy Az.Migrate's initialisation creates (`migrate{site}policy`), else
   * the vault's only VMwareCbt policy.
   */
  async #policyFor(site: string): Promise<string | undefined> {
    const named = await readArm('Read replication policy', () =>
      this.#client.replicationPolicies.get(this.#vault, this.#vaultGroup, `migrate${site}policy`),
    );
    if (named?.id !== undefined) return named.id;
    const policies = await callArm('List replication policies', () =>
      collect(this.#client.replicationPolicies.list(this.#vault, this.#vaultGroup)),
    );
    const vmwareCbt = policies.filter(
      (p) => p.properties?.providerSpecificDetails?.instanceType === 'VMwareCbt',
    );
    return vmwareCbt.length === 1 ? vmwareCbt[0]?.id : undefined;
  }
}

/** The defined values only, so records and request bodies carry no `undefined` fields. */
function definedOnly<T extends Record<string, unknown>>(values: T): Partial<T> {
  const result: Partial<T> = {};
  for (const [key, value] of Object.entries(values)) {
    if (value !== undefined) (result as Record<string, unknown>)[key] = value;
  }
  return result;
}

function parseBody(text: string | undefined | null): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

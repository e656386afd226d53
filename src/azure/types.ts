/**
 * What activities call to touch Azure. Each gateway maps the SDK's models to plain records (no SDK
 * types leak out), retries transient failures and 429s inside the SDK pipeline honouring
 * Retry-After, and throws the typed errors of `src/domain/errors.ts` when it gives up.
 *
 * Long-running operations follow "Start, then wait" (DESIGN.md): a start call returns once ARM has
 * accepted the request (the SDK's `begin*` sends it and reads the operation status once), with an
 * `OperationRef`; it never waits for the operation to finish. The orchestration then waits on a
 * durable timer or an event and reads the resource (or `getOperation`) to learn the outcome.
 */
import type { AzureErrorInfo } from '../domain/errors';

// ---------------------------------------------------------------------------------------------
// Long-running operations

export type OperationStatus = 'InProgress' | 'Succeeded' | 'Failed' | 'Canceled';

export interface OperationRef {
  /** ARM id of the resource the operation acts on. */
  resourceId: string;
  /** What was started, e.g. `enable`, `testMigrate`, `migrate`, `complete`. */
  action: string;
  /** Status as of the answer to the start call (`Succeeded` when ARM finished it synchronously). */
  status: OperationStatus;
  /** URL to poll (Azure-AsyncOperation, else Location); absent when the operation finished at once. */
  statusUrl?: string;
  /** Which header gave `statusUrl`: they answer a poll differently. */
  statusKind?: 'asyncOperation' | 'location';
  /** Seconds ARM asked us to wait before polling (Retry-After of the accepting answer). */
  retryAfterSeconds?: number;
  /** Failure reported while starting (status `Failed`). */
  error?: AzureErrorInfo;
  /**
   * When Azure started the operation, by Azure's clock (epoch ms): the `startTime` of its first
   * Azure-AsyncOperation status, when that said. Unlike the caller's clock before the call, it does
   * not count the time the request waited to be sent.
   */
  startedAt?: number;
}

export interface OperationOutcome {
  status: OperationStatus;
  error?: AzureErrorInfo;
  /** Seconds to wait before polling again, when ARM said. */
  retryAfterSeconds?: number;
}

// ---------------------------------------------------------------------------------------------
// Site Recovery migration items (VMwareCbt)

/** `migrationState` values (open set: Azure adds values). */
export type MigrationState =
  | 'None'
  | 'EnableMigrationInProgress'
  | 'EnableMigrationFailed'
  | 'DisableMigrationInProgress'
  | 'DisableMigrationFailed'
  | 'InitialSeedingInProgress'
  | 'InitialSeedingFailed'
  | 'Replicating'
  | 'MigrationInProgress'
  | 'MigrationSucceeded'
  | 'MigrationFailed'
  | 'ResumeInProgress'
  | 'ResumeInitiated'
  | 'SuspendingProtection'
  | 'ProtectionSuspended'
  | 'MigrationCompletedWithInformation'
  | 'MigrationPartiallySucceeded'
  | (string & {});

export type TestMigrateState =
  | 'None'
  | 'TestMigrationInProgress'
  | 'TestMigrationSucceeded'
  | 'TestMigrationFailed'
  | 'TestMigrationCleanupInProgress'
  | 'TestMigrationCompletedWithInformation'
  | 'TestMigrationPartiallySucceeded'
  | (string & {});

export type MigrationOperation =
  | 'DisableMigration'
  | 'TestMigrate'
  | 'TestMigrateCleanup'
  | 'Migrate'
  | 'StartResync'
  | 'PauseReplication'
  | 'ResumeReplication'
  | (string & {});

export interface HealthIssue {
  code: string;
  message: string;
  possibleCauses?: string;
  recommendedAction?: string;
  severity?: string;
  /** ISO instant. */
  createdAt?: string;
}

export interface JobSummary {
  /** Job resource name (the id under `replicationJobs`). */
  name: string;
  id?: string;
  /** e.g. `EnableMigration`, `TestMigrate`, `Migrate`. */
  scenario?: string;
  /** e.g. `InProgress`, `Succeeded`, `Failed`. */
  state?: string;
  /** ISO instant. */
  startedAt?: string;
}

/** A migration item as the pipeline needs it. */
export interface MigrationItemRecord {
  /** ARM id of the migration item (events name it in `resourceUri`). */
  id: string;
  name: string;
  /** Discovered VMware machine (ARM id) this item replicates. */
  machineId?: string;
  machineName?: string;
  migrationState: MigrationState;
  migrationStateDescription?: string;
  testMigrateState: TestMigrateState;
  testMigrateStateDescription?: string;
  allowedOperations: MigrationOperation[];
  /** `Normal`, `Warning`, `Critical`. */
  health?: string;
  healthErrors: HealthIssue[];
  currentJob?: JobSummary;
  /** 0-100. */
  initialSeedingProgressPercent?: number;
  /** 0-100. */
  migrationProgressPercent?: number;
  resyncRequired: boolean;
  lastRecoveryPointId?: string;
  /** ISO instant. */
  lastRecoveryPointReceived?: string;
  /** ISO instant. */
  lastTestMigrationTime?: string;
  /** ISO instant. */
  lastMigrationTime?: string;
  targetVmName?: string;
  targetVmSize?: string;
  targetResourceGroupId?: string;
  targetNetworkId?: string;
  testNetworkId?: string;
}

export type AzureDiskType = 'Standard_LRS' | 'StandardSSD_LRS' | 'Premium_LRS';

export interface DiskToInclude {
  /** VMware disk id (UUID as discovered). */
  diskId: string;
  isOSDisk: boolean;
  diskType?: AzureDiskType;
  diskEncryptionSetId?: string;
}

/** Everything the plan decides for one machine; the gateway adds run-as accounts, policy, log storage. */
export interface EnableReplicationRequest {
  /** ARM id of the discovered VMware machine (`.../VMwareSites/{site}/machines/{name}`). */
  machineId: string;
  disks: DiskToInclude[];
  targetResourceGroupId: string;
  targetNetworkId: string;
  targetSubnetName?: string;
  testNetworkId?: string;
  testSubnetName?: string;
  targetVmName?: string;
  targetVmSize?: string;
  targetAvailabilitySetId?: string;
  targetAvailabilityZone?: string;
  licenseType?: 'WindowsServer' | 'NoLicenseType';
  sqlServerLicenseType?: 'NoLicenseType' | 'PAYG' | 'AHUB';
  performAutoResync?: boolean;
  vmTags?: Record<string, string>;
  diskTags?: Record<string, string>;
  nicTags?: Record<string, string>;
}

export type EnableResult =
  /** The item did not exist; ARM accepted the enable. */
  | { started: true; operation: OperationRef }
  /** The item already exists (a replay or an earlier run): nothing was sent. */
  | { started: false; item: MigrationItemRecord };

/** Post-replication edits (PATCH); only the fields given are changed. */
export interface UpdateMigrationItemRequest {
  targetVmName?: string;
  targetVmSize?: string;
  targetResourceGroupId?: string;
  targetNetworkId?: string;
  targetSubnetName?: string;
  testNetworkId?: string;
  testSubnetName?: string;
  targetAvailabilitySetId?: string;
  targetAvailabilityZone?: string;
  licenseType?: 'WindowsServer' | 'NoLicenseType';
  sqlServerLicenseType?: 'NoLicenseType' | 'PAYG' | 'AHUB';
  vmTags?: Record<string, string>;
  diskTags?: Record<string, string>;
  nicTags?: Record<string, string>;
}

export interface TestMigrateRequest {
  /** ARM id of the test network; defaults to the item's `testNetworkId`. */
  networkId?: string;
  /** Recovery point to test; defaults to the item's latest. */
  recoveryPointId?: string;
  osUpgradeVersion?: string;
}

export interface MigrateRequest {
  /** Shut the source VM down before the final sync (no data loss). */
  performShutdown: boolean;
  osUpgradeVersion?: string;
}

/**
 * Site Recovery migration items, addressed by the discovered VMware machine's ARM id (the key the
 * inventory gives). The gateway finds the replication fabric and container of the machine's site
 * (as Az.Migrate does) and names the item after the machine.
 *
 * Start calls do not check `allowedOperations`: the activity reads the item first (`get`) and
 * decides; ARM refuses a forbidden operation with an error that surfaces as `AzureOperationError`.
 */
export interface MigrationGateway {
  /** The item, or undefined when the machine is not replicating (404). */
  get(machineId: string): Promise<MigrationItemRecord | undefined>;
  /** Reads first: starts the enable only if no item exists for the machine. */
  enable(request: EnableReplicationRequest): Promise<EnableResult>;
  update(machineId: string, changes: UpdateMigrationItemRequest): Promise<OperationRef>;
  testMigrate(machineId: string, request?: TestMigrateRequest): Promise<OperationRef>;
  testMigrateCleanup(machineId: string, comments?: string): Promise<OperationRef>;
  migrate(machineId: string, request: MigrateRequest): Promise<OperationRef>;
  /** Completes the migration: deletes the item, which stops replication and frees the appliance slot. */
  complete(machineId: string, options?: { force?: boolean }): Promise<OperationRef>;
  resync(machineId: string, skipCbtReset?: boolean): Promise<OperationRef>;
  /** Polls a started operation once (a GET on its status URL). */
  getOperation(ref: OperationRef): Promise<OperationOutcome>;
  /** Every migration item in the vault (all fabrics and containers). */
  list(): AsyncIterable<MigrationItemRecord>;
}

// ---------------------------------------------------------------------------------------------
// Azure Migrate discovery and assessment

export type Suitability =
  | 'Suitable'
  | 'ConditionallySuitable'
  | 'NotSuitable'
  | 'ReadinessUnknown'
  | 'Unknown';

/** Assessment's recommended disk family (`AzureDiskType` in arm-migrate). */
export type RecommendedDiskType = 'Standard' | 'StandardSSD' | 'Premium' | 'StandardOrPremium' | 'Unknown';

export interface InventoryDisk {
  /** VMware disk id (the key of the assessed machine's `disks` map). */
  diskId: string;
  displayName?: string;
  sizeGB?: number;
  recommendedDiskType?: RecommendedDiskType;
  suitability?: Suitability;
  suitabilityExplanation?: string;
}

export interface InventoryNic {
  id: string;
  macAddress?: string;
  ipAddresses: string[];
}

/** A discovered machine joined with its assessment result, as the Inventory shows it. */
export interface InventoryMachine {
  /** ARM id of the discovered VMware machine (the assessment's `datacenterMachineArmId`). */
  machineId: string;
  displayName: string;
  /** ARM id of the Microsoft.Migrate machine (assessment project). */
  projectMachineId?: string;
  /** ARM id of the vCenter the machine belongs to. */
  managementServerId?: string;
  bootType?: 'BIOS' | 'EFI' | 'Unknown';
  osType?: string;
  osName?: string;
  osVersion?: string;
  cores?: number;
  memoryMB?: number;
  recommendedSize?: string;
  /** `Unknown` when the machine is not in the assessment. */
  suitability: Suitability;
  suitabilityExplanation?: string;
  disks: InventoryDisk[];
  nics: InventoryNic[];
}

export interface AssessmentGateway {
  /** Every discovered machine of the project, each with its result in the configured assessment. */
  listInventory(): Promise<InventoryMachine[]>;
}

// ---------------------------------------------------------------------------------------------
// Compute and network

export interface VmRecord {
  id: string;
  name: string;
  resourceGroup: string;
  location: string;
  vmSize?: string;
  /** e.g. `Succeeded`, `Creating`, `Failed`. */
  provisioningState?: string;
  /** From the instance view: `running`, `stopped`, `deallocated`, ... (`PowerState/` removed); undefined if not asked. */
  powerState?: string;
  /** VM agent status from the instance view, e.g. `Ready`, `Not Ready`; undefined if unknown. */
  vmAgentStatus?: string;
  osType?: 'Windows' | 'Linux';
  tags: Record<string, string>;
}

export interface VmSku {
  name: string;
  family?: string;
  vCpus?: number;
  memoryGB?: number;
  zones: string[];
  /** True when a restriction makes the size unavailable to this subscription in the region. */
  restricted: boolean;
}

export interface ComputeGateway {
  /** The VM with its instance view (power state, agent), or undefined (404). */
  getVm(resourceGroup: string, name: string): Promise<VmRecord | undefined>;
  /** VMs of a resource group, without instance view. */
  listVms(resourceGroup: string): Promise<VmRecord[]>;
  /** Virtual machine sizes offered in a region. */
  listSkus(location: string): Promise<VmSku[]>;
}

export interface SubnetRecord {
  id: string;
  name: string;
  addressPrefix?: string;
}

export interface VnetRecord {
  id: string;
  name: string;
  resourceGroup: string;
  location: string;
  addressPrefixes: string[];
  subnets: SubnetRecord[];
}

export interface NetworkGateway {
  /** Every virtual network of the subscription, with its subnets. */
  listVnets(): Promise<VnetRecord[]>;
  getVnet(resourceGroup: string, name: string): Promise<VnetRecord | undefined>;
}

// ---------------------------------------------------------------------------------------------
// Onboarding (Automanage today; a policy-based method may follow its 2027 retirement)

export type OnboardingProfile =
  | { kind: 'Production' }
  | { kind: 'DevTest' }
  /** ARM id of a custom configuration profile. */
  | { kind: 'Custom'; profileId: string };

export interface OnboardingReport {
  id: string;
  /** `Initial` or `Consistency`. */
  type?: string;
  /** e.g. `Conformant`, `NonConformant`, `InProgress`. */
  status?: string;
  startTime?: string;
  endTime?: string;
  error?: AzureErrorInfo;
  /** Per configured resource: its name, type and status, with errors. */
  resources: { name?: string; type?: string; status?: string; error?: AzureErrorInfo }[];
}

export interface OnboardingStatus {
  /** ARM id of the assignment. */
  id: string;
  /** Configuration profile id the VM is assigned to. */
  profileId: string;
  /** Assignment status: `In-progress`, `Configured`, `Failed`, `Pending` (VM not running), ... */
  status?: string;
  /** When the assignment was last written, by Azure's clock (epoch ms; ARM's `systemData`). */
  assignedAt?: number;
}

/** How far the configuration of an assigned VM is. */
export interface OnboardingProgress {
  /** The most recent report, when any. */
  latestReport?: OnboardingReport;
  /** The assignment's status, read only when the latest report does not say Conformant. */
  status?: string;
}

export interface OnboardingGateway {
  /** Assigns the VM (ARM id) to the profile as the `default` assignment; a replay is a no-op PUT. */
  assign(vmId: string, profile: OnboardingProfile): Promise<OnboardingStatus>;
  /** The assignment, or undefined when the VM has none. */
  getAssignment(vmId: string): Promise<OnboardingStatus | undefined>;
  /**
   * The assignment's latest report and, unless it says Conformant, the assignment's status: one
   * read once the VM is configured. Undefined when the VM has no assignment.
   */
  getProgress(vmId: string): Promise<OnboardingProgress | undefined>;
  /** Removes the assignment (stops drift monitoring; off-boards nothing). Absent is fine. */
  remove(vmId: string): Promise<void>;
  /** Regions where this onboarding method is available (lower-case, no spaces: `westeurope`). */
  supportsRegion(location: string): boolean;
}

// ---------------------------------------------------------------------------------------------
// Lifecycle events (custom Event Grid topic)

export interface StageChangeEvent {
  /** Unique per change, so subscribers can drop duplicates. */
  id: string;
  waveId: string;
  machineName: string;
  /** ARM id of the migration item or VM, when known. */
  resourceId?: string;
  from?: string;
  to: string;
  /** ISO instant of the change. */
  at: string;
  reason?: string;
  error?: AzureErrorInfo;
}

/** Any other event the factory publishes (docs/events.md): managed VMs, remediations, waves. */
export interface FactoryEvent {
  /** Unique per fact, so subscribers drop duplicates (delivery is at least once). */
  id: string;
  eventType: string;
  /** e.g. the VM's ARM id, or `/waves/{waveId}`. */
  subject: string;
  /** ISO instant of the fact. */
  at: string;
  data: Record<string, unknown>;
}

export interface LifecyclePublisher {
  /** Publishes stage changes (Event Grid schema, type `Factory.Machine.StageChanged`). */
  publish(events: StageChangeEvent[]): Promise<void>;
  /** Publishes other factory events on the same topic. */
  send(events: FactoryEvent[]): Promise<void>;
}

/** Everything activities reach Azure through. */
export interface AzureGateways {
  migration: MigrationGateway;
  assessment: AssessmentGateway;
  compute: ComputeGateway;
  network: NetworkGateway;
  onboarding: OnboardingGateway;
  lifecycle: LifecyclePublisher;
}

/**
 * In-memory store of the vault's migration items and jobs, with the appliance slots they hold and
 * the side effects (VMs in Compute) already applied for them.
 */
import { createHash } from 'node:crypto';
import type { MigrationItemRecord } from './state';

export type Scenario =
  | 'EnableMigration'
  | 'UpdateMigrationItem'
  | 'StartResync'
  | 'PauseReplication'
  | 'ResumeReplication'
  | 'TestMigrate'
  | 'TestMigrateCleanup'
  | 'Migrate'
  | 'DisableMigration';

export const JOB_FRIENDLY_NAMES: Record<Scenario, string> = {
  EnableMigration: 'Enable replication',
  UpdateMigrationItem: 'Update replication settings',
  StartResync: 'Resynchronize replication',
  PauseReplication: 'Pause replication',
  ResumeReplication: 'Resume replication',
  TestMigrate: 'Test migration',
  TestMigrateCleanup: 'Clean up test migration',
  Migrate: 'Migrate',
  DisableMigration: 'Stop replication',
};

export interface JobRecord {
  name: string;
  scenario: Scenario;
  itemId: string;
  itemName: string;
  machineName: string;
  startAt: number;
  doneAt: number;
  /** Error the job ends with, when its outcome is a failure. */
  failure?: { code: string; message: string; possibleCauses: string; recommendedAction: string };
}

/** What the provider already did in Compute for an item, so settling twice does nothing twice. */
export interface AppliedEffects {
  testVmId?: string;
  targetVmId?: string;
}

type IndexName = 'appliance' | 'machine' | 'target';

/** The keys an item is found by without a scan of the vault (see SiteRecoveryStore's indexes). */
function indexKeys(record: MigrationItemRecord): { index: IndexName; key: string }[] {
  return [
    { index: 'appliance', key: record.appliance },
    { index: 'machine', key: record.settings.vmwareMachineId.toLowerCase() },
    { index: 'target', key: targetKey(record.settings.targetResourceGroupId, record.settings.targetVmName) },
  ];
}

function targetKey(resourceGroupId: string, vmName: string): string {
  return `${resourceGroupId}|${vmName}`.toLowerCase();
}

export class SiteRecoveryStore {
  private readonly items = new Map<string, MigrationItemRecord>();
  /** Item ids by appliance, by VMware machine id and by target VM (resource group and name). */
  private readonly indexes: Record<IndexName, Map<string, Set<string>>> = {
    appliance: new Map(),
    machine: new Map(),
    target: new Map(),
  };
  private readonly jobs = new Map<string, JobRecord>();
  private readonly effects = new Map<string, AppliedEffects>();
  /** Test VMs created by test migrations, by VM id, kept after their item is gone. */
  readonly testVms = new Set<string>();
  /** Source machines a migration shut down (performShutdown), by estate machine name. */
  readonly shutDownSources = new Set<string>();
  duplicateMigrateCalls = 0;
  private jobCounter = 0;

  constructor(private readonly vaultId: string) {}

  getItem(id: string): MigrationItemRecord | undefined {
    return this.items.get(id.toLowerCase());
  }

  putItem(record: MigrationItemRecord): void {
    const id = record.id.toLowerCase();
    this.#unindex(id);
    this.items.set(id, record);
    for (const { index, key } of indexKeys(record)) {
      const ids = this.indexes[index].get(key) ?? new Set<string>();
      ids.add(id);
      this.indexes[index].set(key, ids);
    }
  }

  removeItem(id: string): void {
    this.#unindex(id.toLowerCase());
    this.items.delete(id.toLowerCase());
  }

  #unindex(id: string): void {
    const previous = this.items.get(id);
    if (previous === undefined) return;
    for (const { index, key } of indexKeys(previous)) {
      const ids = this.indexes[index].get(key);
      ids?.delete(id);
      if (ids?.size === 0) this.indexes[index].delete(key);
    }
  }

  #found(index: IndexName, key: string): MigrationItemRecord[] {
    return [...(this.indexes[index].get(key) ?? [])].map((id) => this.items.get(id)!);
  }

  /** The appliance's items (each enable counts its replications). */
  itemsOfAppliance(appliance: string): MigrationItemRecord[] {
    return this.#found('appliance', appliance);
  }

  /** The items replicating this VMware machine. */
  itemsOfMachine(vmwareMachineId: string): MigrationItemRecord[] {
    return this.#found('machine', vmwareMachineId.toLowerCase());
  }

  /** The items whose target VM is this one. */
  itemsTargeting(resourceGroupId: string, vmName: string): MigrationItemRecord[] {
    return this.#found('target', targetKey(resourceGroupId, vmName));
  }

  allItems(): MigrationItemRecord[] {
    return [...this.items.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  effectsOf(id: string): AppliedEffects {
    let fx = this.effects.get(id.toLowerCase());
    if (!fx) {
      fx = {};
      this.effects.set(id.toLowerCase(), fx);
    }
    return fx;
  }

  /** A fresh job name: a GUID derived from the vault and a counter, so runs repeat exactly. */
  newJobName(): string {
    this.jobCounter += 1;
    const hex = createHash('sha256')
      .update(`${this.vaultId.toLowerCase()}#job${this.jobCounter}`)
      .digest('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  }

  addJob(job: JobRecord): void {
    this.jobs.set(job.name.toLowerCase(), job);
  }

  getJob(name: string): JobRecord | undefined {
    return this.jobs.get(name.toLowerCase());
  }

  allJobs(): JobRecord[] {
    return [...this.jobs.values()].sort((a, b) => a.startAt - b.startAt || a.name.localeCompare(b.name));
  }
}

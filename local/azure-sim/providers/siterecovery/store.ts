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

export class SiteRecoveryStore {
  private readonly items = new Map<string, MigrationItemRecord>();
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
    this.items.set(record.id.toLowerCase(), record);
  }

  removeItem(id: string): void {
    this.items.delete(id.toLowerCase());
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

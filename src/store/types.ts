/**
 * The migration journal: what operators query (waves, machines, stages, timestamps, errors, who
 * approved what) and the audit trail of every stage change. Activities write it; HTTP handlers
 * read it, so a 10,000-machine wave pages fast without asking the durable engine.
 *
 * Machines are identified within a wave by name, compared case-insensitively (vCenter display
 * names). Every write is idempotent: a retried activity never counts or audits a change twice.
 */
import type { AzureErrorInfo } from '../domain/errors';
import type { Stage, StepDuration, StepDurations } from '../domain/lifecycle';

export type CutoverMode = 'auto' | 'approval' | 'window';

/** `Creating` until every machine row exists; the wave orchestration starts after that. */
/** `Paused`: the wave admits no machine and holds its running ones before their next Azure action. */
export type WaveStatus = 'Creating' | 'Running' | 'Paused' | 'Completed' | 'Cancelled';

export interface WaveRecord {
  id: string;
  name: string;
  status: WaveStatus;
  cutover: CutoverMode;
  machineCount: number;
  /** ISO instants. */
  createdAt: string;
  updatedAt: string;
  completedAt?: string;
  createdBy?: string;
  /** Durable instance id of the wave orchestration. */
  instanceId?: string;
  /** Wave-level settings as given (maintenance window, onboarding profile, ...), JSON-serialisable. */
  options: Record<string, unknown>;
  etag: string;
}

export interface MachineRecord {
  waveId: string;
  name: string;
  stage: Stage;
  /** The stage a `Failed` machine failed in. */
  failedStage?: Stage;
  /** ISO instant of the latest stage change. */
  stageChangedAt: string;
  /** ISO instant each stage was last entered. */
  stageTimes: Partial<Record<Stage, string>>;
  createdAt: string;
  updatedAt: string;
  /** The last failure (kept after a retry succeeds, until the next failure or `Done`). */
  error?: AzureErrorInfo;
  approvedBy?: string;
  approvedAt?: string;
  /** ARM id of the discovered VMware machine. */
  machineId?: string;
  migrationItemId?: string;
  targetVmId?: string;
  /** Durable instance id of the machine's pipeline orchestration. */
  instanceId?: string;
  /** 0-100, of the current stage's Azure operation (seeding, migration). */
  progressPercent?: number;
  /** The machine's plan entry, JSON-serialisable (at most 30,000 characters serialised). */
  plan?: Record<string, unknown>;
  etag: string;
}

export type AuditKind = 'StageChanged' | 'Approved';

export interface AuditEvent {
  id: string;
  waveId: string;
  machineName: string;
  kind: AuditKind;
  /** ISO instant. */
  at: string;
  from?: Stage;
  to?: Stage;
  actor?: string;
  reason?: string;
  error?: AzureErrorInfo;
}

export interface NewMachine {
  name: string;
  machineId?: string;
  plan?: Record<string, unknown>;
}

export interface NewWave {
  id: string;
  name: string;
  cutover: CutoverMode;
  createdBy?: string;
  options?: Record<string, unknown>;
  machines: NewMachine[];
  /** ISO instant. */
  at: string;
}

export type CreateWaveResult =
  /** Created now, or finished now after an earlier attempt with the same key stopped half-way. */
  | { kind: 'created'; wave: WaveRecord }
  /** The idempotency key was used before with the same request: that wave, unchanged. */
  | { kind: 'existing'; wave: WaveRecord }
  /** The idempotency key was used before with a different request. */
  | { kind: 'keyReused'; waveId: string }
  /** Some machines are in a wave that has not finished with them; nothing was created. */
  | { kind: 'machinesActive'; active: ActiveMachine[] };

export interface ActiveMachine {
  name: string;
  waveId: string;
}

export interface StageChange {
  waveId: string;
  machineName: string;
  to: Stage;
  /** ISO instant of the change (the caller's clock: orchestration time passed to the activity). */
  at: string;
  /**
   * Unique id of this change (e.g. `${instanceId}:${step}`). A change whose id the machine already
   * recorded is a replay: nothing is written and the current record is returned.
   */
  changeId: string;
  /** Only apply when the machine is in one of these stages; otherwise `ConcurrencyError`. */
  ifStageIn?: Stage[];
  /** Required when `to` is `Failed`; cleared by `Done`. */
  error?: AzureErrorInfo;
  reason?: string;
  actor?: string;
  details?: MachineDetails;
  /** How long the step that ended with this change took; the machine's shard learns from it. */
  took?: StepDuration;
}

/** Fields an activity may set without changing the stage. */
export interface MachineDetails {
  machineId?: string;
  migrationItemId?: string;
  targetVmId?: string;
  instanceId?: string;
  progressPercent?: number;
}

export interface Page<T> {
  items: T[];
  /** Opaque; absent on the last page. */
  continuationToken?: string;
}

export interface PageRequest {
  /** At most 1000 (Table storage's page size). */
  pageSize?: number;
  continuationToken?: string;
}

export type StageCounts = Record<Stage, number>;

export interface Journal {
  /**
   * Creates the wave and a `Queued` row per machine, reserving each machine so no other wave takes
   * it until it reaches a final stage. With the same idempotency key, a retry returns (or finishes)
   * the same wave.
   */
  createWave(wave: NewWave, idempotencyKey?: string): Promise<CreateWaveResult>;
  getWave(waveId: string): Promise<WaveRecord | undefined>;
  /** Newest first. */
  listWaves(page?: PageRequest): Promise<Page<WaveRecord>>;
  updateWave(
    waveId: string,
    patch: { status?: WaveStatus; instanceId?: string; completedAt?: string; at: string },
  ): Promise<WaveRecord>;

  getMachine(waveId: string, name: string): Promise<MachineRecord | undefined>;
  /** In name order; `stage` filters server-side. */
  listMachines(waveId: string, query?: PageRequest & { stage?: Stage }): Promise<Page<MachineRecord>>;
  /** Applies a stage change atomically with its audit event and the wave's counts (ETag-checked). */
  recordStage(change: StageChange): Promise<MachineRecord>;
  /**
   * Applies stage changes in order: each machine's consecutive changes in one batch, as
   * `recordStage` applies one (a change that `ifStageIn` refuses refuses the others of its batch).
   */
  recordStages(changes: StageChange[]): Promise<void>;
  /** Sets details without a stage change (no audit event). */
  updateMachine(waveId: string, name: string, details: MachineDetails, at: string): Promise<MachineRecord>;
  /** Records who approved the cut-over (idempotent per machine: the first approval stands). */
  recordApproval(waveId: string, name: string, approver: string, at: string): Promise<MachineRecord>;
  /**
   * The typical durations of timed steps learned from the stage changes of the machine's shard of
   * the wave (`StageChange.took`); empty until a machine of the shard finished one.
   */
  stepDurations(waveId: string, name: string): Promise<StepDurations>;
  /** Machines per stage, read from per-wave counters (a few entities, not the whole wave). */
  countByStage(waveId: string): Promise<StageCounts>;
  /** Audit events of a wave (or one machine of it), oldest first. */
  listAudit(waveId: string, query?: PageRequest & { machineName?: string }): Promise<Page<AuditEvent>>;
  /** Which of these machines are held by a wave that has not finished with them. */
  findActive(names: string[]): Promise<ActiveMachine[]>;
  /**
   * Holds a machine for its wave again (a retry of a machine whose final stage had released it),
   * as the caller read it. Answers the id of another wave that holds it meanwhile, else undefined.
   */
  reserveMachine(machine: MachineRecord): Promise<string | undefined>;
}

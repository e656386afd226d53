/**
 * The journal over a `TableStore`. Layout (table names carry the configured prefix):
 *
 * - `{prefix}Waves`: PartitionKey `wave`, RowKey wave id: the wave records. PartitionKey `byTime`,
 *   RowKey inverted creation time + id: the newest-first index. PartitionKey `idempotency`, RowKey
 *   SHA-256 of the key: which wave a POST created.
 * - `{prefix}Machines`: a wave's machines, split in key order into shards of consecutive machines
 *   (at least `MIN_SHARDS`, at most `MAX_MACHINES_PER_SHARD` machines each), a partition per shard:
 *   PartitionKey `{waveId}|{shard, 4 digits}`, RowKey `m|{name}`: a machine; `c`: counts by stage of
 *   the shard's machines; `a|{name}|{at}|{change}`: audit events. A stage change updates its
 *   machine, its shard's counts and adds its audit event in one batch, ETag-checked, so counts never
 *   drift. PartitionKey `{waveId}`, RowKey `shards`: the first name of every shard but the first;
 *   written before the machines and never changed, it is read once per process and wave.
 *   Why: Azurite (lokijs) finds a row by collecting every row of its partition and scanning them
 *   for the RowKey, ~40 us per 1,000 rows of the partition for every point read or write. A shard
 *   holds at most 64 machines with ~12 audit events each however large the wave, where one partition
 *   per wave held 13,000 rows at 1,000 machines. Shards in key order list the wave in name order with
 *   one query over its partitions; counting reads one row per shard.
 * - `{prefix}ActiveMachines`: PartitionKey `active`, RowKey machine name: the wave holding it until
 *   it reaches a final stage. A reservation left behind by a crash is taken over once the holding
 *   wave's machine is final. A retry reserves its final machine again, marked with the stage change
 *   it retries (`retriedFrom`), which holds until its run records a stage (or for `RETRY_HOLD_MS`).
 *
 * Names are keys in lower case, URI-encoded (RowKey forbids `/`, `\`, `#`, `?`); `|` never occurs
 * in an encoded name nor in a wave id, so it separates key parts.
 */
import { createHash } from 'node:crypto';
import { type AzureErrorInfo, ConcurrencyError, NonRetriableError } from '../domain/errors';
import {
  blendDuration,
  isFinalStage,
  STAGES,
  type Stage,
  type StepDurations,
  TIMED_STEPS,
  type TimedStep,
} from '../domain/lifecycle';
import {
  chunks,
  inParallel,
  MAX_BATCH,
  type Row,
  RowCache,
  RowExistsError,
  RowMissingError,
  type RowOperation,
  type RowQuery,
  type TableStore,
  Turns,
} from './tables';
import type {
  ActiveMachine,
  AuditEvent,
  AuditKind,
  CreateWaveResult,
  Journal,
  MachineDetails,
  MachineRecord,
  NewWave,
  Page,
  PageRequest,
  StageChange,
  StageCounts,
  WaveRecord,
  WaveStatus,
} from './types';

/** Fewest shards of a wave (unless it has fewer machines): changes in different shards never contend. */
export const MIN_SHARDS = 16;
/**
 * Most machines in a shard: with ~12 audit events each its partition holds ~830 rows (~35 us of
 * Azurite's scan per point read). Smaller shards would make counting dearer (a read per shard);
 * a shard and its counts are created in one batch (at most 100 rows).
 */
export const MAX_MACHINES_PER_SHARD = 64;
/** Most machines in a wave: shard numbers have four digits. */
const MAX_WAVE_MACHINES = 10_000 * MAX_MACHINES_PER_SHARD;
/** Shard maps kept in memory; a map never changes once written. */
const CACHED_SHARD_MAPS = 100;
/**
 * Machine and counts rows kept as last read or written here, for the read-modify-writes of stage
 * changes. Every write checks the row's ETag, so a row another writer changed costs one retry with a
 * fresh read, never a lost update.
 */
const CACHED_ROWS = 4_096;
/** Longest string property (Table storage allows 32K UTF-16 units). */
const MAX_STRING_CHARS = 30_000;
/** Change ids remembered per machine to recognise a replayed activity. */
const REMEMBERED_CHANGES = 10;
/** Stage changes of a machine written in one batch (each adds an audit row; a batch holds 100). */
const MAX_CHANGES_PER_BATCH = 50;
/** Longest wait of a stage change for the one before it in its shard (`Turns`), in ms. */
const TURN_WAIT_MS = 30_000;
/** Attempts of a read-modify-write that lost an ETag race before giving up with ConcurrencyError. */
const MAX_ATTEMPTS = 25;
/** Longest plan entry stored with a machine. */
const MAX_PLAN_CHARS = MAX_STRING_CHARS;

const WAVE_PK = 'wave';
const BY_TIME_PK = 'byTime';
const IDEMPOTENCY_PK = 'idempotency';
const ACTIVE_PK = 'active';
/**
 * Above this many machines, `findActive` reads the whole reservation partition (a request per
 * 1,000 reserved machines of every wave) instead of one row per machine: a 959-machine plan took
 * 959 reads, about 1.5 s of its submission.
 */
const SCAN_RESERVATIONS_ABOVE = 100;
/** Real ms a retry's reservation holds a machine still in its final stage (until its run records one). */
const RETRY_HOLD_MS = 10 * 60_000;

export interface TableNames {
  waves: string;
  machines: string;
  active: string;
}

export function tableNames(prefix: string): TableNames {
  return { waves: `${prefix}Waves`, machines: `${prefix}Machines`, active: `${prefix}ActiveMachines` };
}

export function machineKey(name: string): string {
  return encodeURIComponent(name.trim().toLowerCase());
}

/**
 * The first key of every shard but the first, for a wave of these machine keys: as many shards as
 * needed to hold at most `MAX_MACHINES_PER_SHARD` each, at least `MIN_SHARDS`, never an empty one.
 */
export function shardBoundaries(keys: string[]): string[] {
  const sorted = [...keys].sort();
  const shards = Math.min(
    sorted.length,
    Math.max(MIN_SHARDS, Math.ceil(sorted.length / MAX_MACHINES_PER_SHARD)),
  );
  // Shard i starts at the floor(i * n / shards)-th key: sizes differ by at most one.
  return Array.from(
    { length: Math.max(0, shards - 1) },
    (_, i) => sorted[Math.floor(((i + 1) * sorted.length) / shards)]!,
  );
}

/** The shard holding a key: how many boundaries sort at or before it. */
export function shardOf(boundaries: string[], key: string): number {
  let low = 0;
  let high = boundaries.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (boundaries[mid]! <= key) low = mid + 1;
    else high = mid;
  }
  return low;
}

const SHARD_MAP_RK = 'shards';
const COUNTS_RK = 'c';
const shardPk = (waveId: string, shard: number) => `${waveId}|${String(shard).padStart(4, '0')}`;
/** The wave id of a shard's PartitionKey. */
const waveOf = (partitionKey: string) => partitionKey.slice(0, partitionKey.lastIndexOf('|'));
const machineRk = (key: string) => `m|${key}`;
const countProperty = (stage: Stage) => `n_${stage}`;
/** A timed step's typical duration in ms, on a shard's counts row. */
const durationProperty = (step: TimedStep) => `took_${step}`;
/** Upper bound of a `prefix|` range: `}` sorts right after `|`. */
const rangeEnd = (prefix: string) => `${prefix.slice(0, -1)}}`;

function invertedTime(iso: string): string {
  return String(8_640_000_000_000_000 - Date.parse(iso)).padStart(16, '0');
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function json(value: unknown): string | undefined {
  return value === undefined ? undefined : JSON.stringify(value);
}

function parseJson<T>(value: unknown): T | undefined {
  return typeof value === 'string' && value !== '' ? (JSON.parse(value) as T) : undefined;
}

const str = (value: unknown) => (typeof value === 'string' ? value : undefined);
const num = (value: unknown) => (typeof value === 'number' ? value : undefined);

function isStage(value: unknown): value is Stage {
  return typeof value === 'string' && (STAGES as readonly string[]).includes(value);
}

function defined<T extends object>(record: T): T {
  for (const key of Object.keys(record) as (keyof T)[]) if (record[key] === undefined) delete record[key];
  return record;
}

/** A short random pause between ETag retries, so racing writers spread out (ms). */
function backoff(attempt: number): Promise<void> {
  const ms = Math.min(200, 5 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random());
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function toWave(row: Row): WaveRecord {
  return defined({
    id: row.rowKey,
    name: str(row.name) ?? row.rowKey,
    status: (str(row.status) ?? 'Creating') as WaveStatus,
    cutover: (str(row.cutover) ?? 'auto') as WaveRecord['cutover'],
    machineCount: typeof row.machineCount === 'number' ? row.machineCount : 0,
    createdAt: str(row.createdAt) ?? '',
    updatedAt: str(row.updatedAt) ?? '',
    completedAt: str(row.completedAt),
    createdBy: str(row.createdBy),
    instanceId: str(row.instanceId),
    options: parseJson<Record<string, unknown>>(row.options) ?? {},
    etag: row.etag ?? '',
  });
}

function toMachine(row: Row): MachineRecord {
  const stage = isStage(row.stage) ? row.stage : 'Queued';
  return defined({
    waveId: waveOf(row.partitionKey),
    name: str(row.name) ?? decodeURIComponent(row.rowKey.slice(2)),
    stage,
    failedStage: isStage(row.failedStage) ? row.failedStage : undefined,
    stageChangedAt: str(row.stageChangedAt) ?? '',
    stageTimes: parseJson<MachineRecord['stageTimes']>(row.stageTimes) ?? {},
    createdAt: str(row.createdAt) ?? '',
    updatedAt: str(row.updatedAt) ?? '',
    error: parseJson<AzureErrorInfo>(row.error),
    approvedBy: str(row.approvedBy),
    approvedAt: str(row.approvedAt),
    machineId: str(row.machineId),
    migrationItemId: str(row.migrationItemId),
    targetVmId: str(row.targetVmId),
    instanceId: str(row.instanceId),
    progressPercent: typeof row.progressPercent === 'number' ? row.progressPercent : undefined,
    plan: parseJson<Record<string, unknown>>(row.plan),
    etag: row.etag ?? '',
  });
}

function toAudit(row: Row): AuditEvent {
  return defined({
    id: str(row.changeId) ?? row.rowKey,
    waveId: waveOf(row.partitionKey),
    machineName: str(row.machineName) ?? '',
    kind: (str(row.kind) ?? 'StageChanged') as AuditKind,
    at: str(row.at) ?? '',
    from: isStage(row.from) ? row.from : undefined,
    to: isStage(row.to) ? row.to : undefined,
    actor: str(row.actor),
    reason: str(row.reason),
    error: parseJson<AzureErrorInfo>(row.error),
  });
}

function detailsRow(details: MachineDetails): Record<string, string | number | undefined> {
  return {
    machineId: details.machineId,
    migrationItemId: details.migrationItemId,
    targetVmId: details.targetVmId,
    instanceId: details.instanceId,
    progressPercent: details.progressPercent,
  };
}

export class TableJournal implements Journal {
  readonly #store: TableStore;
  readonly #tables: TableNames;
  /** Shard boundaries by wave id, oldest first. */
  readonly #shardMaps = new Map<string, string[]>();
  /** Rows of the machines table (see CACHED_ROWS). */
  readonly #rows = new RowCache(CACHED_ROWS);
  /** Stage changes in progress here, by shard partition. */
  readonly #shardWriters = new Turns(TURN_WAIT_MS);

  constructor(store: TableStore, tables: TableNames) {
    this.#store = store;
    this.#tables = tables;
  }

  /** Creates the tables; call once at start. */
  async initialise(): Promise<void> {
    await this.#store.ensureTables([this.#tables.waves, this.#tables.machines, this.#tables.active]);
  }

  // ---------------------------------------------------------------------------------------------
  // Waves

  async createWave(wave: NewWave, idempotencyKey?: string): Promise<CreateWaveResult> {
    if (wave.id.includes('|')) throw new NonRetriableError(`Wave id ${wave.id} contains |`);
    if (wave.machines.length > MAX_WAVE_MACHINES) {
      throw new NonRetriableError(`Wave ${wave.id}: more than ${MAX_WAVE_MACHINES} machines`);
    }
    const keys = wave.machines.map((m) => machineKey(m.name));
    if (new Set(keys).size !== keys.length) {
      throw new NonRetriableError(`Wave ${wave.id}: a machine is listed twice`);
    }
    for (const machine of wave.machines) {
      if ((json(machine.plan)?.length ?? 0) > MAX_PLAN_CHARS) {
        throw new NonRetriableError(
          `Wave ${wave.id}: the plan entry of ${machine.name} is too large to journal`,
        );
      }
    }
    let waveId = wave.id;
    const idempotencyRk = idempotencyKey === undefined ? undefined : sha256(idempotencyKey);
    if (idempotencyRk !== undefined) {
      const requestHash = sha256(
        JSON.stringify([wave.name, wave.cutover, wave.createdBy ?? null, wave.options ?? {}, wave.machines]),
      );
      try {
        await this.#store.transact(this.#tables.waves, [
          {
            kind: 'create',
            row: { partitionKey: IDEMPOTENCY_PK, rowKey: idempotencyRk, waveId, requestHash },
          },
        ]);
      } catch (error) {
        if (!(error instanceof RowExistsError)) throw error;
        const claim = await this.#store.get(this.#tables.waves, IDEMPOTENCY_PK, idempotencyRk);
        if (claim === undefined)
          throw new ConcurrencyError('The idempotency key was released while reading it');
        waveId = String(claim.waveId);
        if (claim.requestHash !== requestHash) return { kind: 'keyReused', waveId };
        const existing = await this.getWave(waveId);
        if (existing !== undefined && existing.status !== 'Creating')
          return { kind: 'existing', wave: existing };
      }
    }
    const active = await this.#reserve(waveId, wave);
    if (active.length > 0) {
      if (idempotencyRk !== undefined) {
        await this.#store
          .transact(this.#tables.waves, [
            { kind: 'delete', partitionKey: IDEMPOTENCY_PK, rowKey: idempotencyRk },
          ])
          .catch((error: unknown) => {
            if (!(error instanceof RowMissingError)) throw error;
          });
      }
      return { kind: 'machinesActive', active };
    }
    await this.#writeWave(waveId, wave);
    const created = await this.updateWave(waveId, { status: 'Running', at: wave.at });
    return { kind: 'created', wave: created };
  }

  /** Writes the wave row (status Creating), its index entry, machine rows and counters; re-runnable. */
  async #writeWave(waveId: string, wave: NewWave): Promise<void> {
    const waveRow: Row = {
      partitionKey: WAVE_PK,
      rowKey: waveId,
      name: wave.name,
      status: 'Creating',
      cutover: wave.cutover,
      machineCount: wave.machines.length,
      createdAt: wave.at,
      updatedAt: wave.at,
      createdBy: wave.createdBy,
      options: JSON.stringify(wave.options ?? {}),
    };
    await this.#createIfAbsent(this.#tables.waves, waveRow);
    await this.#createIfAbsent(this.#tables.waves, {
      partitionKey: BY_TIME_PK,
      rowKey: `${invertedTime(wave.at)}|${waveId}`,
      waveId,
    });
    // While the wave is Creating no pipeline runs, so rewriting rows of an interrupted attempt is safe;
    // the shard map goes first so that every machine row written is found through it.
    const boundaries = shardBoundaries(wave.machines.map((m) => machineKey(m.name)));
    const joined = boundaries.join('|');
    const chunkCount = Math.ceil(joined.length / MAX_STRING_CHARS);
    await this.#store.transact(this.#tables.machines, [
      {
        kind: 'upsert',
        row: {
          partitionKey: waveId,
          rowKey: SHARD_MAP_RK,
          chunks: chunkCount,
          ...Object.fromEntries(
            Array.from({ length: chunkCount }, (_, i) => [
              `b${i}`,
              joined.slice(i * MAX_STRING_CHARS, (i + 1) * MAX_STRING_CHARS),
            ]),
          ),
        },
      },
    ]);
    const shards: Row[][] = Array.from({ length: boundaries.length + 1 }, (_, shard) => [
      { partitionKey: shardPk(waveId, shard), rowKey: COUNTS_RK, [countProperty('Queued')]: 0 },
    ]);
    for (const m of wave.machines) {
      const key = machineKey(m.name);
      const shard = shards[shardOf(boundaries, key)]!;
      shard.push({
        partitionKey: shard[0]!.partitionKey,
        rowKey: machineRk(key),
        name: m.name,
        stage: 'Queued',
        stageChangedAt: wave.at,
        stageTimes: JSON.stringify({ Queued: wave.at }),
        createdAt: wave.at,
        updatedAt: wave.at,
        machineId: m.machineId,
        plan: json(m.plan),
        changes: '[]',
      });
    }
    for (const [counts, ...machines] of shards) counts![countProperty('Queued')] = machines.length;
    // One batch per shard: its counts and at most MAX_MACHINES_PER_SHARD machines.
    await inParallel(shards, (rows) =>
      this.#store.transact(
        this.#tables.machines,
        rows.map((row) => ({ kind: 'upsert', row })),
      ),
    );
  }

  async #createIfAbsent(table: string, row: Row): Promise<void> {
    try {
      await this.#store.transact(table, [{ kind: 'create', row }]);
    } catch (error) {
      if (!(error instanceof RowExistsError)) throw error;
    }
  }

  /**
   * Reserves every machine for the wave; returns the machines another wave holds (and then releases
   * what this call reserved). A batch of 100 is tried at once; a batch that conflicts row by row.
   */
  async #reserve(waveId: string, wave: NewWave): Promise<ActiveMachine[]> {
    const rows: Row[] = wave.machines.map((m) => ({
      partitionKey: ACTIVE_PK,
      rowKey: machineKey(m.name),
      waveId,
      name: m.name,
    }));
    const conflicts: ActiveMachine[] = [];
    await inParallel(chunks(rows, MAX_BATCH), async (batch) => {
      try {
        await this.#store.transact(
          this.#tables.active,
          batch.map((row) => ({ kind: 'create', row })),
        );
      } catch (error) {
        if (!(error instanceof RowExistsError)) throw error;
        for (const row of batch) {
          const holder = await this.#reserveOne(row);
          if (holder !== undefined) conflicts.push({ name: String(row.name), waveId: holder });
        }
      }
    });
    if (conflicts.length > 0) {
      const held = new Set(conflicts.map((c) => machineKey(c.name)));
      await inParallel(
        rows.filter((row) => !held.has(row.rowKey)),
        (row) => this.#release(waveId, row.rowKey),
      );
    }
    return conflicts;
  }

  /** Reserves one machine; returns the id of another wave that holds it, if any. */
  async #reserveOne(row: Row): Promise<string | undefined> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      try {
        await this.#store.transact(this.#tables.active, [{ kind: 'create', row }]);
        return undefined;
      } catch (error) {
        if (!(error instanceof RowExistsError)) throw error;
      }
      const current = await this.#store.get(this.#tables.active, ACTIVE_PK, row.rowKey);
      if (current === undefined) continue;
      const holder = String(current.waveId);
      if (holder === row.waveId) {
        // Held for this wave already; a retry still marks its hold.
        if (row.retriedFrom === undefined) return undefined;
      } else if (await this.#stillHeld(current)) {
        return holder;
      }
      try {
        await this.#store.transact(this.#tables.active, [{ kind: 'replace', row, etag: current.etag }]);
        return undefined;
      } catch (error) {
        if (!(error instanceof ConcurrencyError || error instanceof RowMissingError)) throw error;
      }
    }
    throw new ConcurrencyError(`Could not reserve machine ${String(row.name)}: too many concurrent changes`);
  }

  /**
   * Whether the reservation still holds: its wave has the machine in a non-final stage, or a retry
   * took it (from the final stage it is still in) less than `RETRY_HOLD_MS` ago, and its run has not
   * recorded a stage yet. Otherwise it is stale.
   */
  async #stillHeld(reservation: Row): Promise<boolean> {
    const waveId = String(reservation.waveId);
    const machine = await this.#machineByKey(waveId, reservation.rowKey);
    if (machine === undefined) {
      // The holding wave may be being created right now: its rows are written after reservation.
      const wave = await this.getWave(waveId);
      return wave === undefined || wave.status === 'Creating';
    }
    if (!(isStage(machine.stage) && isFinalStage(machine.stage))) return true;
    return (
      reservation.retriedFrom === machine.stageChangedAt &&
      Date.now() - Date.parse(String(reservation.retriedAt)) < RETRY_HOLD_MS
    );
  }

  async #release(waveId: string, key: string): Promise<void> {
    const current = await this.#store.get(this.#tables.active, ACTIVE_PK, key);
    if (current === undefined || current.waveId !== waveId) return;
    try {
      await this.#store.transact(this.#tables.active, [
        { kind: 'delete', partitionKey: ACTIVE_PK, rowKey: key, etag: current.etag },
      ]);
    } catch (error) {
      // Someone else took or released it meanwhile: nothing of ours is left to release.
      if (!(error instanceof ConcurrencyError || error instanceof RowMissingError)) throw error;
    }
  }

  async getWave(waveId: string): Promise<WaveRecord | undefined> {
    const row = await this.#store.get(this.#tables.waves, WAVE_PK, waveId);
    return row === undefined ? undefined : toWave(row);
  }

  async listWaves(page: PageRequest = {}): Promise<Page<WaveRecord>> {
    const index = await this.#store.query(this.#tables.waves, {
      partitionKey: BY_TIME_PK,
      ...page,
    });
    const waves = await inParallel(index.rows, (row) => this.getWave(String(row.waveId)));
    const items = waves.filter((w): w is WaveRecord => w !== undefined);
    return index.continuationToken === undefined
      ? { items }
      : { items, continuationToken: index.continuationToken };
  }

  async updateWave(
    waveId: string,
    patch: { status?: WaveStatus; instanceId?: string; completedAt?: string; at: string },
  ): Promise<WaveRecord> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const row = await this.#store.get(this.#tables.waves, WAVE_PK, waveId);
      if (row === undefined) throw new NonRetriableError(`Wave ${waveId} does not exist`);
      const updated: Row = {
        ...row,
        ...defined({ status: patch.status, instanceId: patch.instanceId, completedAt: patch.completedAt }),
        updatedAt: patch.at,
      };
      // A wave running again (a machine retried after it finished) has not completed.
      if (patch.status === 'Running' && patch.completedAt === undefined) delete updated.completedAt;
      try {
        const etags = await this.#store.transact(this.#tables.waves, [
          { kind: 'replace', row: updated, etag: row.etag },
        ]);
        return toWave({ ...updated, etag: etags.get(waveId) ?? '' });
      } catch (error) {
        if (!(error instanceof ConcurrencyError)) throw error;
        await backoff(attempt);
      }
    }
    throw new ConcurrencyError(`Wave ${waveId}: too many concurrent updates`);
  }

  // ---------------------------------------------------------------------------------------------
  // Machines

  async getMachine(waveId: string, name: string): Promise<MachineRecord | undefined> {
    const row = await this.#machineByKey(waveId, machineKey(name));
    return row === undefined ? undefined : toMachine(row);
  }

  /** The wave's shard boundaries, or undefined while it has none (unknown, or being created). */
  async #shardMap(waveId: string): Promise<string[] | undefined> {
    const cached = this.#shardMaps.get(waveId);
    if (cached !== undefined) return cached;
    const row = await this.#store.get(this.#tables.machines, waveId, SHARD_MAP_RK);
    if (row === undefined) return undefined;
    const joined = Array.from({ length: Number(row.chunks) }, (_, i) => String(row[`b${i}`])).join('');
    const boundaries = joined === '' ? [] : joined.split('|');
    if (this.#shardMaps.size >= CACHED_SHARD_MAPS) {
      this.#shardMaps.delete(this.#shardMaps.keys().next().value!);
    }
    this.#shardMaps.set(waveId, boundaries);
    return boundaries;
  }

  /** The partition of a machine's shard, or undefined when the wave has no shard map. */
  async #partitionOf(waveId: string, key: string): Promise<string | undefined> {
    const boundaries = await this.#shardMap(waveId);
    return boundaries === undefined ? undefined : shardPk(waveId, shardOf(boundaries, key));
  }

  async #machineByKey(waveId: string, key: string): Promise<Row | undefined> {
    const partitionKey = await this.#partitionOf(waveId, key);
    return partitionKey === undefined
      ? undefined
      : this.#store.get(this.#tables.machines, partitionKey, machineRk(key));
  }

  /**
   * A page of rows from every shard of a wave, in PartitionKey then RowKey order: queries until the
   * page is full or the wave ends, as Azure may end a page early where partitions change.
   */
  async #acrossShards(
    waveId: string,
    query: Omit<RowQuery, 'partitionKey' | 'partitionKeyBefore' | 'continuationToken'>,
    page: PageRequest,
  ): Promise<{ rows: Row[]; continuationToken?: string }> {
    const pageSize = Math.min(page.pageSize ?? 1000, 1000);
    const rows: Row[] = [];
    let token = page.continuationToken;
    do {
      const result = await this.#store.query(this.#tables.machines, {
        ...query,
        partitionKey: `${waveId}|`,
        partitionKeyBefore: rangeEnd(`${waveId}|`),
        pageSize: pageSize - rows.length,
        ...(token === undefined ? {} : { continuationToken: token }),
      });
      rows.push(...result.rows);
      token = result.continuationToken;
    } while (token !== undefined && rows.length < pageSize);
    return token === undefined ? { rows } : { rows, continuationToken: token };
  }

  async listMachines(
    waveId: string,
    query: PageRequest & { stage?: Stage } = {},
  ): Promise<Page<MachineRecord>> {
    const result = await this.#acrossShards(
      waveId,
      {
        rowKeyFrom: 'm|',
        rowKeyBefore: rangeEnd('m|'),
        ...(query.stage === undefined ? {} : { where: { property: 'stage', equals: query.stage } }),
      },
      query,
    );
    const items = result.rows.map(toMachine);
    return result.continuationToken === undefined
      ? { items }
      : { items, continuationToken: result.continuationToken };
  }

  async recordStage(change: StageChange): Promise<MachineRecord> {
    return this.#recordChanges([change]);
  }

  async recordStages(changes: StageChange[]): Promise<void> {
    for (let i = 0; i < changes.length; ) {
      const first = changes[i]!;
      let end = i + 1;
      while (
        end < changes.length &&
        end - i < MAX_CHANGES_PER_BATCH &&
        changes[end]!.waveId === first.waveId &&
        machineKey(changes[end]!.machineName) === machineKey(first.machineName)
      ) {
        end++;
      }
      await this.#recordChanges(changes.slice(i, end));
      i = end;
    }
  }

  /**
   * Applies changes of one machine in order, in one batch: its row, its shard's counts (net of the
   * changes) and an audit event per change. A change already recorded is skipped; a change whose
   * `ifStageIn` the stage before it does not meet refuses them all.
   */
  async #recordChanges(changes: StageChange[]): Promise<MachineRecord> {
    const first = changes[0]!;
    const partitionKey = await this.#partitionOf(first.waveId, machineKey(first.machineName));
    // Every change of a shard writes its counts row: this process's changes to a shard take turns.
    if (partitionKey === undefined) return this.#applyChanges(changes);
    return this.#shardWriters.run(partitionKey, () => this.#applyChanges(changes));
  }

  async #applyChanges(changes: StageChange[]): Promise<MachineRecord> {
    const first = changes[0]!;
    for (const change of changes) {
      if (change.to === 'Failed' && change.error === undefined) {
        throw new NonRetriableError(`${change.machineName}: a change to Failed must say why (error)`);
      }
    }
    const key = machineKey(first.machineName);
    // A refusal by `ifStageIn` stands only on a row read from the table just now: the row kept here
    // may be older than another instance's write.
    let refused = false;
    attempts: for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const row = await this.#machineRow(first.waveId, first.machineName, refused);
      let updated: Row = row;
      let remembered = parseJson<string[]>(row.changes) ?? [];
      let stageTimes = parseJson<Record<string, string>>(row.stageTimes) ?? {};
      let counter: Row | undefined;
      let counts: Row | undefined;
      const audit: RowOperation[] = [];
      for (const change of changes) {
        if (remembered.includes(change.changeId)) continue;
        const from = isStage(updated.stage) ? updated.stage : 'Queued';
        if (change.ifStageIn !== undefined && !change.ifStageIn.includes(from)) {
          if (!refused) {
            refused = true;
            continue attempts;
          }
          throw new ConcurrencyError(
            `${change.machineName} is ${from}, not ${change.ifStageIn.join(' or ')}: change to ${change.to} refused`,
          );
        }
        stageTimes = { ...stageTimes, [change.to]: change.at };
        remembered = [...remembered, change.changeId].slice(-REMEMBERED_CHANGES);
        updated = {
          ...updated,
          ...defined(detailsRow(change.details ?? {})),
          stage: change.to,
          stageChangedAt: change.at,
          stageTimes: JSON.stringify(stageTimes),
          updatedAt: change.at,
          changes: JSON.stringify(remembered),
        };
        if (change.to === 'Failed') {
          updated.failedStage = from;
          updated.error = JSON.stringify(change.error);
        } else if (change.error !== undefined) {
          updated.error = JSON.stringify(change.error);
        } else if (change.to === 'Done') {
          updated.error = undefined;
          updated.failedStage = undefined;
        }
        if (from === change.to) continue;
        counter ??= await this.#rowOf(row.partitionKey, COUNTS_RK);
        if (counter === undefined) throw new NonRetriableError(`Wave ${change.waveId} has no counters`);
        const current: Row = { ...counter, ...counts };
        const count = (stage: Stage) => num(current[countProperty(stage)]) ?? 0;
        counts = {
          ...counts,
          partitionKey: row.partitionKey,
          rowKey: COUNTS_RK,
          [countProperty(from)]: Math.max(0, count(from) - 1),
          [countProperty(change.to)]: count(change.to) + 1,
          ...(change.took === undefined
            ? {}
            : {
                [durationProperty(change.took.step)]: blendDuration(
                  num(current[durationProperty(change.took.step)]),
                  change.took.ms,
                ),
              }),
        };
        audit.push({
          kind: 'create',
          row: this.#auditRow(row.partitionKey, key, {
            kind: 'StageChanged',
            changeId: change.changeId,
            machineName: String(row.name ?? change.machineName),
            at: change.at,
            from,
            to: change.to,
            actor: change.actor,
            reason: change.reason,
            error: json(change.error),
          }),
        });
      }
      if (updated === row) return toMachine(row);
      const operations: RowOperation[] = [{ kind: 'replace', row: stripUndefined(updated), etag: row.etag }];
      if (counter !== undefined && counts !== undefined) {
        operations.push({ kind: 'merge', row: counts, etag: counter.etag }, ...audit);
      }
      try {
        const etags = await this.#store.transact(this.#tables.machines, operations);
        if (counter !== undefined && counts !== undefined) {
          this.#rows.remember({ ...counter, ...counts, etag: etags.get(COUNTS_RK) ?? '' });
        }
        const written = this.#rows.remember({
          ...stripUndefined(updated),
          etag: etags.get(updated.rowKey) ?? '',
        });
        if (isStage(updated.stage) && isFinalStage(updated.stage)) await this.#release(first.waveId, key);
        return toMachine(written);
      } catch (error) {
        if (!(error instanceof ConcurrencyError || error instanceof RowExistsError)) throw error;
        this.#rows.forget(row.partitionKey, row.rowKey, COUNTS_RK);
        await backoff(attempt);
      }
    }
    throw new ConcurrencyError(`${first.machineName}: too many concurrent changes`);
  }

  async updateMachine(
    waveId: string,
    name: string,
    details: MachineDetails,
    at: string,
  ): Promise<MachineRecord> {
    return this.#modifyMachine(waveId, name, (row) => ({
      ...row,
      ...defined(detailsRow(details)),
      updatedAt: at,
    }));
  }

  async recordApproval(waveId: string, name: string, approver: string, at: string): Promise<MachineRecord> {
    const key = machineKey(name);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const row = await this.#machineRow(waveId, name);
      if (typeof row.approvedBy === 'string') return toMachine(row);
      const updated: Row = { ...row, approvedBy: approver, approvedAt: at, updatedAt: at };
      try {
        const etags = await this.#store.transact(this.#tables.machines, [
          { kind: 'replace', row: updated, etag: row.etag },
          {
            kind: 'create',
            row: this.#auditRow(row.partitionKey, key, {
              kind: 'Approved',
              changeId: `approval:${key}`,
              machineName: String(row.name ?? name),
              at,
              actor: approver,
            }),
          },
        ]);
        return toMachine(this.#rows.remember({ ...updated, etag: etags.get(updated.rowKey) ?? '' }));
      } catch (error) {
        if (!(error instanceof ConcurrencyError || error instanceof RowExistsError)) throw error;
        this.#rows.forget(row.partitionKey, row.rowKey);
        await backoff(attempt);
      }
    }
    throw new ConcurrencyError(`${name}: too many concurrent changes`);
  }

  async stepDurations(waveId: string, name: string): Promise<StepDurations> {
    const partitionKey = await this.#partitionOf(waveId, machineKey(name));
    if (partitionKey === undefined) return {};
    const counter = await this.#rowOf(partitionKey, COUNTS_RK);
    const durations: StepDurations = {};
    for (const step of TIMED_STEPS) {
      const ms = num(counter?.[durationProperty(step)]);
      if (ms !== undefined) durations[step] = ms;
    }
    return durations;
  }

  async countByStage(waveId: string): Promise<StageCounts> {
    const counts = Object.fromEntries(STAGES.map((stage) => [stage, 0])) as StageCounts;
    const boundaries = await this.#shardMap(waveId);
    if (boundaries === undefined) return counts;
    // A point read per shard: a query over the wave's partitions would scan its audit rows as well.
    const rows = await inParallel(
      Array.from({ length: boundaries.length + 1 }, (_, shard) => shardPk(waveId, shard)),
      (partitionKey) => this.#store.get(this.#tables.machines, partitionKey, COUNTS_RK),
    );
    for (const row of rows) {
      if (row === undefined) continue;
      for (const stage of STAGES) {
        const value = row[countProperty(stage)];
        if (typeof value === 'number') counts[stage] += value;
      }
    }
    return counts;
  }

  async listAudit(
    waveId: string,
    query: PageRequest & { machineName?: string } = {},
  ): Promise<Page<AuditEvent>> {
    const paging = {
      ...(query.pageSize === undefined ? {} : { pageSize: query.pageSize }),
      ...(query.continuationToken === undefined ? {} : { continuationToken: query.continuationToken }),
    };
    let result: { rows: Row[]; continuationToken?: string };
    if (query.machineName === undefined) {
      result = await this.#acrossShards(waveId, { rowKeyFrom: 'a|', rowKeyBefore: rangeEnd('a|') }, paging);
    } else {
      const key = machineKey(query.machineName);
      const partitionKey = await this.#partitionOf(waveId, key);
      if (partitionKey === undefined) return { items: [] };
      const prefix = `a|${key}|`;
      result = await this.#store.query(this.#tables.machines, {
        partitionKey,
        rowKeyFrom: prefix,
        rowKeyBefore: rangeEnd(prefix),
        ...paging,
      });
    }
    const items = result.rows.map(toAudit);
    return result.continuationToken === undefined
      ? { items }
      : { items, continuationToken: result.continuationToken };
  }

  reserveMachine(machine: MachineRecord): Promise<string | undefined> {
    return this.#reserveOne({
      partitionKey: ACTIVE_PK,
      rowKey: machineKey(machine.name),
      waveId: machine.waveId,
      name: machine.name,
      retriedFrom: machine.stageChangedAt,
      retriedAt: new Date().toISOString(),
    });
  }

  async findActive(names: string[]): Promise<ActiveMachine[]> {
    const byKey = new Map(names.map((name) => [machineKey(name), name]));
    const reserved =
      byKey.size > SCAN_RESERVATIONS_ABOVE
        ? await this.#reservationsOf(byKey)
        : await inParallel([...byKey.keys()], (key) => this.#store.get(this.#tables.active, ACTIVE_PK, key));
    const found = await inParallel(
      reserved.filter((row): row is Row => row !== undefined),
      async (row) =>
        (await this.#stillHeld(row))
          ? { name: byKey.get(row.rowKey)!, waveId: String(row.waveId) }
          : undefined,
    );
    return found.filter((a): a is ActiveMachine => a !== undefined);
  }

  /** The reservations of the machines keyed in `byKey`, from a read of the whole reservation partition. */
  async #reservationsOf(byKey: ReadonlyMap<string, string>): Promise<Row[]> {
    const rows: Row[] = [];
    let token: string | undefined;
    do {
      const page = await this.#store.query(this.#tables.active, {
        partitionKey: ACTIVE_PK,
        pageSize: 1000,
        ...(token === undefined ? {} : { continuationToken: token }),
      });
      rows.push(...page.rows.filter((row) => byKey.has(row.rowKey)));
      token = page.continuationToken;
    } while (token !== undefined);
    return rows;
  }

  /** A machine's row for a read-modify-write: as last seen here (unless `fresh`), else read now. */
  async #machineRow(waveId: string, name: string, fresh = false): Promise<Row> {
    const key = machineKey(name);
    const partitionKey = await this.#partitionOf(waveId, key);
    if (fresh && partitionKey !== undefined) this.#rows.forget(partitionKey, machineRk(key));
    const row = partitionKey === undefined ? undefined : await this.#rowOf(partitionKey, machineRk(key));
    if (row === undefined) throw new NonRetriableError(`Machine ${name} is not in wave ${waveId}`);
    return row;
  }

  /** A row of the machines table as last seen here, else read now (and kept). */
  async #rowOf(partitionKey: string, rowKey: string): Promise<Row | undefined> {
    const cached = this.#rows.get(partitionKey, rowKey);
    if (cached) return cached;
    const row = await this.#store.get(this.#tables.machines, partitionKey, rowKey);
    return row === undefined ? undefined : this.#rows.remember(row);
  }

  async #modifyMachine(waveId: string, name: string, modify: (row: Row) => Row): Promise<MachineRecord> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const row = await this.#machineRow(waveId, name);
      const updated = stripUndefined(modify(row));
      try {
        const etags = await this.#store.transact(this.#tables.machines, [
          { kind: 'replace', row: updated, etag: row.etag },
        ]);
        return toMachine(this.#rows.remember({ ...updated, etag: etags.get(updated.rowKey) ?? '' }));
      } catch (error) {
        if (!(error instanceof ConcurrencyError)) throw error;
        this.#rows.forget(row.partitionKey, row.rowKey);
        await backoff(attempt);
      }
    }
    throw new ConcurrencyError(`${name}: too many concurrent changes`);
  }

  #auditRow(
    partitionKey: string,
    key: string,
    event: {
      kind: AuditKind;
      changeId: string;
      machineName: string;
      at: string;
      from?: Stage;
      to?: Stage;
      actor?: string | undefined;
      reason?: string | undefined;
      error?: string | undefined;
    },
  ): Row {
    return stripUndefined({
      partitionKey,
      // The change id's hash keeps the key short and free of forbidden characters.
      rowKey: `a|${key}|${event.at}|${sha256(event.changeId).slice(0, 16)}`,
      ...event,
    });
  }
}

function stripUndefined(row: Row): Row {
  const copy: Row = { partitionKey: row.partitionKey, rowKey: row.rowKey };
  for (const [key, value] of Object.entries(row)) if (value !== undefined) copy[key] = value;
  return copy;
}

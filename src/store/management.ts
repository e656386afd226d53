/**
 * What the Event Grid handlers keep in Table storage: each managed VM's state (onboarded, skipped
 * and why, taken out of management by whom and why), its history (onboardings, drift corrections,
 * escalations, management changes), and an index of which wave migrates to a VM, so a VM the
 * pipeline creates (or its test VM) is left to the pipeline, and of which wave machine a migration
 * item belongs to, so a change made to it outside the factory wakes that machine's pipeline.
 *
 * Layout (table `{prefix}ManagedVms`; keys are lower-case, URI-encoded). A VM's record and history
 * share its partition, so a fact and the change of record it brings are written in one transaction,
 * and VMs do not crowd one partition (Table storage serves each at most 2,000 entities a second):
 * - PartitionKey VM id, RowKey `vm`: the VM's record. A wave's machine also writes its owner there
 *   (`ownerWaveId`, `ownerName`, `ownerInstanceId`), in the record of the VM it migrates to, so the
 *   one read a VM event makes finds both; a row with an owner and no `state` is no record yet.
 * - PartitionKey VM id, RowKey `h|{at}|{id}`: its history, oldest first; `id` makes a replay a no-op.
 * - PartitionKey `item|{bucket}`, RowKey migration item name: the wave machine it migrates. `bucket`
 *   (two digits) is from a hash of the RowKey, so a burst of item events does not crowd one
 *   partition. PartitionKey `indexedWave.v4`, RowKey wave id: waves whose machines are indexed (v4
 *   moved the owners of target VMs into their records; waves indexed before are indexed again).
 *   A wave's test VMs need no owner: their names tell them (`isTestMigrationVm`).
 */
import { createHash } from 'node:crypto';
import type { TokenCredential } from '@azure/core-auth';
import type { JournalStorageSettings } from '../config';
import { ConcurrencyError } from '../domain/errors';
import { machineInstanceId, migrationItemName } from '../domain/names';
import { vmResourceId } from '../domain/scope';
import { tableStoreFor } from './azureTables';
import { MemoryTableStore } from './memoryTables';
import {
  chunks,
  inParallel,
  MAX_BATCH,
  type Row,
  RowCache,
  RowExistsError,
  type RowOperation,
  type TableStore,
} from './tables';
import type { Journal } from './types';

export type ManagedVmState = 'Onboarding' | 'Onboarded' | 'Pending' | 'Skipped' | 'Failed' | 'Unmanaged';

export interface ManagedVm {
  vmId: string;
  state: ManagedVmState;
  /** Why the VM is in this state (a skip reason, an error message). */
  reason?: string;
  profileId?: string;
  /** ISO instant of the last change. */
  updatedAt: string;
  /** Set while the VM is out of management: who took it out, why, when. */
  unmanagedBy?: string;
  unmanagedReason?: string;
  unmanagedAt?: string;
  remediations: number;
  lastRemediationAt?: string;
  escalated: boolean;
  /** The event (or API request) behind the record's last change. */
  eventId?: string;
}

export type HistoryKind =
  | 'OnboardingStarted'
  | 'Onboarded'
  | 'OnboardingSkipped'
  | 'OnboardingFailed'
  | 'Remediated'
  | 'RemediationFailed'
  | 'RemediationEscalated'
  | 'Unmanaged'
  | 'Managed';

export interface HistoryEntry {
  /** Unique per fact (an event id, an instance id plus step), so a replay records nothing twice. */
  id: string;
  kind: HistoryKind;
  at: string;
  actor?: string;
  reason?: string;
  eventId?: string;
}

/**
 * Whether a VM-written event should start the VM's onboarding, judged from the VM's record: yes
 * for a VM without one (an onboarding that is running refuses the start), and for one skipped or
 * failed for another event (its tags or its state may have changed since); no while it onboards,
 * once it is onboarded or Pending, and while it is out of management.
 */
export function onboardsFor(vm: ManagedVm | undefined, eventId: string): boolean {
  if (vm === undefined) return true;
  return (vm.state === 'Skipped' || vm.state === 'Failed') && vm.eventId !== eventId;
}

/** The wave machine that migrates to a VM. */
export interface Owner {
  waveId: string;
  name: string;
  /** Durable instance id of the machine's pipeline. */
  instanceId: string;
}

/** A VM's record (undefined before its first fact) and the wave machine that migrates to it, if any. */
export interface VmLookup {
  managed?: ManagedVm;
  owner?: Owner;
}

/** RowKey of a VM's record in its partition (history rows start with `h|`). */
const RECORD_RK = 'vm';
const ITEM_PK = 'item';
const INDEXED_PK = 'indexedWave.v4';
/** The owner's properties in a VM's record row. */
const OWNER_FIELDS = ['ownerWaveId', 'ownerName', 'ownerInstanceId'] as const;
/** Partitions the migration item index is spread over. */
const INDEX_BUCKETS = 64;
/** Waves read per page when looking for waves not indexed yet. */
const WAVES_PAGE = 20;
/** A lookup that found nothing re-reads the waves at most this often, in ms (real time). */
const INDEX_REFRESH_MS = 1_000;
const MAX_ATTEMPTS = 10;
/**
 * VM records kept as last read or written here: an onboarding reads the record to decide and then
 * writes it from that read. Every write checks the record's ETag (see `RowCache`).
 */
const CACHED_RECORDS = 16_384;

const key = (value: string) => encodeURIComponent(value.trim().toLowerCase());
const historyKey = (at: string, id: string) => `h|${at}|${key(id)}`;

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The VM's record in its row; undefined for a row that holds only an owner. */
function managedOf(row: Row | undefined): ManagedVm | undefined {
  if (row === undefined || str(row.state) === undefined) return undefined;
  const vm: ManagedVm = {
    vmId: String(row.vmId),
    state: String(row.state) as ManagedVmState,
    updatedAt: String(row.updatedAt),
    remediations: typeof row.remediations === 'number' ? row.remediations : 0,
    escalated: row.escalated === true,
  };
  for (const field of [
    'reason',
    'profileId',
    'unmanagedBy',
    'unmanagedReason',
    'unmanagedAt',
    'lastRemediationAt',
    'eventId',
  ] as const) {
    const value = str(row[field]);
    if (value !== undefined) vm[field] = value;
  }
  return vm;
}

/** The journal reads the owner index needs. */
export type WaveSource = Pick<Journal, 'listWaves' | 'listMachines'>;

export class ManagementStore {
  readonly #store: TableStore;
  readonly #table: string;
  readonly #indexed = new Set<string>();
  /** VM records (see CACHED_RECORDS). */
  readonly #records = new RowCache(CACHED_RECORDS);
  #lastRefresh = Number.NEGATIVE_INFINITY;

  constructor(store: TableStore, tablePrefix: string) {
    this.#store = store;
    this.#table = `${tablePrefix}ManagedVms`;
  }

  async initialise(): Promise<void> {
    await this.#store.ensureTables([this.#table]);
  }

  async getVm(vmId: string): Promise<ManagedVm | undefined> {
    return managedOf(await this.#readRecord(key(vmId)));
  }

  /**
   * The VM's record and owner in one read. Nothing owns it as indexed: a wave created since the last
   * look may, so new waves are indexed (at most every `INDEX_REFRESH_MS`) and the record read again.
   */
  async lookUpVm(vmId: string, waves: WaveSource): Promise<VmLookup> {
    const partitionKey = key(vmId);
    let row = await this.#readRecord(partitionKey);
    if (ownerInRecord(row) === undefined && (await this.#indexNewWaves(waves))) {
      row = await this.#readRecord(partitionKey);
    }
    const managed = managedOf(row);
    const owner = ownerInRecord(row);
    return { ...(managed === undefined ? {} : { managed }), ...(owner === undefined ? {} : { owner }) };
  }

  async #readRecord(partitionKey: string): Promise<Row | undefined> {
    const row = await this.#store.get(this.#table, partitionKey, RECORD_RK);
    if (row === undefined) this.#records.rememberMissing(partitionKey, RECORD_RK);
    else this.#records.remember(row);
    return row;
  }

  /**
   * Records a fact about a VM: its history entry and, when `change` gives one, its new record
   * (created when missing; `change` may decline with undefined), in one transaction that is
   * ETag-checked and retried when another writer won. A fact recorded before (same id and instant)
   * is not recorded again. Answers the record written, else the one read (undefined without `change`).
   */
  async recordFact(
    vmId: string,
    entry: HistoryEntry,
    change?: (current: ManagedVm | undefined) => ManagedVm | undefined,
  ): Promise<ManagedVm | undefined> {
    const partitionKey = key(vmId);
    const history: RowOperation = {
      kind: 'create',
      row: { partitionKey, rowKey: historyKey(entry.at, entry.id), ...entry },
    };
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const row = change === undefined ? undefined : await this.#recordRow(partitionKey, attempt > 0);
      const current = managedOf(row);
      const changed = change?.(current);
      const next =
        changed === undefined || entry.eventId === undefined
          ? changed
          : { ...changed, eventId: entry.eventId };
      const operations: RowOperation[] = [history];
      let written: Row | undefined;
      if (next !== undefined) {
        written = { partitionKey, rowKey: RECORD_RK, ...ownerFieldsOf(row), ...next };
        for (const k of Object.keys(written)) if (written[k] === undefined) delete written[k];
        operations.unshift(
          row === undefined
            ? { kind: 'create', row: written }
            : { kind: 'replace', row: written, ...(row.etag === undefined ? {} : { etag: row.etag }) },
        );
      }
      try {
        const etags = await this.#store.transact(this.#table, operations);
        if (written !== undefined) this.#records.remember({ ...written, etag: etags.get(RECORD_RK) ?? '' });
        return next ?? current;
      } catch (error) {
        this.#records.forget(partitionKey, RECORD_RK);
        if (error instanceof RowExistsError && (await this.hasHistory(vmId, entry.at, entry.id)))
          return change === undefined ? undefined : this.getVm(vmId);
        if (!(error instanceof ConcurrencyError || error instanceof RowExistsError)) throw error;
      }
    }
    throw new ConcurrencyError(`VM ${vmId}: too many concurrent updates`);
  }

  /**
   * The record a write starts from: as last seen here (its ETag, or for a record seen missing the
   * create, guards the write), else, or when `fresh`, read now.
   */
  async #recordRow(partitionKey: string, fresh: boolean): Promise<Row | undefined> {
    const seen = fresh ? undefined : this.#records.get(partitionKey, RECORD_RK);
    if (seen !== undefined) return seen ?? undefined;
    return this.#store.get(this.#table, partitionKey, RECORD_RK);
  }

  /** Whether the VM's history holds the entry with this id and instant. */
  async hasHistory(vmId: string, at: string, id: string): Promise<boolean> {
    return (await this.#store.get(this.#table, key(vmId), historyKey(at, id))) !== undefined;
  }

  /** The VM's history, oldest first (at most 1,000 entries). */
  async listHistory(vmId: string): Promise<HistoryEntry[]> {
    const { rows } = await this.#store.query(this.#table, {
      partitionKey: key(vmId),
      rowKeyFrom: 'h|',
      rowKeyBefore: 'h}',
      pageSize: 1000,
    });
    return rows.map((row) => {
      const entry: HistoryEntry = { id: String(row.id), kind: row.kind as HistoryKind, at: String(row.at) };
      const actor = str(row.actor);
      const reason = str(row.reason);
      const eventId = str(row.eventId);
      if (actor !== undefined) entry.actor = actor;
      if (reason !== undefined) entry.reason = reason;
      if (eventId !== undefined) entry.eventId = eventId;
      return entry;
    });
  }

  /** The wave machine whose migration item this is (by the item's ARM id), if a wave owns it. */
  async ownerOfItem(itemId: string, waves: WaveSource): Promise<Owner | undefined> {
    const name = /\/replicationMigrationItems\/([^/]+)\/?$/i.exec(itemId)?.[1];
    if (name === undefined) return undefined;
    const { partitionKey, rowKey } = itemIndexRow(key(name));
    const found = await this.#store.get(this.#table, partitionKey, rowKey);
    if (found !== undefined) return ownerOf(found);
    // Nothing indexed: a wave created since the last look may own it.
    if (!(await this.#indexNewWaves(waves))) return undefined;
    const again = await this.#store.get(this.#table, partitionKey, rowKey);
    return again === undefined ? undefined : ownerOf(again);
  }

  /** Indexes waves (newest first) until one already indexed; answers whether it indexed any. */
  async #indexNewWaves(waves: WaveSource): Promise<boolean> {
    const now = performance.now();
    if (now - this.#lastRefresh < INDEX_REFRESH_MS) return false;
    this.#lastRefresh = now;
    let indexedAny = false;
    let token: string | undefined;
    do {
      const page = await waves.listWaves({
        pageSize: WAVES_PAGE,
        ...(token === undefined ? {} : { continuationToken: token }),
      });
      let reachedIndexed = false;
      for (const wave of page.items) {
        if (this.#indexed.has(wave.id)) {
          reachedIndexed = true;
          continue;
        }
        if ((await this.#store.get(this.#table, INDEXED_PK, key(wave.id))) !== undefined) {
          this.#indexed.add(wave.id);
          reachedIndexed = true;
          continue;
        }
        // A wave still being created has not all its machines yet; the next look indexes it.
        if (wave.status === 'Creating') continue;
        await this.#indexWave(wave.id, waves);
        indexedAny = true;
      }
      token = reachedIndexed ? undefined : page.continuationToken;
    } while (token !== undefined);
    return indexedAny;
  }

  async #indexWave(waveId: string, waves: WaveSource): Promise<void> {
    let token: string | undefined;
    do {
      const page = await waves.listMachines(waveId, {
        pageSize: 1000,
        ...(token === undefined ? {} : { continuationToken: token }),
      });
      const items: Row[] = [];
      const targets: Row[] = [];
      for (const machine of page.items) {
        const plan = machine.plan ?? {};
        const owner = {
          waveId,
          name: machine.name,
          instanceId: machine.instanceId ?? machineInstanceId(waveId, machine.name),
        };
        const vmId = targetVmIdOf(plan);
        if (vmId !== undefined) {
          targets.push({
            partitionKey: key(vmId),
            rowKey: RECORD_RK,
            ownerWaveId: owner.waveId,
            ownerName: owner.name,
            ownerInstanceId: owner.instanceId,
          });
        }
        const item = migrationItemName(str(plan.machineId) ?? machine.machineId ?? '');
        if (item !== undefined) items.push({ ...itemIndexRow(key(item)), ...owner });
      }
      // A batch holds one partition; upserts and merges make a repeated indexing harmless. Each
      // target VM is a partition of its own, its record's.
      const byPartition = new Map<string, Row[]>();
      for (const row of items) {
        const partition = byPartition.get(row.partitionKey);
        if (partition === undefined) byPartition.set(row.partitionKey, [row]);
        else partition.push(row);
      }
      const writes: RowOperation[][] = [
        ...[...byPartition.values()]
          .flatMap((partition) => chunks(partition, MAX_BATCH))
          .map((batch) => batch.map((row) => ({ kind: 'upsert' as const, row }))),
        ...targets.map((row) => [{ kind: 'mergeOrCreate' as const, row }]),
      ];
      await inParallel(writes, (operations) => this.#store.transact(this.#table, operations));
      token = page.continuationToken;
    } while (token !== undefined);
    await this.#store.transact(this.#table, [
      { kind: 'upsert', row: { partitionKey: INDEXED_PK, rowKey: key(waveId), waveId } },
    ]);
    this.#indexed.add(waveId);
  }
}

/** The keys of a migration item's index row: its partition is a bucket of the RowKey's hash. */
function itemIndexRow(rowKey: string): { partitionKey: string; rowKey: string } {
  const bucket = createHash('sha256').update(rowKey).digest().readUInt16BE(0) % INDEX_BUCKETS;
  return { partitionKey: `${ITEM_PK}|${String(bucket).padStart(2, '0')}`, rowKey };
}

function ownerOf(row: Row): Owner {
  return { waveId: String(row.waveId), name: String(row.name), instanceId: String(row.instanceId ?? '') };
}

/** The owner a VM's record row holds, if a wave migrates to the VM. */
function ownerInRecord(row: Row | undefined): Owner | undefined {
  const waveId = str(row?.ownerWaveId);
  if (row === undefined || waveId === undefined) return undefined;
  return { waveId, name: String(row.ownerName), instanceId: String(row.ownerInstanceId ?? '') };
}

/** The owner's properties of a record row, which a write of the record keeps. */
function ownerFieldsOf(row: Row | undefined): Partial<Row> {
  const fields: Partial<Row> = {};
  for (const field of OWNER_FIELDS) if (row?.[field] !== undefined) fields[field] = row[field];
  return fields;
}

/** The ARM id of the VM a machine's journaled plan (its `MachineJob`) migrates to. */
function targetVmIdOf(plan: Record<string, unknown>): string | undefined {
  const enable = plan.enable as { targetResourceGroupId?: unknown } | undefined;
  const groupId = str(enable?.targetResourceGroupId);
  const vm = str(plan.targetVmName);
  if (groupId === undefined || vm === undefined) return undefined;
  return vmResourceId(groupId, vm);
}

export async function createManagementStore(
  settings: JournalStorageSettings,
  credential?: TokenCredential,
): Promise<ManagementStore> {
  const store = tableStoreFor(settings, credential);
  const management = new ManagementStore(store, settings.tablePrefix);
  await management.initialise();
  return management;
}

/** The same store in memory (unit tests of activities). */
export async function createMemoryManagementStore(tablePrefix = 'factory'): Promise<ManagementStore> {
  const management = new ManagementStore(new MemoryTableStore(), tablePrefix);
  await management.initialise();
  return management;
}

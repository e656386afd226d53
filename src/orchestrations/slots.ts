/**
 * The rules of the per-appliance replication semaphore (entity `applianceSlots@<appliance>`). Pure:
 * the entity applies them to its state, the tests call them directly.
 *
 * An appliance replicates at most `capacity` machines at once across every wave; a machine holds
 * its slot from enable until its migration item is deleted (contracts.md section 3). Waiting is
 * first come, first served: a request joins the queue, and only the first `free` entries of the
 * queue are granted, so a wave that asks often cannot overtake one that asked earlier. Callers poll
 * (entities cannot wake orchestrations); an entry not renewed within `staleAfterMs` is dropped so a
 * cancelled or terminated waiter never blocks the queue.
 */

import { larger } from './support';

export const SLOTS_ENTITY = 'applianceSlots';

export interface SlotHolder {
  /** Epoch ms the slot was granted at. */
  since: number;
  owner: string;
}

export interface QueueEntry {
  holder: string;
  owner: string;
  /** Epoch ms of the first request and of the latest renewal. */
  enqueuedAt: number;
  seenAt: number;
}

export interface SlotsState {
  capacity: number;
  holders: Record<string, SlotHolder>;
  queue: QueueEntry[];
}

export interface AcquireRequest {
  /** Stable keys of the machines asking (e.g. `${waveId}/${name}`), in the caller's preferred order. */
  holders: string[];
  /** Who asks (the wave or pipeline instance), for the operator's view of the queue. */
  owner: string;
  capacity: number;
  /** Epoch ms of the caller's clock (the orchestration's; entities have no shared virtual clock). */
  now: number;
  /** How long an unrenewed queue entry stays, in ms. */
  staleAfterMs: number;
}

export interface AcquireResult {
  /** Holders that hold a slot now (including those that already did). */
  granted: string[];
  /** Holders still waiting, with their position in the queue (0 = next). */
  waiting: { holder: string; position: number }[];
  free: number;
}

export function emptySlots(capacity: number): SlotsState {
  return { capacity, holders: {}, queue: [] };
}

function freeSlots(state: SlotsState): number {
  return larger(0, state.capacity - Object.keys(state.holders).length);
}

export function acquire(
  state: SlotsState,
  request: AcquireRequest,
): { state: SlotsState; result: AcquireResult } {
  const asking = new Set(request.holders);
  const holders = { ...state.holders };
  // Renew entries of the callers asking now; drop entries nobody renewed in time.
  let queue = state.queue
    .map((entry) => (asking.has(entry.holder) ? { ...entry, seenAt: request.now } : entry))
    .filter((entry) => request.now - entry.seenAt <= request.staleAfterMs);
  const queued = new Set(queue.map((entry) => entry.holder));
  for (const holder of request.holders) {
    if (holders[holder] === undefined && !queued.has(holder)) {
      queue.push({ holder, owner: request.owner, enqueuedAt: request.now, seenAt: request.now });
      queued.add(holder);
    }
  }
  const next: SlotsState = { capacity: request.capacity, holders, queue };
  // Grant from the head of the queue only: fairness across waves.
  let free = freeSlots(next);
  const granted: QueueEntry[] = [];
  for (const entry of queue) {
    if (free === 0) break;
    granted.push(entry);
    free--;
  }
  for (const entry of granted) holders[entry.holder] = { since: request.now, owner: entry.owner };
  const grantedSet = new Set(granted.map((entry) => entry.holder));
  queue = queue.filter((entry) => !grantedSet.has(entry.holder));
  next.queue = queue;
  const position = new Map(queue.map((entry, index) => [entry.holder, index]));
  return {
    state: next,
    result: {
      granted: request.holders.filter((holder) => holders[holder] !== undefined),
      waiting: request.holders
        .filter((holder) => position.has(holder))
        .map((holder) => ({ holder, position: position.get(holder)! })),
      free,
    },
  };
}

/** Frees the slots of these holders and withdraws them from the queue (done, cancelled, failed without item). */
export function release(state: SlotsState, holders: string[]): SlotsState {
  const gone = new Set(holders);
  const kept: Record<string, SlotHolder> = {};
  for (const [holder, value] of Object.entries(state.holders)) {
    if (!gone.has(holder)) kept[holder] = value;
  }
  return { ...state, holders: kept, queue: state.queue.filter((entry) => !gone.has(entry.holder)) };
}

/** Leaves the queue without giving up a slot already held (a paused wave stops asking). */
export function withdraw(state: SlotsState, holders: string[]): SlotsState {
  const gone = new Set(holders);
  return { ...state, queue: state.queue.filter((entry) => !gone.has(entry.holder)) };
}

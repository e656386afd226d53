/**
 * Scheduling rules: the factory's own duration estimates, the order in which machines take a
 * replication slot, how many enables go out at once, the makespan lower bound of contracts.md
 * section 3, and cut-over windows. Pure functions of their inputs; durations in minutes.
 */
import type { Cutover } from './plan';
import { WEEKDAYS } from './plan';

/**
 * Durations the factory assumes when it estimates (contracts.md section 3), in minutes. The same
 * names as an estate's `timing` overrides, so an estimate can take those overrides as they are.
 * The simulator keeps its own copy: local/ never imports src/.
 */
export const TIMING_MINUTES = {
  enableReplicationMinutes: 2,
  deltaCycleMinutes: 60,
  testMigrateMinutes: 15,
  testCleanupMinutes: 5,
  migrateMinutes: 20,
  completeMinutes: 2,
  onboardingMinutes: 30,
} as const;

export type Timing = { [K in keyof typeof TIMING_MINUTES]: number };

/** The timing model with some durations overridden (e.g. from an estate's `timing`). */
export function timingWith(overrides: Partial<Timing> | undefined): Timing {
  return { ...TIMING_MINUTES, ...overrides };
}

/**
 * Enables go out in groups of at most 10: the portal selects 10 machines at a time and the
 * tutorial (seed 003) says to replicate in batches of 10.
 */
export const ENABLE_BATCH_SIZE = 10;

/** Initial seeding of `totalDiskGB` at `seedingGBPerHour`, in minutes. */
export function seedingMinutes(totalDiskGB: number, seedingGBPerHour: number): number {
  if (!(seedingGBPerHour > 0)) throw new RangeError('seedingGBPerHour must be positive');
  return (totalDiskGB / seedingGBPerHour) * 60;
}

/**
 * How long a machine holds its appliance's replication slot (from enable until the migration
 * item is deleted): s_i of contracts.md section 3. A machine that skips the test migration does
 * not spend the test and clean-up time.
 */
export function slotMinutes(
  seeding: number,
  testMigration: boolean,
  timing: Timing = TIMING_MINUTES,
): number {
  const test = testMigration ? timing.testMigrateMinutes + timing.testCleanupMinutes : 0;
  return timing.enableReplicationMinutes + seeding + test + timing.migrateMinutes + timing.completeMinutes;
}

export interface Schedulable {
  /** A stable unique key (the source name). */
  key: string;
  appliance: string;
  /** s_i: minutes the machine holds a replication slot. */
  slotMinutes: number;
  /** Lower is admitted earlier; machines without a priority come after those with one. */
  priority?: number;
}

/**
 * The order in which machines take replication slots: by priority when given, then longest slot
 * time first (the longest-processing-time rule, which keeps the makespan within 4/3 of optimal on
 * identical slots), then by key so the order never depends on input order.
 */
export function admissionOrder<T extends Schedulable>(machines: readonly T[]): T[] {
  return [...machines].sort((a, b) => {
    const pa = a.priority ?? Number.POSITIVE_INFINITY;
    const pb = b.priority ?? Number.POSITIVE_INFINITY;
    if (pa !== pb) return pa < pb ? -1 : 1;
    if (a.slotMinutes !== b.slotMinutes) return b.slotMinutes - a.slotMinutes;
    return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
  });
}

export interface AdmissionLimits {
  /** Free replication slots per appliance right now, across all waves. */
  freeSlots: Readonly<Record<string, number>>;
  /** The wave's machines that hold a slot now. */
  waveInFlight: number;
  /** The wave's `settings.maxParallel`. */
  maxParallel?: number;
  batchSize?: number;
}

/**
 * The machines to enable now, taken in queue order: at most one batch, within each appliance's
 * free slots and the wave's `maxParallel`. A machine whose appliance is full is passed over, so
 * one busy appliance does not hold back machines of the others.
 */
export function nextAdmissions<T extends Pick<Schedulable, 'appliance'>>(
  queue: readonly T[],
  limits: AdmissionLimits,
): T[] {
  const batch = limits.batchSize ?? ENABLE_BATCH_SIZE;
  const room = Math.min(batch, (limits.maxParallel ?? Number.POSITIVE_INFINITY) - limits.waveInFlight);
  const free = new Map(Object.entries(limits.freeSlots));
  const admitted: T[] = [];
  for (const machine of queue) {
    if (admitted.length >= room) break;
    const slots = free.get(machine.appliance) ?? 0;
    if (slots <= 0) continue;
    free.set(machine.appliance, slots - 1);
    admitted.push(machine);
  }
  return admitted;
}

/** `items` in consecutive groups of at most `size`. */
export function enableBatches<T>(items: readonly T[], size: number = ENABLE_BATCH_SIZE): T[][] {
  if (!(size >= 1)) throw new RangeError('batch size must be at least 1');
  const batches: T[][] = [];
  for (let i = 0; i < items.length; i += size) batches.push(items.slice(i, i + size));
  return batches;
}

/**
 * Lower bound of a wave's makespan with automatic cut-over, in minutes (contracts.md section 3):
 * LB = max(max_i s_i, sum_i s_i / C) + onboarding. Appliances seed independently, so with several
 * the bound is computed per appliance (its own machines, its own C) and the largest is taken. A
 * wave `maxParallel` P caps every appliance's C at P and adds the wave-wide term sum_i s_i / P.
 * An empty wave takes 0.
 */
export function lowerBoundMakespan(
  machines: readonly Pick<Schedulable, 'appliance' | 'slotMinutes'>[],
  capacity: Readonly<Record<string, number>>,
  options: { onboardingMinutes?: number; maxParallel?: number } = {},
): number {
  if (machines.length === 0) return 0;
  const parallel = options.maxParallel ?? Number.POSITIVE_INFINITY;
  const perAppliance = new Map<string, { longest: number; total: number }>();
  let total = 0;
  for (const m of machines) {
    const entry = perAppliance.get(m.appliance) ?? { longest: 0, total: 0 };
    entry.longest = Math.max(entry.longest, m.slotMinutes);
    entry.total += m.slotMinutes;
    perAppliance.set(m.appliance, entry);
    total += m.slotMinutes;
  }
  let bound = total / parallel;
  for (const [appliance, { longest, total: sum }] of perAppliance) {
    const limit = capacity[appliance];
    if (limit === undefined || !(limit > 0)) {
      throw new RangeError(`no replication capacity known for appliance '${appliance}'`);
    }
    bound = Math.max(bound, longest, sum / Math.min(limit, parallel));
  }
  return bound + (options.onboardingMinutes ?? TIMING_MINUTES.onboardingMinutes);
}

export interface WindowState {
  open: boolean;
  /** When the window opens next (absent while open, or when it will never open again). */
  opensAt?: Date;
  /** When the open window closes. */
  closesAt?: Date;
}

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

/**
 * Whether a cut-over may start at `now`. `auto` is always open; `approval` is open (the approval
 * is a separate gate); a window is open inside [start, end) or inside a recurring occurrence,
 * whose times of day are UTC.
 */
export function cutoverWindowState(cutover: Cutover, now: Date): WindowState {
  if (cutover.mode !== 'window') return { open: true };
  const t = now.getTime();
  if (cutover.recurring === undefined) {
    const start = Date.parse(cutover.start!);
    const end = Date.parse(cutover.end!);
    if (t < start) return { open: false, opensAt: new Date(start) };
    if (t < end) return { open: true, closesAt: new Date(end) };
    return { open: false };
  }
  const { days, start, durationMinutes } = cutover.recurring;
  const [hours, minutes] = start.split(':').map(Number) as [number, number];
  const today = Math.floor(t / DAY_MS) * DAY_MS;
  // An occurrence that opened yesterday may still be open (windows last up to 24 h).
  for (let d = -1; d <= 7; d++) {
    const dayStart = today + d * DAY_MS;
    // getUTCDay: 0 = Sunday; WEEKDAYS starts on Monday.
    const weekday = WEEKDAYS[(new Date(dayStart).getUTCDay() + 6) % 7]!;
    if (!days.includes(weekday)) continue;
    const opens = dayStart + (hours * 60 + minutes) * MINUTE_MS;
    const closes = opens + durationMinutes * MINUTE_MS;
    if (t < opens) return { open: false, opensAt: new Date(opens) };
    if (t < closes) return { open: true, closesAt: new Date(closes) };
  }
  return { open: false };
}

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  admissionOrder,
  checkPlanJson,
  cutoverWindowState,
  ENABLE_BATCH_SIZE,
  type EstateLike,
  enableBatches,
  inventoryFromEstate,
  lowerBoundMakespan,
  nextAdmissions,
  type Schedulable,
  seedingMinutes,
  slotMinutes,
  TIMING_MINUTES,
  timingWith,
  waveLowerBoundMinutes,
} from '../../src/domain';

const fixtures = path.join(__dirname, '..', 'fixtures', 'plans');

describe('timing model', () => {
  it('derives seeding and slot time from disk size and appliance rate', () => {
    expect(seedingMinutes(640, 200)).toBe(192);
    // enable 2 + seeding 192 + test 15 + clean-up 5 + migrate 20 + complete 2
    expect(slotMinutes(192, true)).toBe(236);
    expect(slotMinutes(192, false)).toBe(216);
    expect(slotMinutes(0, true, timingWith({ migrateMinutes: 100 }))).toBe(124);
    expect(() => seedingMinutes(1, 0)).toThrow(RangeError);
    expect(TIMING_MINUTES.onboardingMinutes).toBe(30);
  });
});

describe('admission', () => {
  const m = (key: string, slot: number, appliance = 'a1', priority?: number): Schedulable => ({
    key,
    appliance,
    slotMinutes: slot,
    ...(priority === undefined ? {} : { priority }),
  });

  it('orders by priority, then longest slot first, then key', () => {
    const order = admissionOrder([
      m('c', 10),
      m('a', 50),
      m('b', 50),
      m('d', 5, 'a1', 2),
      m('e', 1, 'a1', 1),
    ]);
    expect(order.map((x) => x.key)).toEqual(['e', 'd', 'a', 'b', 'c']);
  });

  it('admits one batch within each appliance’s free slots and the wave cap, passing over full appliances', () => {
    const queue = [
      m('x1', 9, 'full'),
      ...Array.from({ length: 15 }, (_, i) => m(`m${i}`, 5, i % 2 ? 'a2' : 'a1')),
    ];
    const batch = nextAdmissions(queue, { freeSlots: { full: 0, a1: 3, a2: 100 }, waveInFlight: 0 });
    expect(batch).toHaveLength(ENABLE_BATCH_SIZE);
    expect(batch.filter((x) => x.appliance === 'a1')).toHaveLength(3);
    expect(batch.some((x) => x.appliance === 'full')).toBe(false);
    const capped = nextAdmissions(queue, {
      freeSlots: { a1: 100, a2: 100 },
      waveInFlight: 48,
      maxParallel: 50,
    });
    expect(capped.map((x) => x.key)).toEqual(['m0', 'm1']);
    expect(nextAdmissions(queue, { freeSlots: { a1: 9 }, waveInFlight: 50, maxParallel: 50 })).toEqual([]);
  });

  it('cuts a list into enable batches', () => {
    expect(enableBatches([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(enableBatches(Array.from({ length: 25 }, (_, i) => i)).map((b) => b.length)).toEqual([10, 10, 5]);
    expect(() => enableBatches([1], 0)).toThrow(RangeError);
  });
});

describe('lowerBoundMakespan', () => {
  it('is max(longest, total / C) + onboarding for one appliance', () => {
    const machines = [100, 200, 300].map((s) => ({ appliance: 'a', slotMinutes: s }));
    expect(lowerBoundMakespan(machines, { a: 300 })).toBe(300 + 30);
    expect(lowerBoundMakespan(machines, { a: 2 }, { onboardingMinutes: 0 })).toBe(300);
    expect(lowerBoundMakespan(machines, { a: 1 }, { onboardingMinutes: 10 })).toBe(610);
    expect(lowerBoundMakespan([], { a: 1 })).toBe(0);
  });

  it('takes the largest per-appliance bound with several appliances, and the wave cap', () => {
    const machines = [
      ...Array.from({ length: 10 }, () => ({ appliance: 'big', slotMinutes: 60 })),
      ...Array.from({ length: 4 }, () => ({ appliance: 'small', slotMinutes: 60 })),
    ];
    // big: max(60, 600/10) = 60; small: max(60, 240/1) = 240.
    expect(lowerBoundMakespan(machines, { big: 10, small: 1 }, { onboardingMinutes: 0 })).toBe(240);
    // A wave cap of 2 limits every appliance and the wave: big 600/2 = 300; wave 840/2 = 420.
    expect(
      lowerBoundMakespan(machines, { big: 10, small: 10 }, { onboardingMinutes: 0, maxParallel: 2 }),
    ).toBe(420);
    expect(() => lowerBoundMakespan(machines, { big: 10 })).toThrow(/small/);
  });

  it('computes a wave’s bound from the plan and its estate', () => {
    const inventory = inventoryFromEstate(
      JSON.parse(readFileSync(path.join(fixtures, 'estate.json'), 'utf8')) as EstateLike,
    );
    const plan = checkPlanJson(JSON.parse(readFileSync(path.join(fixtures, 'plan.json'), 'utf8')), {
      inventory,
    }).plan!;
    // app01 (200 GB/h, 300 slots): web-01 640 GB -> 192 min, web-02 128 GB -> 38.4 min; slot + 44 each.
    // app02 (100 GB/h, 2 slots): db-01 1088 GB -> 652.8 min + 44 = 696.8, the longest.
    expect(waveLowerBoundMinutes(plan, inventory)).toBeCloseTo(696.8 + 30, 6);
  });
});

describe('cut-over windows', () => {
  it('is always open for auto and approval', () => {
    expect(cutoverWindowState({ mode: 'auto' }, new Date())).toEqual({ open: true });
    expect(cutoverWindowState({ mode: 'approval' }, new Date())).toEqual({ open: true });
  });

  it('opens and closes an absolute window', () => {
    const w = { mode: 'window' as const, start: '2026-12-05T22:00:00Z', end: '2026-12-06T02:00:00Z' };
    expect(cutoverWindowState(w, new Date('2026-12-05T12:00:00Z'))).toEqual({
      open: false,
      opensAt: new Date('2026-12-05T22:00:00Z'),
    });
    expect(cutoverWindowState(w, new Date('2026-12-06T01:00:00Z'))).toEqual({
      open: true,
      closesAt: new Date('2026-12-06T02:00:00Z'),
    });
    expect(cutoverWindowState(w, new Date('2026-12-06T02:00:00Z'))).toEqual({ open: false });
  });

  it('finds the current or next occurrence of a recurring window, across midnight', () => {
    const w = {
      mode: 'window' as const,
      recurring: { days: ['Sat' as const], start: '22:00', durationMinutes: 240 },
    };
    // 2026-12-05 is a Saturday.
    expect(cutoverWindowState(w, new Date('2026-12-03T10:00:00Z'))).toEqual({
      open: false,
      opensAt: new Date('2026-12-05T22:00:00Z'),
    });
    expect(cutoverWindowState(w, new Date('2026-12-06T01:59:00Z'))).toEqual({
      open: true,
      closesAt: new Date('2026-12-06T02:00:00Z'),
    });
    expect(cutoverWindowState(w, new Date('2026-12-06T03:00:00Z'))).toEqual({
      open: false,
      opensAt: new Date('2026-12-12T22:00:00Z'),
    });
  });
});

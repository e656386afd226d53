import { describe, expect, it } from 'vitest';
import type { ItemSnapshot } from '../../src/activities/contract';
import { blendDuration, tookMs } from '../../src/domain/lifecycle';
import {
  approverOf,
  cutoverGate,
  firstReadAt,
  judge,
  nextPollAt,
  SEEDING_MARGIN,
  seedingEndAt,
  seedingMsPerGB,
  startedAt,
  startPoint,
} from '../../src/orchestrations/pipelineRules';
import { acquire, emptySlots, release, withdraw } from '../../src/orchestrations/slots';
import {
  applyFinished,
  applyRequest,
  finalStage,
  latestToggle,
  orderForAdmission,
  roomToStart,
  slotRequests,
  tally,
} from '../../src/orchestrations/waveRules';

const MIN = 60_000;

function item(overrides: Partial<ItemSnapshot> = {}): ItemSnapshot {
  return {
    id: '/items/a',
    migrationState: 'Replicating',
    testMigrateState: 'None',
    allowedOperations: ['TestMigrate', 'Migrate', 'DisableMigration'],
    resyncRequired: false,
    readAt: '2026-01-01T00:00:00Z',
    ...overrides,
  };
}

describe('judge', () => {
  it('waits through seeding, reporting progress, and is done once replicating', () => {
    expect(
      judge(
        'seeding',
        item({ migrationState: 'InitialSeedingInProgress', initialSeedingProgressPercent: 40 }),
      ),
    ).toEqual({
      kind: 'wait',
      percent: 40,
    });
    expect(judge('seeding', item())).toEqual({ kind: 'done' });
  });

  it('asks for a resync when seeding failed, carrying Azure health error', () => {
    const healthError = { code: '78183', message: 'seeding failed', recommendedAction: 'resync' };
    expect(judge('seeding', item({ migrationState: 'InitialSeedingFailed', healthError }))).toEqual({
      kind: 'resync',
      error: healthError,
    });
  });

  it('fails a test migration with Azure error and is done with clean-up when nothing is left to clean', () => {
    const verdict = judge(
      'testMigrate',
      item({ testMigrateState: 'TestMigrationFailed', migrationStateDescription: 'boot' }),
    );
    expect(verdict).toEqual({ kind: 'failed', error: { code: 'TestMigrationFailed', message: 'boot' } });
    expect(judge('testCleanup', item({ testMigrateState: 'TestMigrationCleanupInProgress' }))).toEqual({
      kind: 'wait',
    });
    expect(judge('testCleanup', item())).toEqual({ kind: 'done' });
  });

  it('treats a vanished item as done only when completing', () => {
    expect(judge('complete', null)).toEqual({ kind: 'done' });
    expect(judge('migrate', null).kind).toBe('failed');
    expect(judge('migrate', item({ migrationState: 'MigrationSucceeded' }))).toEqual({ kind: 'done' });
  });
});

describe('nextPollAt', () => {
  const timing = { minMs: 2 * MIN, maxMs: 60 * MIN };

  it('projects the completion time from two progress readings, within the bounds', () => {
    // 10% in 10 min: the remaining 50% take 50 min.
    const at = nextPollAt(20 * MIN, timing, 3, { at: 10 * MIN, percent: 40 }, { at: 20 * MIN, percent: 50 });
    expect(at).toBe(20 * MIN + 50 * MIN);
    const slow = nextPollAt(
      20 * MIN,
      timing,
      3,
      { at: 10 * MIN, percent: 40 },
      { at: 20 * MIN, percent: 41 },
    );
    // 1% in 10 min: the remaining 59% take 590 min; the next read is halfway there.
    expect(slow).toBe(20 * MIN + 295 * MIN);
    const nearlyDone = nextPollAt(
      20 * MIN,
      timing,
      3,
      { at: 10 * MIN, percent: 98 },
      { at: 20 * MIN, percent: 99.9 },
    );
    expect(nearlyDone).toBe(20 * MIN + 2 * MIN);
  });

  it('reads a steady 30-hour seeding a handful of times, the last at its end', () => {
    const endMs = 30 * 60 * MIN;
    const percentAt = (t: number) => Math.min(100, (100 * t) / endMs);
    const reads = [2 * MIN, 6 * MIN];
    while (percentAt(reads.at(-1)!) < 100) {
      const [previous, current] = reads.slice(-2).map((at) => ({ at, percent: percentAt(at) }));
      reads.push(nextPollAt(reads.at(-1)!, timing, reads.length, previous, current));
    }
    expect(reads.length).toBeLessThanOrEqual(9);
    expect(reads.at(-1)).toBeCloseTo(endMs, -3);
  });

  it('backs off exponentially without progress', () => {
    expect(nextPollAt(0, timing, 0, undefined, undefined)).toBe(2 * MIN);
    expect(nextPollAt(0, timing, 2, undefined, undefined)).toBe(8 * MIN);
    expect(nextPollAt(0, timing, 10, undefined, undefined)).toBe(60 * MIN);
  });
});

describe('firstReadAt', () => {
  const timing = { minMs: 2 * MIN, maxMs: 60 * MIN };

  it('reads a just-started operation after the first poll until the wave knows its typical length', () => {
    expect(firstReadAt(MIN, 0, timing)).toBe(3 * MIN);
  });

  it('reads it once, just after its typical end, but never before the first poll or in the past', () => {
    expect(firstReadAt(MIN, 0, timing, 20 * MIN)).toBe(22 * MIN);
    expect(firstReadAt(MIN, 0, timing, 30_000)).toBe(2 * MIN);
    expect(firstReadAt(40 * MIN, 0, timing, 20 * MIN)).toBe(40 * MIN);
  });
});

describe('startedAt', () => {
  const timing = { minMs: 2 * MIN, maxMs: 60 * MIN };

  it("dates an operation from Azure's start when its start said, not from when the pipeline asked", () => {
    // Asked at 0; the start request waited 40 min for a free activity slot before Azure took it.
    const started = startedAt(0, { typicalMs: 15 * MIN, startedAt: 40 * MIN });
    expect(started).toEqual({ at: 40 * MIN, typicalMs: 15 * MIN });
    // So the first read follows the step's real end, and the step's duration is Azure's.
    expect(firstReadAt(41 * MIN, started.at, timing, started.typicalMs)).toBe(56.5 * MIN);
    expect(tookMs(started.at, new Date(55 * MIN).toISOString())).toBe(15 * MIN);
  });

  it('falls back on when the pipeline asked when Azure did not say', () => {
    expect(startedAt(5 * MIN, {})).toEqual({ at: 5 * MIN });
    expect(startedAt(5 * MIN, { typicalMs: MIN })).toEqual({ at: 5 * MIN, typicalMs: MIN });
  });
});

describe('seeding', () => {
  const timing = { minMs: 2 * MIN, maxMs: 60 * MIN };
  const HOUR = 60 * MIN;

  it('is first read a quarter ahead of its typical end, so its progress can place the end', () => {
    expect(firstReadAt(MIN, 0, timing, 8 * HOUR, SEEDING_MARGIN)).toBe(6 * HOUR);
  });

  it('projects its end from one reading of half or more since the enable request, between the rounding', () => {
    // 75% read after 6 h: 75.0 to 75.99 percent, so the end is 7.90 h to 8 h after the request.
    const end = seedingEndAt(0, { at: 6 * HOUR, percent: 75 })!;
    expect(end).toBeGreaterThan(7.9 * HOUR);
    expect(end).toBeLessThan(8 * HOUR);
    // Below half the rounding leaves the end too uncertain.
    expect(seedingEndAt(0, { at: HOUR, percent: 49 })).toBeUndefined();
  });

  it('learns the time per GB from the same projection', () => {
    const perGB = seedingMsPerGB(0, { at: 6 * HOUR, percent: 75 }, 1000)!;
    expect(perGB * 1000).toBeCloseTo(seedingEndAt(0, { at: 6 * HOUR, percent: 75 })!, 6);
    expect(seedingMsPerGB(0, { at: 6 * HOUR, percent: 75 }, 0)).toBeUndefined();
    expect(seedingMsPerGB(0, { at: HOUR, percent: 10 }, 1000)).toBeUndefined();
  });
});

describe('timed steps', () => {
  it("take Azure's end time less the start request, ignoring an end from before it", () => {
    const start = Date.parse('2026-01-01T10:00:00Z');
    expect(tookMs(start, '2026-01-01T10:15:30Z')).toBe(15.5 * MIN);
    expect(tookMs(start, '2026-01-01T09:00:00Z')).toBeUndefined();
    expect(tookMs(start, undefined)).toBeUndefined();
    expect(tookMs(start, 'not a time')).toBeUndefined();
  });

  it('blend a new duration into the typical one', () => {
    expect(blendDuration(undefined, 15 * MIN)).toBe(15 * MIN);
    expect(blendDuration(15 * MIN, 17 * MIN)).toBe(16 * MIN);
  });
});

describe('startPoint of a retried machine', () => {
  it('continues from the item state', () => {
    expect(startPoint(null, 'Replicating', true)).toBe('Validating');
    expect(startPoint(null, 'Onboarding', true)).toBe('Onboarding');
    expect(startPoint(item({ migrationState: 'InitialSeedingFailed' }), 'InitialSeeding', true)).toBe(
      'InitialSeeding',
    );
    expect(
      startPoint(
        item({ testMigrateState: 'TestMigrationFailed', allowedOperations: ['TestMigrateCleanup'] }),
        'Testing',
        true,
      ),
    ).toBe('CleaningUpTest');
    expect(startPoint(item(), 'CleaningUpTest', true)).toBe('TestMigrating');
    expect(startPoint(item(), 'AwaitingApproval', true)).toBe('ReadyForCutover');
    expect(startPoint(item(), undefined, false)).toBe('ReadyForCutover');
    expect(startPoint(item({ migrationState: 'MigrationFailed' }), 'MigratingCutover', true)).toBe(
      'MigratingCutover',
    );
    expect(startPoint(item({ migrationState: 'MigrationSucceeded' }), 'Completing', true)).toBe('Completing');
  });
});

describe('cutoverGate', () => {
  const now = new Date('2026-03-02T10:00:00Z'); // a Monday
  it('goes, asks for approval, or waits for the window', () => {
    expect(cutoverGate({ mode: 'auto' }, now)).toEqual({ kind: 'go' });
    expect(cutoverGate({ mode: 'approval' }, now)).toEqual({ kind: 'approval' });
    const window = { mode: 'window' as const, start: '2026-03-02T22:00:00Z', end: '2026-03-03T02:00:00Z' };
    expect(cutoverGate(window, now)).toEqual({ kind: 'wait', at: Date.parse('2026-03-02T22:00:00Z') });
    expect(cutoverGate(window, new Date('2026-03-02T23:00:00Z'))).toEqual({ kind: 'go' });
    expect(cutoverGate(window, new Date('2026-03-04T00:00:00Z'))).toEqual({ kind: 'closed' });
  });

  it('records who approved, or unknown', () => {
    expect(approverOf({ approver: ' alice ' })).toBe('alice');
    expect(approverOf(null)).toBe('unknown');
  });
});

describe('appliance slots', () => {
  const ask = (holders: string[], now: number, owner = 'w1') => ({
    holders,
    owner,
    capacity: 2,
    now,
    staleAfterMs: 10 * MIN,
  });

  it('grants up to the capacity, first come first served across waves', () => {
    let state = emptySlots(0);
    let step = acquire(state, ask(['w1/a', 'w1/b', 'w1/c'], 0));
    expect(step.result.granted).toEqual(['w1/a', 'w1/b']);
    expect(step.result.waiting).toEqual([{ holder: 'w1/c', position: 0 }]);
    state = step.state;
    // A second wave asks later: it queues behind w1/c.
    step = acquire(state, ask(['w2/x'], MIN, 'w2'));
    expect(step.result.granted).toEqual([]);
    state = release(step.state, ['w1/a']);
    // w2 asks first after the release, but w1/c was first in the queue and gets the slot.
    step = acquire(state, ask(['w2/x'], 2 * MIN, 'w2'));
    expect(step.result.granted).toEqual([]);
    expect(step.state.holders['w1/c']).toBeDefined();
    // A holder asking again keeps its slot.
    expect(acquire(step.state, ask(['w1/c'], 3 * MIN)).result.granted).toEqual(['w1/c']);
  });

  it('drops waiters that stop asking, and withdraws without freeing slots', () => {
    let state = acquire(emptySlots(0), ask(['a', 'b', 'c'], 0)).state;
    state = release(state, ['a']);
    // c has not renewed for longer than staleAfterMs: d gets the slot.
    const step = acquire(state, ask(['d'], 11 * MIN));
    expect(step.result.granted).toEqual(['d']);
    const withdrawn = withdraw(acquire(step.state, ask(['e'], 12 * MIN)).state, ['e', 'b']);
    expect(withdrawn.queue).toEqual([]);
    expect(Object.keys(withdrawn.holders).sort()).toEqual(['b', 'd']);
  });
});

describe('wave rules', () => {
  it('orders by priority, then longest first, and asks each appliance for its own batch', () => {
    const order = orderForAdmission([
      { name: 'small', appliance: 'A', slotMinutes: 100 },
      { name: 'big', appliance: 'B', slotMinutes: 900 },
      { name: 'urgent', appliance: 'A', slotMinutes: 10, priority: 1 },
    ]);
    expect(order.map((m) => m.name)).toEqual(['urgent', 'big', 'small']);
    expect(slotRequests(order, 1)).toEqual([
      { appliance: 'a', machines: [order[0]] },
      { appliance: 'b', machines: [order[1]] },
    ]);
    expect(roomToStart(3, 5)).toBe(2);
    expect(roomToStart(7, 5)).toBe(0);
  });

  it('lets the latest pause or resume win and tallies results', () => {
    expect(latestToggle([{ at: '2026-01-01T00:00:02Z' }], [{ at: '2026-01-01T00:00:01Z' }])).toBe(true);
    expect(latestToggle([{ at: '2026-01-01T00:00:02Z' }], [{ at: '2026-01-01T00:00:03Z' }])).toBe(false);
    expect(latestToggle([], [])).toBeUndefined();
    expect(tally(1, 2, ['Done', 'Failed'])).toEqual({
      waiting: 1,
      running: 2,
      done: 1,
      failed: 1,
      cancelled: 0,
    });
  });
});

describe('wave steering and outcomes', () => {
  it('keeps the latest request of each kind', () => {
    let state = applyRequest({}, { event: 'Pause', at: '2026-01-01T00:00:02Z', actor: 'ann' });
    state = applyRequest(state, { event: 'Pause', at: '2026-01-01T00:00:01Z', actor: 'bob' });
    state = applyRequest(state, { event: 'Resume', at: '2026-01-01T00:00:03Z' });
    expect(state).toEqual({
      Pause: { at: '2026-01-01T00:00:02Z', actor: 'ann' },
      Resume: { at: '2026-01-01T00:00:03Z' },
    });
    expect(latestToggle([state.Pause], [state.Resume])).toBe(false);
  });

  it('keeps the final stage of each machine, a retry replacing the earlier one', () => {
    let state = applyFinished({}, { name: 'a', stage: 'Failed' });
    state = applyFinished(state, { name: 'b', stage: 'Done' });
    state = applyFinished(state, { name: 'a', stage: 'Done' });
    expect(state.finished).toEqual({ a: 'Done', b: 'Done' });
  });

  it('reads a pipeline that ended without a result as Failed', () => {
    expect(
      finalStage({ instanceId: 'a', runtimeStatus: 'Completed', output: { name: 'a', stage: 'Done' } }),
    ).toBe('Done');
    expect(finalStage({ instanceId: 'b', runtimeStatus: 'Terminated' })).toBe('Failed');
    expect(finalStage({ instanceId: 'c', runtimeStatus: 'Completed', output: null })).toBe('Failed');
  });
});

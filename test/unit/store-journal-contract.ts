/**
 * The journal's behaviour, run against every implementation (in memory in unit tests, Table storage
 * on Azurite in integration tests), so both keep the same semantics.
 */
import { describe, expect, it, vi } from 'vitest';
import { ConcurrencyError, NonRetriableError } from '../../src/domain/errors';
import type { Stage } from '../../src/domain/lifecycle';
import type { Journal, NewWave } from '../../src/store/types';

let sequence = 0;
function unique(prefix: string): string {
  sequence += 1;
  return `${prefix}-${process.pid}-${sequence}`;
}

function wave(machineNames: string[], overrides: Partial<NewWave> = {}): NewWave {
  return {
    id: unique('wave'),
    name: 'rehearsal',
    cutover: 'approval',
    at: '2026-11-21T10:00:00.000Z',
    machines: machineNames.map((name) => ({ name, plan: { targetVmSize: 'Standard_D2s_v5' } })),
    ...overrides,
  };
}

function names(count: number): string[] {
  const base = unique('vm');
  return Array.from({ length: count }, (_, i) => `${base}-${String(i).padStart(5, '0')}`);
}

/** Every page of a listing, following its continuation tokens. */
async function allPages<T>(
  list: (token: { continuationToken?: string }) => Promise<{ items: T[]; continuationToken?: string }>,
): Promise<T[][]> {
  const pages: T[][] = [];
  let token: string | undefined;
  do {
    const page = await list(token === undefined ? {} : { continuationToken: token });
    pages.push(page.items);
    token = page.continuationToken;
  } while (token !== undefined);
  return pages;
}

/**
 * `journal` is the journal under test; `another` is a second one over the same storage, as another
 * instance of the Function App would have.
 */
export function journalContract(label: string, journal: () => Journal, another: () => Journal): void {
  /** Creates a wave of these machines through `journal` and answers its id. */
  async function createdWave(machineNames: string[]): Promise<string> {
    const created = await journal().createWave(wave(machineNames));
    if (created.kind !== 'created') throw new Error('wave not created');
    return created.wave.id;
  }

  describe(`${label}: waves`, () => {
    it('creates a wave with a Queued row per machine, counted and paged in name order', async () => {
      const machines = names(23);
      const result = await journal().createWave(wave(machines));
      expect(result.kind).toBe('created');
      if (result.kind !== 'created') return;
      expect(result.wave.status).toBe('Running');
      expect(result.wave.machineCount).toBe(23);

      const counts = await journal().countByStage(result.wave.id);
      expect(counts.Queued).toBe(23);
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(23);

      // 23 machines lie in 16 shards: every page but the last is full across them.
      const pages = await allPages((continuationToken) =>
        journal().listMachines(result.wave.id, { pageSize: 10, ...continuationToken }),
      );
      expect(pages.map((page) => page.length)).toEqual([10, 10, 3]);
      expect(pages.flat().map((m) => m.name)).toEqual(machines);
      const first = await journal().getMachine(result.wave.id, machines[0]!.toUpperCase());
      expect(first?.stage).toBe('Queued');
      expect(first?.plan).toEqual({ targetVmSize: 'Standard_D2s_v5' });
    });

    it('returns the same wave for a repeated idempotency key and refuses the key for another request', async () => {
      const machines = names(3);
      const key = unique('key');
      const first = await journal().createWave(wave(machines), key);
      const again = await journal().createWave(wave(machines), key);
      expect(first.kind).toBe('created');
      expect(again.kind).toBe('existing');
      if (first.kind !== 'created' || again.kind !== 'existing') return;
      expect(again.wave.id).toBe(first.wave.id);
      const other = await journal().createWave(wave(names(2)), key);
      expect(other).toEqual({ kind: 'keyReused', waveId: first.wave.id });
    });

    /** Ends a machine of a wave as Cancelled, which frees it for other waves. */
    const cancel = (waveId: string, machineName: string) =>
      journal().recordStage({
        waveId,
        machineName,
        to: 'Cancelled',
        at: '2026-11-21T10:05:00.000Z',
        changeId: `cancel-${machineName}`,
      });

    it('finds the held machines of a large plan, in the plan spelling, and only those still held', async () => {
      const held = names(150);
      const first = await journal().createWave(wave(held));
      if (first.kind !== 'created') throw new Error(`expected created, got ${first.kind}`);
      await cancel(first.wave.id, held[7]!);
      const plan = [...held.map((name) => name.toUpperCase()), ...names(30)];
      const found = await journal().findActive(plan);
      const expected = held.filter((_, i) => i !== 7).map((name) => name.toUpperCase());
      expect(found.map((a) => a.name).sort()).toEqual(expected.sort());
      expect(new Set(found.map((a) => a.waveId))).toEqual(new Set([first.wave.id]));
    });

    it('refuses machines held by an unfinished wave and frees them once final', async () => {
      const machines = names(4);
      const first = await journal().createWave(wave(machines));
      if (first.kind !== 'created') throw new Error(`expected created, got ${first.kind}`);
      const second = wave([machines[1]!, ...names(2)]);
      const refused = await journal().createWave(second);
      expect(refused).toEqual({
        kind: 'machinesActive',
        active: [{ name: machines[1], waveId: first.wave.id }],
      });
      expect(await journal().getWave(second.id)).toBeUndefined();
      expect(await journal().findActive([machines[1]!, 'never-seen'])).toEqual([
        { name: machines[1], waveId: first.wave.id },
      ]);

      await cancel(first.wave.id, machines[1]!);
      expect(await journal().findActive([machines[1]!])).toEqual([]);
      const retried = await journal().createWave(second);
      expect(retried.kind).toBe('created');
    });

    it('holds a retried machine for its wave again, unless another wave took it meanwhile', async () => {
      const [machine] = names(1);
      const first = await journal().createWave(wave([machine!]));
      if (first.kind !== 'created') throw new Error(`expected created, got ${first.kind}`);
      let minute = 0;
      const record = (waveId: string, to: Stage) => {
        minute += 1;
        return journal().recordStage({
          waveId,
          machineName: machine!,
          to,
          at: `2026-11-21T11:${String(minute).padStart(2, '0')}:00.000Z`,
          changeId: `change-${minute}`,
          ...(to === 'Failed' ? { error: { code: 'TestFailed', message: 'The test VM did not boot.' } } : {}),
        });
      };
      const failed = await record(first.wave.id, 'Failed');
      expect(await journal().findActive([machine!])).toEqual([]);
      // The retry holds it while its run has not recorded a stage yet: no other wave may take it.
      expect(await journal().reserveMachine(failed)).toBeUndefined();
      expect(await journal().findActive([machine!])).toEqual([{ name: machine, waveId: first.wave.id }]);
      expect((await journal().createWave(wave([machine!]))).kind).toBe('machinesActive');
      await record(first.wave.id, 'Validating');
      expect(await journal().findActive([machine!])).toEqual([{ name: machine, waveId: first.wave.id }]);
      // Failed again: the final stage releases it, and another wave takes it.
      const failedAgain = await record(first.wave.id, 'Failed');
      expect(await journal().findActive([machine!])).toEqual([]);
      const second = await journal().createWave(wave([machine!]));
      if (second.kind !== 'created') throw new Error(`expected created, got ${second.kind}`);
      expect(await journal().reserveMachine(failedAgain)).toBe(second.wave.id);
      expect(await journal().findActive([machine!])).toEqual([{ name: machine, waveId: second.wave.id }]);
      await record(second.wave.id, 'Failed');
      expect(await journal().reserveMachine(failedAgain)).toBeUndefined();
      expect(await journal().findActive([machine!])).toEqual([{ name: machine, waveId: first.wave.id }]);
    });

    it('lets a retry that never ran hold its machine for a while only', async () => {
      const [machine] = names(1);
      const first = await journal().createWave(wave([machine!]));
      if (first.kind !== 'created') throw new Error(`expected created, got ${first.kind}`);
      const failed = await journal().recordStage({
        waveId: first.wave.id,
        machineName: machine!,
        to: 'Failed',
        at: '2026-11-21T11:00:00.000Z',
        changeId: 'failed',
        error: { code: 'TestFailed', message: 'The test VM did not boot.' },
      });
      expect(await journal().reserveMachine(failed)).toBeUndefined();
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 11 * 60_000 });
      try {
        expect(await journal().findActive([machine!])).toEqual([]);
        expect((await journal().createWave(wave([machine!]))).kind).toBe('created');
      } finally {
        vi.useRealTimers();
      }
    });

    it('refuses a wave id with the key separator |', async () => {
      await expect(journal().createWave(wave(names(1), { id: unique('wave|x') }))).rejects.toBeInstanceOf(
        NonRetriableError,
      );
    });

    it('answers for an unknown wave with nothing', async () => {
      const waveId = unique('never-created');
      expect(await journal().getMachine(waveId, 'vm-1')).toBeUndefined();
      expect(Object.values(await journal().countByStage(waveId)).every((n) => n === 0)).toBe(true);
      expect(await journal().listMachines(waveId)).toEqual({ items: [] });
      expect(await journal().listAudit(waveId)).toEqual({ items: [] });
      expect(await journal().listAudit(waveId, { machineName: 'vm-1' })).toEqual({ items: [] });
    });

    it('lists waves newest first with paging', async () => {
      const older = await journal().createWave(wave(names(1), { at: '2030-01-01T00:00:00.000Z' }));
      const newer = await journal().createWave(wave(names(1), { at: '2030-01-02T00:00:00.000Z' }));
      if (older.kind !== 'created' || newer.kind !== 'created') throw new Error('waves not created');
      const page = await journal().listWaves({ pageSize: 1 });
      expect(page.items.map((w) => w.id)).toEqual([newer.wave.id]);
      expect(page.continuationToken).toBeDefined();
      const next = await journal().listWaves({ pageSize: 1, continuationToken: page.continuationToken! });
      expect(next.items.map((w) => w.id)).toEqual([older.wave.id]);
    });
  });

  describe(`${label}: stage changes`, () => {
    it('moves counts, audits each change once and ignores a replayed change', async () => {
      const machines = names(2);
      const waveId = await createdWave(machines);
      const change = {
        waveId,
        machineName: machines[0]!,
        to: 'Replicating' as const,
        at: '2026-11-21T10:01:00.000Z',
        changeId: 'i1:enable',
        details: { migrationItemId: '/subscriptions/x/items/a', progressPercent: 0 },
      };
      const moved = await journal().recordStage(change);
      expect(moved.stage).toBe('Replicating');
      expect(moved.migrationItemId).toBe('/subscriptions/x/items/a');
      expect(moved.stageTimes).toEqual({
        Queued: '2026-11-21T10:00:00.000Z',
        Replicating: '2026-11-21T10:01:00.000Z',
      });
      const replayed = await journal().recordStage({ ...change, at: '2026-11-21T10:09:00.000Z' });
      expect(replayed.stageChangedAt).toBe('2026-11-21T10:01:00.000Z');

      const counts = await journal().countByStage(waveId);
      expect(counts.Queued).toBe(1);
      expect(counts.Replicating).toBe(1);
      const audit = await journal().listAudit(waveId, { machineName: machines[0]! });
      expect(audit.items).toHaveLength(1);
      expect(audit.items[0]).toMatchObject({
        kind: 'StageChanged',
        from: 'Queued',
        to: 'Replicating',
        id: 'i1:enable',
      });
      const byStage = await journal().listMachines(waveId, { stage: 'Replicating' });
      expect(byStage.items.map((m) => m.name)).toEqual([machines[0]]);
    });

    it('records failures with the stage failed in, and refuses a change from an unexpected stage', async () => {
      const machines = names(1);
      const waveId = await createdWave(machines);
      const machineName = machines[0]!;
      await expect(
        journal().recordStage({
          waveId,
          machineName,
          to: 'Failed',
          at: '2026-11-21T10:02:00.000Z',
          changeId: 'f0',
        }),
      ).rejects.toBeInstanceOf(NonRetriableError);
      await expect(
        journal().recordStage({
          waveId,
          machineName,
          to: 'Testing',
          at: '2026-11-21T10:02:00.000Z',
          changeId: 't1',
          ifStageIn: ['TestMigrating'],
        }),
      ).rejects.toBeInstanceOf(ConcurrencyError);
      const error = {
        code: 'InitialSeedingFailed',
        message: 'Seeding failed',
        possibleCauses: 'The appliance lost its connection.',
        recommendedAction: 'Resync the machine.',
      };
      const failed = await journal().recordStage({
        waveId,
        machineName,
        to: 'Failed',
        at: '2026-11-21T10:03:00.000Z',
        changeId: 'f1',
        error,
      });
      expect(failed.failedStage).toBe('Queued');
      expect(failed.error).toEqual(error);
      expect(await journal().findActive([machineName])).toEqual([]);
      const counts = await journal().countByStage(waveId);
      expect(counts.Failed).toBe(1);
      expect(counts.Queued).toBe(0);
    });

    it('keeps counts exact under concurrent changes to one wave', async () => {
      const machines = names(48);
      const waveId = await createdWave(machines);
      await Promise.all(
        machines.map((machineName, i) =>
          journal().recordStage({
            waveId,
            machineName,
            to: i % 3 === 0 ? 'Validating' : 'Replicating',
            at: '2026-11-21T10:04:00.000Z',
            changeId: `c-${i}`,
          }),
        ),
      );
      const counts = await journal().countByStage(waveId);
      expect(counts.Validating).toBe(16);
      expect(counts.Replicating).toBe(32);
      expect(counts.Queued).toBe(0);
    });

    it('loses no change another instance made to a machine or its counts since it last saw them', async () => {
      const machines = names(2);
      const waveId = await createdWave(machines);
      const change = (to: 'Validating' | 'Replicating' | 'InitialSeeding', minute: number) => ({
        waveId,
        machineName: machines[0]!,
        to,
        at: `2026-11-21T10:0${minute}:00.000Z`,
        changeId: `stale-${to}`,
      });
      await journal().recordStage(change('Validating', 1));
      await another().recordStage(change('Replicating', 2));
      // A replay of the other instance's change writes nothing, although this one has not seen it.
      expect((await journal().recordStage(change('Replicating', 3))).stageChangedAt).toBe(
        '2026-11-21T10:02:00.000Z',
      );
      const moved = await journal().recordStage(change('InitialSeeding', 4));
      expect(moved.stage).toBe('InitialSeeding');
      const counts = await another().countByStage(waveId);
      expect([counts.Queued, counts.Validating, counts.Replicating, counts.InitialSeeding]).toEqual([
        1, 0, 0, 1,
      ]);
      const audit = await another().listAudit(waveId, { machineName: machines[0]! });
      expect(audit.items.map((e) => e.to)).toEqual(['Validating', 'Replicating', 'InitialSeeding']);
    });

    it('judges ifStageIn by the stage another instance recorded since this one last saw the machine', async () => {
      const machines = names(1);
      const waveId = await createdWave(machines);
      const machineName = machines[0]!;
      await journal().recordStage({
        waveId,
        machineName,
        to: 'Validating',
        at: '2026-11-21T10:01:00.000Z',
        changeId: 'seen',
      });
      await another().recordStage({
        waveId,
        machineName,
        to: 'Replicating',
        at: '2026-11-21T10:02:00.000Z',
        changeId: 'unseen',
      });
      // This instance last saw Validating; the machine is Replicating now.
      await expect(
        journal().recordStage({
          waveId,
          machineName,
          to: 'Failed',
          at: '2026-11-21T10:03:00.000Z',
          changeId: 'refused',
          ifStageIn: ['Validating'],
          error: { code: 'Stale', message: 'judged on a stale stage' },
        }),
      ).rejects.toBeInstanceOf(ConcurrencyError);
      await another().recordStage({
        waveId,
        machineName,
        to: 'InitialSeeding',
        at: '2026-11-21T10:04:00.000Z',
        changeId: 'unseen-2',
      });
      const moved = await journal().recordStage({
        waveId,
        machineName,
        to: 'ReadyToTest',
        at: '2026-11-21T10:05:00.000Z',
        changeId: 'allowed',
        ifStageIn: ['InitialSeeding'],
      });
      expect(moved.stage).toBe('ReadyToTest');
      const audit = await another().listAudit(waveId, { machineName });
      expect(audit.items.map((e) => e.to)).toEqual([
        'Validating',
        'Replicating',
        'InitialSeeding',
        'ReadyToTest',
      ]);
    });

    it("records a machine's changes given together in order: each audited, counted net, a replay skipped", async () => {
      const machines = names(2);
      const waveId = await createdWave(machines);
      const change = (machineName: string, to: Stage, minute: number) => ({
        waveId,
        machineName,
        to,
        at: `2026-11-21T10:0${minute}:00.000Z`,
        changeId: `together-${machineName}-${to}`,
      });
      await journal().recordStage(change(machines[0]!, 'Validating', 1));
      await journal().recordStages([
        change(machines[0]!, 'Validating', 1),
        change(machines[0]!, 'Replicating', 2),
        { ...change(machines[0]!, 'InitialSeeding', 3), took: { step: 'testMigrate', ms: 60_000 } },
        change(machines[1]!, 'Validating', 4),
      ]);
      const first = await another().getMachine(waveId, machines[0]!);
      expect(first?.stage).toBe('InitialSeeding');
      expect(first?.stageTimes).toMatchObject({
        Validating: '2026-11-21T10:01:00.000Z',
        Replicating: '2026-11-21T10:02:00.000Z',
        InitialSeeding: '2026-11-21T10:03:00.000Z',
      });
      expect((await another().getMachine(waveId, machines[1]!))?.stage).toBe('Validating');
      const counts = await another().countByStage(waveId);
      expect([counts.Queued, counts.Validating, counts.Replicating, counts.InitialSeeding]).toEqual([
        0, 1, 0, 1,
      ]);
      expect(await another().stepDurations(waveId, machines[0]!)).toEqual({ testMigrate: 60_000 });
      const audit = await another().listAudit(waveId, { machineName: machines[0]! });
      expect(audit.items.map((e) => [e.from, e.to])).toEqual([
        ['Queued', 'Validating'],
        ['Validating', 'Replicating'],
        ['Replicating', 'InitialSeeding'],
      ]);
    });

    it('refuses all of changes given together when one of them finds the machine elsewhere', async () => {
      const machines = names(1);
      const waveId = await createdWave(machines);
      const refused = journal().recordStages([
        {
          waveId,
          machineName: machines[0]!,
          to: 'Validating',
          at: '2026-11-21T10:01:00.000Z',
          changeId: 'v',
        },
        {
          waveId,
          machineName: machines[0]!,
          to: 'Replicating',
          at: '2026-11-21T10:02:00.000Z',
          changeId: 'r',
          ifStageIn: ['Queued'],
        },
      ]);
      await expect(refused).rejects.toBeInstanceOf(ConcurrencyError);
      expect((await another().getMachine(waveId, machines[0]!))?.stage).toBe('Queued');
      expect((await another().listAudit(waveId)).items).toEqual([]);
    });

    it('frees a machine that changes given together leave in a final stage', async () => {
      const machines = names(1);
      const waveId = await createdWave(machines);
      await journal().recordStages([
        {
          waveId,
          machineName: machines[0]!,
          to: 'Onboarding',
          at: '2026-11-21T10:01:00.000Z',
          changeId: 'o',
        },
        { waveId, machineName: machines[0]!, to: 'Done', at: '2026-11-21T10:02:00.000Z', changeId: 'd' },
      ]);
      expect(await another().findActive(machines)).toEqual([]);
    });

    it("learns a timed step's typical duration from the changes of the machine's shard", async () => {
      // 32 machines in 16 shards: the first two share a shard, the last is in another.
      const machines = names(32);
      const waveId = await createdWave(machines);
      expect(await journal().stepDurations(waveId, machines[0]!)).toEqual({});
      const tested = (machineName: string, ms: number) =>
        journal().recordStage({
          waveId,
          machineName,
          to: 'Testing',
          at: '2026-11-21T10:20:00.000Z',
          changeId: `tested-${machineName}`,
          took: { step: 'testMigrate', ms },
        });
      await tested(machines[0]!, 15 * 60_000);
      expect(await journal().stepDurations(waveId, machines[1]!)).toEqual({ testMigrate: 15 * 60_000 });
      await tested(machines[1]!, 17 * 60_000);
      expect(await journal().stepDurations(waveId, machines[0]!)).toEqual({ testMigrate: 16 * 60_000 });
      expect(await journal().stepDurations(waveId, machines[31]!)).toEqual({});
      expect(await journal().stepDurations('no-such-wave', machines[0]!)).toEqual({});
    });

    it('pages the machines of one stage across shards in name order', async () => {
      const machines = names(40);
      const waveId = await createdWave(machines);
      const moved = [machines[0]!, machines[13]!, machines[26]!, machines[39]!];
      for (const machineName of moved) {
        await journal().recordStage({
          waveId,
          machineName,
          to: 'Validating',
          at: '2026-11-21T10:01:00.000Z',
          changeId: `v-${machineName}`,
        });
      }
      const pages = await allPages((continuationToken) =>
        journal().listMachines(waveId, { stage: 'Validating', pageSize: 3, ...continuationToken }),
      );
      expect(pages.map((page) => page.length)).toEqual([3, 1]);
      expect(pages.flat().map((m) => m.name)).toEqual(moved);
      const queued = await allPages((continuationToken) =>
        journal().listMachines(waveId, { stage: 'Queued', pageSize: 1000, ...continuationToken }),
      );
      expect(queued.flat().map((m) => m.name)).toEqual(machines.filter((name) => !moved.includes(name)));
    });

    it("keeps each machine's audit events to its own timeline, and the wave's in machine order", async () => {
      const machines = names(20);
      const waveId = await createdWave(machines);
      const followed = [machines[19]!, machines[0]!, machines[10]!];
      for (const [step, to] of (['Validating', 'Replicating'] as const).entries()) {
        for (const machineName of followed) {
          await journal().recordStage({
            waveId,
            machineName,
            to,
            at: `2026-11-21T10:0${step + 1}:00.000Z`,
            changeId: `${machineName}:${to}`,
          });
        }
      }
      await journal().recordApproval(waveId, machines[10]!, 'alice@contoso.com', '2026-11-21T10:03:00.000Z');

      for (const machineName of followed) {
        const timeline = await journal().listAudit(waveId, { machineName });
        expect(timeline.items.every((e) => e.machineName === machineName && e.waveId === waveId)).toBe(true);
        expect(timeline.items.map((e) => e.to ?? e.kind)).toEqual(
          machineName === machines[10]
            ? ['Validating', 'Replicating', 'Approved']
            : ['Validating', 'Replicating'],
        );
      }
      const pages = await allPages((continuationToken) =>
        journal().listAudit(waveId, { pageSize: 2, ...continuationToken }),
      );
      expect(pages.map((page) => page.length)).toEqual([2, 2, 2, 1]);
      expect(pages.flat().map((e) => `${e.machineName} ${e.to ?? e.kind}`)).toEqual([
        `${machines[0]} Validating`,
        `${machines[0]} Replicating`,
        `${machines[10]} Validating`,
        `${machines[10]} Replicating`,
        `${machines[10]} Approved`,
        `${machines[19]} Validating`,
        `${machines[19]} Replicating`,
      ]);
    });

    it('applies only one of two racing changes to a machine, counted and audited once', async () => {
      const machines = names(1);
      const waveId = await createdWave(machines);
      const race = (['Validating', 'Cancelled'] as const).map((to) =>
        journal().recordStage({
          waveId,
          machineName: machines[0]!,
          to,
          at: '2026-11-21T10:01:00.000Z',
          changeId: `race-${to}`,
          ifStageIn: ['Queued'],
        }),
      );
      const outcomes = await Promise.allSettled(race);
      const applied = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value.stage] : []));
      const refused = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason] : []));
      expect(applied).toHaveLength(1);
      expect(refused).toHaveLength(1);
      expect(refused[0]).toBeInstanceOf(ConcurrencyError);
      const counts = await journal().countByStage(waveId);
      expect(counts[applied[0]!]).toBe(1);
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(1);
      const audit = await journal().listAudit(waveId);
      expect(audit.items.map((e) => e.to)).toEqual(applied);
    });

    it('records the first approval only, with an audit event', async () => {
      const machines = names(1);
      const waveId = await createdWave(machines);
      const approved = await journal().recordApproval(
        waveId,
        machines[0]!,
        'alice@contoso.com',
        '2026-11-21T11:00:00.000Z',
      );
      const again = await journal().recordApproval(
        waveId,
        machines[0]!,
        'bob@contoso.com',
        '2026-11-21T11:05:00.000Z',
      );
      expect(approved.approvedBy).toBe('alice@contoso.com');
      expect(again.approvedBy).toBe('alice@contoso.com');
      const audit = await journal().listAudit(waveId);
      expect(audit.items.map((e) => [e.kind, e.actor])).toEqual([['Approved', 'alice@contoso.com']]);
      const updated = await journal().updateMachine(
        waveId,
        machines[0]!,
        { progressPercent: 42 },
        '2026-11-21T11:06:00.000Z',
      );
      expect(updated.progressPercent).toBe(42);
      expect(updated.approvedBy).toBe('alice@contoso.com');
    });
  });
}

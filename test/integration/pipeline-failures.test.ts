/**
 * End to end with a test migration that always fails (the test VM does not boot): every attempt is
 * cleaned up before anything else, the failure is recorded with Azure's error and recommended
 * action, nothing is left behind, and a retry continues from the state in Azure (no second enable)
 * while the finished wave runs again until the retried machine has ended; a retried machine is its
 * wave's again, a retry whose request died before the run started is taken up by the next one, and
 * one another wave took meanwhile is not retried.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { createJournal } from '../../src/store';
import { machineNames, planOf, type Stack, startStack, until } from './pipeline-support';

interface MachineView {
  stage: string;
  failedStage?: string;
  error?: { code: string; message: string; recommendedAction?: string };
  timeline: { to?: string; reason?: string }[];
}

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ machines: 2, capacity: 10, faults: { seed: 7, testMigrationFailureRate: 1 } });
});
afterAll(async () => {
  await stack?.stop();
});

const waveOf = async (waveId: string) =>
  (await (await stack.api(`waves/${waveId}`)).json()) as {
    status: string;
    completedAt?: string;
    counts: Record<string, number>;
  };

const machine = async (waveId: string, name: string) =>
  (await (await stack.api(`waves/${waveId}/machines/${name}`)).json()) as MachineView;

describe('a test migration that fails', () => {
  it('is cleaned up, retried a bounded number of times, and reported with the recommended action', async () => {
    const [name] = machineNames(1) as [string];
    const res = await stack.api('waves', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(planOf([name])),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const failed = await until(
      () => machine(id, name),
      (m) => m.stage === 'Failed',
      'the machine to fail',
    );
    expect(failed.failedStage).toBe('TestMigrating');
    expect(failed.error?.recommendedAction).toBeTruthy();
    expect(failed.error?.message).toBeTruthy();
    // Two attempts (the pipeline's bound), as Azure saw them, each cleaned up before the next step.
    const posts = (action: string) =>
      stack.sim.core.ledgerEntries().filter((e) => e.method === 'POST' && e.resource.endsWith(`/${action}`))
        .length;
    expect(posts('testmigrate')).toBe(2);
    expect(posts('testmigratecleanup')).toBe(2);
    const stages = failed.timeline.map((e) => e.to);
    expect(stages.indexOf('CleaningUpTest')).toBeLessThan(stages.lastIndexOf('TestMigrating'));
    expect(stages).not.toContain('MigratingCutover');
    expect(posts('migrate')).toBe(0);
    expect(failed.timeline.at(-1)).toMatchObject({
      to: 'Failed',
      reason: expect.stringMatching(/^failed in TestMigrating/),
    });
    expect(stack.sim.core.ledgerSummary().leakedTestVms).toBe(0);

    const wave = await until(
      () => waveOf(id),
      (w) => w.status === 'Completed',
      'the wave to complete',
    );
    expect(wave.counts.Failed).toBe(1);

    // A retry runs again from the item's state: replication is not enabled a second time.
    const enables = () =>
      stack.sim.core
        .ledgerEntries()
        .filter((e) => e.method === 'PUT' && e.resource.includes('replicationmigrationitems')).length;
    expect(enables()).toBe(1);
    const retry = await stack.api(`waves/${id}/machines/${name}/retry`, { method: 'POST' });
    expect(retry.status).toBe(202);
    const submit = () =>
      stack.api('waves', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(planOf([name])),
      });
    // The retried machine is its wave's again: no other wave may take it meanwhile.
    expect((await submit()).status).toBe(409);
    // Queued again at once; the finished wave runs again while its machine does, and finishes
    // again when it ends.
    const reopened = await waveOf(id);
    expect(reopened.status).toBe('Running');
    expect(reopened.completedAt).toBeUndefined();
    expect(reopened.counts.Failed).toBe(0);
    expect((await machine(id, name)).timeline).toContainEqual(
      expect.objectContaining({ to: 'Queued', reason: 'retry of the failure in TestMigrating' }),
    );
    const twice = await stack.api(`waves/${id}/machines/${name}/retry`, { method: 'POST' });
    expect(twice.status).toBe(409);
    const again = await until(
      () => machine(id, name),
      (m) => m.stage === 'Failed' && posts('testmigratecleanup') === 4,
      'the retried machine to fail again',
    );
    const finishedAgain = await until(
      () => waveOf(id),
      (w) => w.status === 'Completed',
      'the wave to complete again',
    );
    expect(finishedAgain.counts.Failed).toBe(1);
    expect(again.timeline.filter((e) => e.to === 'Replicating')).toHaveLength(1);
    expect(enables()).toBe(1);
    expect(stack.sim.core.ledgerSummary().leakedTestVms).toBe(0);
    expect((await stack.api(`waves/${id}/machines/${name}/retry`, { method: 'GET' })).status).toBe(404);

    // A retry request that died after the route's journal writes and before the run started: the
    // machine is Queued with its failed stage, reserved, and nothing runs it; its wave still reads
    // Completed. The next retry takes it up, and the wave runs again until it has ended.
    const journal = await createJournal(loadConfig(process.env).journal);
    const stranded = (await journal.getMachine(id, name))!;
    expect(await journal.reserveMachine(stranded)).toBeUndefined();
    await journal.recordStage({
      waveId: id,
      machineName: name,
      to: 'Queued',
      at: new Date(Date.parse(stranded.stageChangedAt) + 1).toISOString(),
      changeId: 'retry:the-request-that-died',
      ifStageIn: ['Failed'],
      reason: 'retry of the failure in TestMigrating',
    });
    expect(await machine(id, name)).toMatchObject({ stage: 'Queued', failedStage: 'TestMigrating' });
    expect((await waveOf(id)).status).toBe('Completed');
    const takenUp = await stack.api(`waves/${id}/machines/${name}/retry`, { method: 'POST' });
    expect(takenUp.status).toBe(202);
    expect(await takenUp.json()).toMatchObject({ retriedFrom: 'TestMigrating' });
    expect((await waveOf(id)).status).toBe('Running');
    await until(
      () => machine(id, name),
      (m) => m.stage === 'Failed' && posts('testmigratecleanup') === 6,
      'the stranded retry to run and fail again',
    );
    await until(
      () => waveOf(id),
      (w) => w.status === 'Completed',
      'the wave to complete a third time',
    );
    expect(enables()).toBe(1);
    expect(stack.sim.core.ledgerSummary().leakedTestVms).toBe(0);

    // Failed again, it is free: another wave takes it, and the old wave's retry is refused.
    const next = await submit();
    expect(next.status).toBe(202);
    const { id: nextId } = (await next.json()) as { id: string };
    const refused = await stack.api(`waves/${id}/machines/${name}/retry`, { method: 'POST' });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ title: 'Machine in another wave' });
    await until(
      () => waveOf(nextId),
      (w) => w.status === 'Completed',
      'the other wave to complete',
    );
  });
});

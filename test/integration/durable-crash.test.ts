/**
 * Crash safety: the host runs as a child process on Azurite and is killed with SIGKILL in the
 * middle of orchestrations; a new host finishes them, and every activity whose completion was
 * committed before the kill left its side effect exactly once.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AzuriteInstance, startAzurite } from '../../local/azurite';
import { AzureStore } from '../../local/host/durable/azure-store';
import { EventType } from '../../local/host/durable/history';
import { DurableApi } from './durable-support';

const PROJECT_ROOT = path.resolve(__dirname, '..', '..');
const STEPS = 8;
const EARLY = ['crash-a', 'crash-b', 'crash-c'];
/** Started just before the kill: it may die before its first step is committed. */
const LATE = 'crash-late';
const INSTANCES = [...EARLY, LATE];

let azurite: AzuriteInstance;
let workDir: string;
let sideEffects: string;
const children = new Set<ChildProcess>();

/** Starts `local/host/cli.ts` on the sample app and resolves with its base URL once it listens. */
function startHostProcess(): Promise<{ child: ChildProcess; baseUrl: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'local/host/cli.ts', '--app', 'test/fixtures/sample-app', '--port', '0'],
    {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        AzureWebJobsStorage: azurite.connectionString,
        SAMPLE_SIDE_EFFECT_FILE: sideEffects,
        LOCAL_TIME_SCALE: '3600',
        // Short leases: what a killed host held comes back within seconds.
        AzureFunctionsJobHost__extensions__durableTask__storageProvider__controlQueueVisibilityTimeout:
          '00:00:02',
        AzureFunctionsJobHost__extensions__durableTask__storageProvider__workItemQueueVisibilityTimeout:
          '00:00:02',
      },
    },
  );
  children.add(child);
  child.once('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) resolve({ child, baseUrl: match[1]! });
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', (code) => reject(new Error(`host exited (${code}) before listening:\n${output}`)));
  });
}

function traces(): string[] {
  try {
    return readFileSync(sideEffects, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

async function until(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

beforeAll(async () => {
  azurite = await startAzurite();
  workDir = mkdtempSync(path.join(tmpdir(), 'durable-crash-'));
  sideEffects = path.join(workDir, 'side-effects.log');
  writeFileSync(sideEffects, '');
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await azurite?.stop();
  rmSync(workDir, { recursive: true, force: true });
});

describe('a host killed mid-orchestration', () => {
  it('finishes every orchestration after a restart, repeating only activities that were in flight', async () => {
    const first = await startHostProcess();
    const api = new DurableApi(first.baseUrl);
    for (const id of EARLY) await api.start('crashSequence', { steps: STEPS }, id);
    // Kill once the orchestrations are well under way, but before any could finish.
    await until(() => traces().length >= EARLY.length * 3, 'activities to run');
    await api.start('crashSequence', { steps: STEPS }, LATE);
    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));

    const before = traces();
    const store = new AzureStore({
      connectionString: azurite.connectionString,
      hubName: 'SampleHub',
      partitionCount: 4,
    });
    const committed = new Map<string, Set<number>>();
    for (const id of INSTANCES) {
      const snapshot = await store.load(id);
      const done = new Set<number>();
      const scheduled = new Map<number, number>();
      for (const event of snapshot?.history ?? []) {
        if (event.EventType === EventType.TaskScheduled) {
          scheduled.set(event.EventId, (JSON.parse(event.Input!) as { step: number }).step);
        }
        if (event.EventType === EventType.TaskCompleted) done.add(scheduled.get(event.TaskScheduledId!)!);
      }
      committed.set(id, done);
    }
    expect(before.length).toBeLessThan(INSTANCES.length * STEPS * 2);

    const second = await startHostProcess();
    const after = new DurableApi(second.baseUrl);
    for (const id of INSTANCES) {
      const status = await after.finished(id, '');
      expect(status.runtimeStatus).toBe('Completed');
      expect(status.output).toBe(STEPS * 2);
    }
    second.child.kill('SIGTERM');

    const counts = new Map<string, number>();
    for (const line of traces()) counts.set(line, (counts.get(line) ?? 0) + 1);
    let repeated = 0;
    for (const id of INSTANCES) {
      for (let step = 0; step < STEPS * 2; step++) {
        const count = counts.get(`${id}:${step}`) ?? 0;
        expect(count, `${id}:${step}`).toBeGreaterThanOrEqual(1);
        if (committed.get(id)!.has(step)) expect(count, `${id}:${step} (committed before the kill)`).toBe(1);
        repeated += count - 1;
      }
    }
    // Only what was running when the host died runs again: at most one activity slot's worth each.
    expect(repeated).toBeLessThanOrEqual(8);
  });
});

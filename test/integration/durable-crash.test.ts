/**
 * Crash safety: the host runs as a child process on Azurite and is killed with SIGKILL in the
 * middle of orchestrations; a new host finishes them. Every activity whose completion was
 * committed before the kill, or that was scheduled after it, left its side effect exactly once;
 * one that was scheduled but had no committed result may have run once more.
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
    // Kill once an instance is in its parallel phase (its step 9 ran): up to 8 of its activities
    // are in flight, and each comes back after the restart.
    await until(() => traces().some((line) => line.endsWith(':9')), 'the parallel phase');
    await api.start('crashSequence', { steps: STEPS }, LATE);
    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));

    const before = traces();
    const store = new AzureStore({
      connectionString: azurite.connectionString,
      hubName: 'SampleHub',
      partitionCount: 4,
    });
    // Steps whose scheduling the dead host had committed but whose result it had not: only these
    // may have run on it without their run counting, so only these may run twice.
    const uncommitted = new Map<string, Set<number>>();
    for (const id of INSTANCES) {
      const snapshot = await store.load(id);
      const scheduled = new Map<number, number>();
      const open = new Set<number>();
      for (const event of snapshot?.history ?? []) {
        if (event.EventType === EventType.TaskScheduled) {
          const { step } = JSON.parse(event.Input!) as { step: number };
          scheduled.set(event.EventId, step);
          open.add(step);
        }
        if (event.EventType === EventType.TaskCompleted) open.delete(scheduled.get(event.TaskScheduledId!)!);
      }
      uncommitted.set(id, open);
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
    for (const id of INSTANCES) {
      for (let step = 0; step < STEPS * 2; step++) {
        const count = counts.get(`${id}:${step}`) ?? 0;
        if (uncommitted.get(id)!.has(step)) {
          expect(count, `${id}:${step} (in flight at the kill)`).toBeGreaterThanOrEqual(1);
          expect(count, `${id}:${step} (in flight at the kill)`).toBeLessThanOrEqual(2);
        } else {
          expect(count, `${id}:${step} (committed before the kill, or scheduled after it)`).toBe(1);
        }
      }
    }
    // The kill came mid-run, with work in flight.
    expect([...uncommitted.values()].some((open) => open.size > 0)).toBe(true);
  });
});

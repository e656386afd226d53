/**
 * `factory waves start|watch|approve|cancel|retry|report` as an operator runs them: the built CLI
 * (dist/cli/factory.js) as a child process against the whole local stack (Azurite, simulated
 * Azure, local host with the built app), a small generated estate and one virtual hour per real
 * second.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FactoryApi, type WaveView } from '../../cli/lib/api';
import { defaultPlan } from '../../cli/lib/rehearsal';
import { generateEstate } from '../../local/azure-sim/estate/generate';
import type { Estate } from '../../local/azure-sim/estate/schema';
import { PROJECT_ROOT } from '../../local/root';
import { type Stack, startStack } from '../../local/stack';
import { inventoryFromEstate } from '../../src/domain';

const CLI = path.join(PROJECT_ROOT, 'dist', 'cli', 'factory.js');
/** Virtual seconds per real second: a wave of a few virtual hours takes seconds. */
const TIME_SCALE = 3600;

let stack: Stack;
let api: FactoryApi;
let dir: string;
let estate: Estate;
/** Suitable machines, smallest disks first (the shortest seeding). */
let machines: string[];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `factory ARGS` with the stack's URL and key in the environment (unless `env` overrides). */
function factory(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, FACTORY_URL: stack.baseUrl, FACTORY_KEY: stack.functionKey, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => {
      // Whatever happens, the key never shows.
      expect(stdout).not.toContain(stack.functionKey);
      expect(stderr).not.toContain(stack.functionKey);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Polls the API until `done` holds (bounded in real time; the stack runs fast in virtual time). */
async function until(waveId: string, done: (w: WaveView) => boolean, what: string): Promise<WaveView> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const wave = await api.wave(waveId);
    if (done(wave)) return wave;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}: ${JSON.stringify(wave.counts)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function planFile(name: string, names: string[]): string {
  const plan = defaultPlan(estate, inventoryFromEstate(estate), 'auto');
  const file = path.join(dir, `${name}.json`);
  writeFileSync(
    file,
    JSON.stringify({ ...plan, name, machines: plan.machines.filter((m) => names.includes(m.sourceName)) }),
  );
  return file;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  estate = generateEstate(6, 2);
  machines = estate.machines
    .filter((m) => m.assessment.suitability === 'Suitable')
    .sort((a, b) => a.disks.reduce((s, d) => s + d.sizeGB, 0) - b.disks.reduce((s, d) => s + d.sizeGB, 0))
    .map((m) => m.name);
  dir = mkdtempSync(path.join(tmpdir(), 'cli-waves-'));
  stack = await startStack({ estate, timeScale: TIME_SCALE });
  api = new FactoryApi({ baseUrl: stack.baseUrl, key: stack.functionKey });
});

afterAll(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('factory waves start with a defective plan', () => {
  it('lists every problem, exits 1 and starts nothing', async () => {
    const before = await api.waves();
    const asJson = await factory(['waves', 'start', 'test/fixtures/plans/defective.json', '--json']);
    expect(asJson.code).toBe(1);
    const doc = JSON.parse(asJson.stdout) as { status: number; problems: Record<string, unknown>[] };
    expect(doc.status).toBe(400);
    expect(doc.problems.length).toBeGreaterThan(1);
    for (const problem of doc.problems) {
      expect(Object.keys(problem).sort()).toEqual(['code', 'column', 'message', 'row']);
    }
    expect(asJson.stderr.trim().split('\n')).toHaveLength(1);

    const asText = await factory([
      'waves',
      'start',
      'test/fixtures/plans/defective.csv',
      '--cutover',
      'approval',
    ]);
    expect(asText.code).toBe(1);
    expect(asText.stdout).toMatch(/^row \d+, [A-Z_]+: [A-Z_]+: .+$/m);
    expect(asText.stderr).toMatch(/400/);

    expect(await api.waves()).toEqual(before);
  });
});

describe('a wave with approval cut-over, steered from the CLI', () => {
  it('starts, waits for approval, is approved, watched to the end and reported', async () => {
    const names = machines.slice(0, 2);
    const file = planFile('cli-approval', names);
    const started = await factory([
      'waves',
      'start',
      file,
      '--cutover',
      'approval',
      '--idempotency-key',
      'cli-approval-1',
      '--json',
    ]);
    expect(started.code, started.stderr).toBe(0);
    const wave = JSON.parse(started.stdout) as { id: string; cutover: string; machineCount: number };
    expect(wave).toMatchObject({ cutover: 'approval', machineCount: 2 });
    // The same idempotency key again: the same wave.
    const again = await factory([
      'waves',
      'start',
      file,
      '--cutover',
      'approval',
      '--idempotency-key',
      'cli-approval-1',
      '--json',
    ]);
    expect((JSON.parse(again.stdout) as { id: string }).id).toBe(wave.id);

    await until(wave.id, (w) => w.counts.AwaitingApproval === 2, 'both machines to await approval');

    const noKey = await factory(['waves', 'approve', wave.id], { FACTORY_KEY: '' });
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toMatch(/function key/);

    const first = names[0]!;
    const one = await factory([
      'waves',
      'approve',
      wave.id,
      '--machine',
      first,
      '--approver',
      'alice@contoso.com',
    ]);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toContain(first);
    await until(
      wave.id,
      (w) => w.machines.find((m) => m.name === first)?.stage !== 'AwaitingApproval',
      `${first} to move on`,
    );
    const rest = await factory(['waves', 'approve', wave.id, '--approver', 'bob@contoso.com', '--json']);
    expect(rest.code, rest.stderr).toBe(0);
    expect(JSON.parse(rest.stdout)).toMatchObject({ approver: 'bob@contoso.com', approved: [names[1]] });

    const watched = await factory(['waves', 'watch', wave.id, '--interval', '0.2', '--json']);
    expect(watched.code, watched.stderr).toBe(0);
    const final = JSON.parse(watched.stdout) as WaveView;
    expect(final.counts.Done).toBe(2);
    expect(Object.fromEntries(final.machines.map((m) => [m.name, m.approvedBy]))).toEqual({
      [first]: 'alice@contoso.com',
      [names[1]!]: 'bob@contoso.com',
    });
    // Progress went to stderr, so stdout held the one document parsed above.
    expect(watched.stderr).toContain(`2/2 final`);

    const table = await factory(['waves', 'watch', wave.id]);
    expect(table.code).toBe(0);
    for (const name of names) expect(table.stdout).toMatch(new RegExp(`^${name}\\s+Done`, 'm'));

    const out = path.join(dir, 'report.csv');
    const report = await factory(['waves', 'report', wave.id, '--out', out]);
    expect(report.code, report.stderr).toBe(0);
    const rows = parse(readFileSync(out, 'utf8'), { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(2);
    expect(rows.map((r) => Object.values(r).find((v) => names.includes(v))).sort()).toEqual(
      [...names].sort(),
    );
    const reportJson = await factory(['waves', 'report', wave.id, '--json']);
    expect((JSON.parse(reportJson.stdout) as { rows: unknown[] }).rows).toEqual(rows);

    const retry = await factory(['waves', 'retry', wave.id, first, '--json']);
    expect(retry.code).toBe(1);
    expect(JSON.parse(retry.stdout)).toMatchObject({ status: 409 });
  });
});

describe('factory waves pause, resume and cancel', () => {
  it('pauses and resumes a running wave, then cancels it; watch ends with the machines Cancelled', async () => {
    const name = machines[2]!;
    const started = await factory([
      'waves',
      'start',
      planFile('cli-cancel', [name]),
      '--cutover',
      'approval',
      '--json',
    ]);
    expect(started.code, started.stderr).toBe(0);
    const { id } = JSON.parse(started.stdout) as { id: string };
    await until(id, (w) => w.status === 'Running', 'the wave to run');
    for (const [action, requested] of [
      ['pause', 'Pause'],
      ['resume', 'Resume'],
    ] as const) {
      const steered = await factory(['waves', action, id, '--json']);
      expect(steered.code, steered.stderr).toBe(0);
      expect(JSON.parse(steered.stdout)).toMatchObject({ waveId: id, requested });
    }
    const cancelled = await factory(['waves', 'cancel', id]);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    const watched = await factory(['waves', 'watch', id, '--interval', '0.2', '--json']);
    expect(watched.code, watched.stderr).toBe(0);
    const final = JSON.parse(watched.stdout) as WaveView;
    expect(final.status).toBe('Cancelled');
    expect(final.counts.Cancelled).toBe(1);
  });
});

describe('errors', () => {
  it('an unreachable URL is one clear line, without the key', async () => {
    const port = await freePort();
    const run = await factory([
      'waves',
      'watch',
      'w',
      '--url',
      `http://127.0.0.1:${port}`,
      '--key',
      'k-secret-1',
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `factory waves watch: cannot reach the factory API at http://127.0.0.1:${port}: ECONNREFUSED\n`,
    );
    expect(run.stderr).not.toContain('k-secret-1');
  });

  it('an unknown wave is a 404 for every read', async () => {
    const run = await factory(['waves', 'report', 'no-such-wave', '--json']);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ status: 404 });
  });
});

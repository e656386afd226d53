/**
 * `npm run host` as a process: settings from the environment, durable state in Azurite, the start
 * banner, requests over loopback, and a clean exit on SIGTERM.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AzuriteInstance, startAzurite } from '../../local/azurite';
import { PROJECT_ROOT, SAMPLE_APP } from '../unit/host-support';

let azurite: AzuriteInstance;
let child: ChildProcess;
let output = '';
let baseUrl: string;
let exited: Promise<number | null>;
const keysDir = mkdtempSync(path.join(tmpdir(), 'host-cli-keys-'));

/** Resolves with the first match of `pattern` in the host's output, as soon as it appears. */
function waitForOutput(pattern: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const match = output.match(pattern);
      if (match) {
        child.stdout?.off('data', check);
        resolve(match);
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) =>
      reject(new Error(`host exited with ${code} before printing ${pattern}:\n${output}`)),
    );
    check();
  });
}

beforeAll(async () => {
  azurite = await startAzurite();
  child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(PROJECT_ROOT, 'local', 'host', 'cli.ts'),
      '--app',
      SAMPLE_APP,
      '--port',
      '0',
    ],
    {
      cwd: PROJECT_ROOT,
      env: {
        ...process.env,
        AzureWebJobsStorage: azurite.connectionString,
        LOCAL_HOST_KEYS_FILE: path.join(keysDir, 'keys.json'),
        LOCAL_HOST_KEYS: 'master=cli-master-key;default=cli-function-key',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  await waitForOutput(/Host started \(\d+ms\)/);
  baseUrl = output.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/)![1]!;
});

afterAll(async () => {
  if (child.exitCode === null) child.kill('SIGKILL');
  await azurite?.stop();
  rmSync(keysDir, { recursive: true, force: true });
});

describe('npm run host', () => {
  it('prints its keys and functions like func start', () => {
    expect(output).toContain('master (admin): cli-master-key');
    expect(output).toContain(`hello: [GET] ${baseUrl}/api/hello/{name?}`);
    expect(output).toContain('recordEvent: eventGridTrigger');
  });

  it('serves the app, durable client included, with its durable state in Azurite', async () => {
    expect(await (await fetch(`${baseUrl}/api/hello/cli`)).text()).toBe('Hello, cli');
    expect((await fetch(`${baseUrl}/api/items/1?code=cli-function-key`)).status).toBe(200);
    const instances = await fetch(`${baseUrl}/api/sample/instances`);
    expect(instances.status).toBe(200);
    expect(((await instances.json()) as { taskHubName: string }).taskHubName).toBe('SampleHub');
  });

  it('stops cleanly on SIGTERM', async () => {
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('SIGTERM received: stopping the host');
  });
});

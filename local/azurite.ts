/**
 * Starts Azurite (Blob, Queue and Table storage) from the npm package on loopback ports it picks
 * itself, and gives the connection string that the Storage SDKs understand.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from './root';

export interface AzuriteInstance {
  connectionString: string;
  ports: { blob: number; queue: number; table: number };
  stop(): Promise<void>;
}

export interface AzuriteOptions {
  /** Folder for Azurite's data; omitted means in-memory (lost when Azurite stops). */
  location?: string;
}

/** The well-known development account that Azurite serves. */
export const DEV_ACCOUNT = 'devstoreaccount1';
export const DEV_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export function devConnectionString(ports: { blob: number; queue: number; table: number }): string {
  const base = 'http://127.0.0.1';
  return [
    'DefaultEndpointsProtocol=http',
    `AccountName=${DEV_ACCOUNT}`,
    `AccountKey=${DEV_KEY}`,
    `BlobEndpoint=${base}:${ports.blob}/${DEV_ACCOUNT}`,
    `QueueEndpoint=${base}:${ports.queue}/${DEV_ACCOUNT}`,
    `TableEndpoint=${base}:${ports.table}/${DEV_ACCOUNT}`,
  ].join(';');
}

const STARTUP_TIMEOUT_MS = 30_000;
/** Loaded into an in-memory Azurite first (see local/azurite-extents.ts); from the build, like the host. */
const IN_MEMORY_PRELOAD = path.join(PROJECT_ROOT, 'dist', 'local', 'azurite-preload.js');

export async function startAzurite(options: AzuriteOptions = {}): Promise<AzuriteInstance> {
  const bin = require.resolve('azurite/dist/src/azurite.js');
  const args = [
    ...(options.location ? [] : ['--require', builtPreload()]),
    bin,
    '--blobPort',
    '0',
    '--queuePort',
    '0',
    '--tablePort',
    '0',
    '--disableTelemetry',
    '--skipApiVersionCheck',
    // Its access log (a line per request on stdout, which nobody reads once the ports are known)
    // took 11% of Azurite's busy CPU in a 400-machine rehearsal; the startup lines still print.
    '--silent',
  ];
  if (options.location) {
    mkdirSync(options.location, { recursive: true });
    args.push('--location', options.location, '--debug', path.join(options.location, 'debug.log'));
  } else {
    args.push('--inMemoryPersistence');
  }
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const ports = await readPorts(child);
  return {
    connectionString: devConnectionString(ports),
    ports,
    stop: () => stopChild(child),
  };
}

function builtPreload(): string {
  if (!existsSync(IN_MEMORY_PRELOAD)) {
    throw new Error(`${IN_MEMORY_PRELOAD} is missing: build the project first (npm run build).`);
  }
  return IN_MEMORY_PRELOAD;
}

function readPorts(child: ChildProcess): Promise<{ blob: number; queue: number; table: number }> {
  return new Promise((resolve, reject) => {
    const found: Partial<Record<'blob' | 'queue' | 'table', number>> = {};
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`Azurite did not start within ${STARTUP_TIMEOUT_MS} ms:\n${output}`));
    }, STARTUP_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      for (const match of output.matchAll(
        /Azurite (Blob|Queue|Table) service is successfully listening at \S+:(\d+)/g,
      )) {
        found[match[1]!.toLowerCase() as 'blob' | 'queue' | 'table'] = Number(match[2]);
      }
      if (found.blob && found.queue && found.table) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        child.stderr?.resume();
        resolve({ blob: found.blob, queue: found.queue, table: found.table });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited with code ${code} before it was ready:\n${output}`));
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

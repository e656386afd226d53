/**
 * Test support for the local host's suites: throw-away apps written under the git-ignored
 * `.local/test-apps` of the project (so that `require('@azure/functions')` resolves from the
 * project's node_modules) and small HTTP helpers.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');
export const SAMPLE_APP = path.join(PROJECT_ROOT, 'test', 'fixtures', 'sample-app');

export interface TempApp {
  dir: string;
  remove(): void;
}

/** Writes an app: package.json with `main`, host.json, and the given files (path -> content). */
export function writeTempApp(
  files: Record<string, string>,
  options: { main?: string; hostJson?: object } = {},
): TempApp {
  const dir = path.join(PROJECT_ROOT, '.local', 'test-apps', randomUUID());
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'temp-app', version: '1.0.0', main: options.main ?? 'src/*.js' }),
  );
  writeFileSync(path.join(dir, 'host.json'), JSON.stringify(options.hostJson ?? { version: '2.0' }));
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), content);
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An Event Grid schema event (as Azure Resource Manager publishes them). */
export function gridEvent(id: string, data: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    topic: '/subscriptions/00000000-0000-0000-0000-000000000000',
    subject: `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-${id}`,
    eventType: 'Microsoft.Resources.ResourceWriteSuccess',
    eventTime: '2026-11-21T10:00:00.0000000Z',
    data,
    dataVersion: '',
    metadataVersion: '1',
  };
}

/** The host's command line: bad arguments end with a usage message and exit code 2. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from './host-support';

const CLI = path.join(PROJECT_ROOT, 'local', 'host', 'cli.ts');

function run(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: PROJECT_ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('npm run host', () => {
  it.each([
    [['--port', '7071'], '--app DIR is required'],
    [['--app', '.', '--port', 'seventy'], "--port must be a number from 0 to 65535, got 'seventy'"],
    [['--app', '.', '--port', '70000'], '--port must be a number from 0 to 65535'],
    [['--app', '.', '--verbose'], "Unknown option '--verbose'"],
  ])('rejects %j with exit code 2 and the usage', (args, message) => {
    const result = run(...args);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain('Usage: npm run host -- --app DIR');
  });

  it('prints the usage for --help and exits 0', () => {
    const result = run('--help');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('--port PORT');
  });
});

import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.join(__dirname, '..', '..');
const fixtures = path.join(root, 'test', 'fixtures', 'plans');
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');

/** Runs `factory <args>` as the operator would and returns its exit code and output. */
function factory(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(tsx, [path.join(root, 'cli', 'factory.ts'), ...args], { cwd: root }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('factory plan validate', () => {
  it('passes a good CSV plan against its estate', async () => {
    const run = await factory(
      'plan',
      'validate',
      path.join(fixtures, 'Input.csv'),
      '--estate',
      path.join(fixtures, 'estate.json'),
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('no problems (3 machines)');
  });

  it('prints every problem as JSON and exits 1', async () => {
    const run = await factory(
      'plan',
      'validate',
      path.join(fixtures, 'defective.json'),
      '--estate',
      path.join(fixtures, 'estate.json'),
      '--json',
    );
    expect(run.code).toBe(1);
    const problems = JSON.parse(run.stdout) as {
      row: number;
      column: string;
      code: string;
      message: string;
    }[];
    expect(problems.length).toBeGreaterThanOrEqual(15);
    for (const p of problems) expect(Object.keys(p).sort()).toEqual(['code', 'column', 'message', 'row']);
    expect(problems).toContainEqual(
      expect.objectContaining({ row: 4, column: 'sourceName', code: 'LEGACY_OS' }),
    );
  });

  it('checks only the plan itself without an estate, in human-readable form', async () => {
    const run = await factory('plan', 'validate', path.join(fixtures, 'defective.csv'));
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^row 2, TURNOFF_SOURCESERVER: BAD_FLAG: /m);
    expect(run.stdout).not.toContain('LEGACY_OS');
  });

  it('exits 2 on a missing file or bad arguments', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'plan-validate-'));
    writeFileSync(path.join(dir, 'broken.json'), '{ not json');
    const missing = await factory('plan', 'validate', path.join(dir, 'nope.csv'), '--json');
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stdout)).toHaveProperty('error');
    expect((await factory('plan', 'validate', path.join(dir, 'broken.json'))).code).toBe(2);
    expect((await factory('plan', 'validate')).code).toBe(2);
  });
});

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { cpuMsOf, descendants, kindOf, parseStat, sampleCpu } from '../../bench/cpu';

describe('bench CPU figures', () => {
  it('reads the parent and the user + system ticks of a stat line whose command has spaces and parentheses', () => {
    const line =
      '4242 (node (worker) x) S 17 4242 17 0 -1 4194304 1000 0 0 0 250 40 0 0 20 0 11 0 12345 1000000 5000';
    expect(parseStat(line)).toEqual({ ppid: 17, cpuMs: 2900 });
  });

  it('tells the local host and Azurite from other processes by their command lines', () => {
    expect(kindOf('/usr/bin/node /app/dist/local/host/cli.js --app /app --port 7071')).toBe('host');
    expect(kindOf('/usr/bin/node /app/node_modules/azurite/dist/src/azurite.js --tablePort 0')).toBe(
      'azurite',
    );
    expect(kindOf('/usr/bin/node /app/node_modules/tsx/dist/cli.mjs bench/events.ts')).toBe('other');
    expect(kindOf('/usr/bin/node --max-semi-space-size=64 /app/dist/local/host/cli.js --app /app')).toBe(
      'host',
    );
    // An ended process not reaped yet shows an empty command line: not known, rather than 'other'.
    expect(kindOf('')).toBeUndefined();
  });

  it.skipIf(process.platform !== 'linux')('counts the CPU time a child spent', async () => {
    const sampler = sampleCpu(20);
    const child = await spinningChild();
    try {
      expect(descendants()?.get(child.pid!)).toBe('other');
      expect(cpuMsOf(child.pid!)).toBeGreaterThanOrEqual(150);
      const seconds = sampler.stop();
      expect(seconds?.other).toBeGreaterThanOrEqual(0.15);
      expect(seconds?.host).toBe(0);
      expect(seconds?.azurite).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it.skipIf(process.platform !== 'linux')(
    'counts a child already running only from the start of the sampling',
    async () => {
      const child = await spinningChild();
      try {
        const sampler = sampleCpu(20);
        expect(descendants()?.get(child.pid!)).toBe('other');
        expect(sampler.stop()?.other).toBeLessThan(0.1);
      } finally {
        child.kill('SIGKILL');
      }
    },
  );
});

/** A child that has used 200 ms of CPU once this resolves, and then waits to be killed. */
async function spinningChild(): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      'while ((process.cpuUsage().user + process.cpuUsage().system) < 200000) {}' +
        'process.stdout.write("spent\\n"); setInterval(() => {}, 1000);',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await once(child.stdout!, 'data');
  return child;
}

/**
 * CPU time of a bench and of the processes it starts (the local host, Azurite), read from /proc:
 * Linux only; elsewhere the readers answer undefined. With two cores shared by all of them, these
 * figures say which process a wall time went to.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Linux's USER_HZ: /proc reports CPU time in 10 ms ticks. */
const MS_PER_TICK = 10;

export type ProcessKind = 'host' | 'azurite' | 'other';

/** The parent and the CPU time (user + system, ms) in the text of a `/proc/<pid>/stat`. */
export function parseStat(text: string): { ppid: number; cpuMs: number } {
  // Fields after the command's closing parenthesis: state, ppid, ..., utime (12th), stime (13th).
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(fields[1]), cpuMs: (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK };
}

/**
 * Which process of the local stack a command line starts; undefined for an empty one, which is
 * what an ended process not yet reaped by its parent (a zombie) shows, whatever it was.
 */
export function kindOf(commandLine: string): ProcessKind | undefined {
  if (commandLine.trim() === '') return undefined;
  if (/[\\/]azurite[\\/]/.test(commandLine)) return 'azurite';
  if (/[\\/]local[\\/]host[\\/]cli\.[jt]s/.test(commandLine)) return 'host';
  return 'other';
}

function stat(pid: number): { ppid: number; cpuMs: number } | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined; // ended meanwhile
  }
}

/** CPU time (ms) a process has used so far; undefined once it has ended, or off Linux. */
export function cpuMsOf(pid: number): number | undefined {
  return stat(pid)?.cpuMs;
}

/** The processes descending from this one now, with their kinds; undefined where /proc is unreadable. */
export function descendants(): Map<number, ProcessKind> | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  const parentOf = new Map<number, number>();
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = stat(Number(entry))?.ppid;
    if (ppid !== undefined) parentOf.set(Number(entry), ppid);
  }
  const found = new Map<number, ProcessKind>();
  for (const pid of parentOf.keys()) {
    let ancestor = parentOf.get(pid);
    while (ancestor !== undefined && ancestor !== process.pid) ancestor = parentOf.get(ancestor);
    if (ancestor !== process.pid) continue;
    let commandLine = '';
    try {
      commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      continue;
    }
    // A zombie keeps the kind and the CPU time its last readable sample found.
    const kind = kindOf(commandLine);
    if (kind !== undefined) found.set(pid, kind);
  }
  return found;
}

/** CPU seconds of a run: this process (the bench, and the simulator it serves) and its children by kind. */
export interface CpuSeconds {
  bench: number;
  host: number;
  azurite: number;
  other: number;
}

/**
 * Samples the CPU time of this process and its descendants every `intervalMs` until `stop`. A child
 * counts with its last sample, so up to `intervalMs` of a child that ended before `stop` is missed;
 * a child already running at the start counts from there.
 */
export function sampleCpu(intervalMs = 1000): { stop(): CpuSeconds | undefined } {
  const selfAtStart = process.cpuUsage();
  const last = new Map<number, { kind: ProcessKind; cpuMs: number }>();
  const atStart = new Map<number, number>();
  let readable = true;
  const sample = () => {
    const found = descendants();
    if (found === undefined) {
      readable = false;
      return;
    }
    for (const [pid, kind] of found) {
      const cpuMs = cpuMsOf(pid);
      if (cpuMs !== undefined) last.set(pid, { kind, cpuMs });
    }
  };
  sample();
  for (const [pid, { cpuMs }] of last) atStart.set(pid, cpuMs);
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      sample();
      if (!readable) return undefined;
      const self = process.cpuUsage(selfAtStart);
      const ms = { bench: (self.user + self.system) / 1000, host: 0, azurite: 0, other: 0 };
      for (const [pid, { kind, cpuMs }] of last) ms[kind] += cpuMs - (atStart.get(pid) ?? 0);
      const seconds = (value: number) => Math.round(value / 100) / 10;
      return {
        bench: seconds(ms.bench),
        host: seconds(ms.host),
        azurite: seconds(ms.azurite),
        other: seconds(ms.other),
      };
    },
  };
}

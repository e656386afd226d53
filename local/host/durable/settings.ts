/** host.json `extensions.durableTask` settings the engine honours, with the extension's defaults. */
import type { TimerSettings } from './orchestration';

export interface EngineSettings {
  maxConcurrentActivityFunctions: number;
  maxConcurrentOrchestratorFunctions: number;
  partitionCount: number;
  /** Real ms a received message stays invisible (renewed while it is being worked on). */
  controlQueueVisibilityMs: number;
  workItemQueueVisibilityMs: number;
  /** Real ms: longest pause between polls of an idle queue. */
  maxQueuePollingIntervalMs: number;
  /** Orchestration states kept in memory between work items. */
  instanceCacheSize: number;
  timers: TimerSettings;
}

/** Parses a .NET TimeSpan (`[d.]hh:mm:ss[.fff]`) into milliseconds. */
export function parseTimeSpan(text: string): number {
  const match = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?$/.exec(text.trim());
  if (!match) throw new Error(`Not a TimeSpan (d.hh:mm:ss): '${text}'`);
  const [, days, hours, minutes, seconds, fraction] = match;
  const ms = fraction ? Number(`0.${fraction}`) * 1000 : 0;
  return (
    (((Number(days ?? 0) * 24 + Number(hours)) * 60 + Number(minutes)) * 60 + Number(seconds)) * 1000 + ms
  );
}

function num(value: unknown, fallback: number): number {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : fallback;
}

function span(value: unknown, fallback: string): number {
  return parseTimeSpan(typeof value === 'string' ? value : fallback);
}

export function engineSettings(settings: Record<string, unknown>): EngineSettings {
  const provider = (settings.storageProvider ?? {}) as Record<string, unknown>;
  const maximumShortTimerDuration = '6.00:00:00';
  const longRunningTimerIntervalDuration = '3.00:00:00';
  return {
    maxConcurrentActivityFunctions: num(settings.maxConcurrentActivityFunctions, 10),
    maxConcurrentOrchestratorFunctions: num(settings.maxConcurrentOrchestratorFunctions, 10),
    partitionCount: Math.min(16, num(provider.partitionCount, 4)),
    // The extension's 5-minute leases would stall recovery after a crash of a local host for minutes;
    // 30 s with renewal keeps the same guarantees.
    controlQueueVisibilityMs: span(provider.controlQueueVisibilityTimeout, '00:00:30'),
    workItemQueueVisibilityMs: span(provider.workItemQueueVisibilityTimeout, '00:00:30'),
    maxQueuePollingIntervalMs: span(provider.maxQueuePollingInterval, '00:00:01'),
    instanceCacheSize: num(settings.extendedSessionsInstanceCacheSize, 5000),
    timers: {
      maximumShortTimerMs: parseTimeSpan(maximumShortTimerDuration),
      longRunningTimerIntervalMs: parseTimeSpan(longRunningTimerIntervalDuration),
      maximumShortTimerDuration,
      longRunningTimerIntervalDuration,
      defaultHttpAsyncRequestSleepMs: 30_000,
    },
  };
}

/**
 * App settings override host.json as in Azure Functions:
 * `AzureFunctionsJobHost__extensions__durableTask__storageProvider__partitionCount=2`.
 */
export function withEnvironmentOverrides(
  settings: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, unknown> {
  const prefix = 'azurefunctionsjobhost__extensions__durabletask__';
  const merged = structuredClone(settings);
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || !name.toLowerCase().startsWith(prefix)) continue;
    const path = name.slice(prefix.length).split('__');
    let node = merged;
    for (const segment of path.slice(0, -1)) {
      const key = Object.keys(node).find((k) => k.toLowerCase() === segment.toLowerCase()) ?? segment;
      node[key] = typeof node[key] === 'object' && node[key] !== null ? node[key] : {};
      node = node[key] as Record<string, unknown>;
    }
    const last = path.at(-1)!;
    const key = Object.keys(node).find((k) => k.toLowerCase() === last.toLowerCase()) ?? last;
    node[key] = value;
  }
  return merged;
}

/**
 * The virtual clock shared by the local host and the simulated Azure.
 *
 * Virtual time runs `scale` times faster than real time from a shared origin, so separate
 * processes that read the same `LOCAL_CLOCK_ORIGIN` and `LOCAL_TIME_SCALE` agree on "now" without
 * talking to each other: virtualNow = origin + (realNow - origin) * scale.
 */
export interface Clock {
  /** Virtual milliseconds since the epoch. */
  now(): number;
  /** Real milliseconds to wait until the virtual instant `virtualMs` (0 if it has passed). */
  realDelayUntil(virtualMs: number): number;
  /** Resolves once virtual time has reached `virtualMs`; rejects with the signal's reason if aborted. */
  sleepUntil(virtualMs: number, signal?: AbortSignal): Promise<void>;
  readonly scale: number;
  readonly origin: number;
}

export interface ClockSettings {
  /** Virtual seconds per real second; 1 means real time. */
  scale: number;
  /** Real instant (ms since epoch) at which virtual and real time coincide. */
  origin: number;
}

/** Reads `LOCAL_TIME_SCALE` (default 1) and `LOCAL_CLOCK_ORIGIN` (ISO instant, default: now). */
export function clockSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): ClockSettings {
  const rawScale = env.LOCAL_TIME_SCALE ?? '1';
  const scale = Number(rawScale);
  if (!Number.isFinite(scale) || scale <= 0) {
    throw new Error(
      `LOCAL_TIME_SCALE must be a positive number of virtual seconds per real second, got '${rawScale}'`,
    );
  }
  const rawOrigin = env.LOCAL_CLOCK_ORIGIN;
  const origin = rawOrigin === undefined || rawOrigin === '' ? Date.now() : Date.parse(rawOrigin);
  if (!Number.isFinite(origin)) {
    throw new Error(`LOCAL_CLOCK_ORIGIN must be an ISO 8601 instant, got '${rawOrigin}'`);
  }
  return { scale, origin };
}

/** Environment entries that make a child process share this clock. */
export function clockEnv(settings: ClockSettings): Record<string, string> {
  return {
    LOCAL_TIME_SCALE: String(settings.scale),
    LOCAL_CLOCK_ORIGIN: new Date(settings.origin).toISOString(),
  };
}

/** Longest single real wait; long virtual sleeps are chained so a changed system clock is noticed. */
const MAX_REAL_WAIT_MS = 60_000;

export function createClock(settings: ClockSettings, realNow: () => number = Date.now): Clock {
  const { scale, origin } = settings;
  const now = () => origin + (realNow() - origin) * scale;
  const realDelayUntil = (virtualMs: number) => Math.max(0, Math.ceil((virtualMs - now()) / scale));
  const sleepUntil = (virtualMs: number, signal?: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      const step = () => {
        const delay = realDelayUntil(virtualMs);
        if (delay <= 0) {
          signal?.removeEventListener('abort', onAbort);
          resolve();
          return;
        }
        timer = setTimeout(step, Math.min(delay, MAX_REAL_WAIT_MS));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      step();
    });
  return { now, realDelayUntil, sleepUntil, scale, origin };
}

export function clockFromEnv(env: NodeJS.ProcessEnv = process.env): Clock {
  return createClock(clockSettingsFromEnv(env));
}

/**
 * ARM's request throttling: one token bucket per principal and kind of call (reads, writes, deletes).
 *
 * Buckets refill in VIRTUAL seconds. Azure's limits are per real second, but a rehearsal at
 * LOCAL_TIME_SCALE=1000 squeezes a virtual hour into 3.6 real seconds; refilling in virtual time keeps
 * the pressure a real wave would meet (a factory that bursts 1,000 writes in a virtual minute is
 * throttled here exactly as it would be in Azure), instead of making throttling 1000 times laxer.
 */
import type { Clock } from '../../clock';
import type { OperationKind } from './types';

export interface BucketLimit {
  /** Tokens the bucket holds when full. */
  burst: number;
  /** Tokens added per virtual second. */
  perSecond: number;
}

export type BucketName = 'reads' | 'writes' | 'deletes';

export type ThrottleLimits = Record<BucketName, BucketLimit>;

/** Azure Resource Manager's published limits per principal (azure-facts.md, Limits). */
export const ARM_LIMITS: ThrottleLimits = {
  reads: { burst: 250, perSecond: 25 },
  writes: { burst: 200, perSecond: 10 },
  deletes: { burst: 200, perSecond: 10 },
};

export function bucketOf(kind: OperationKind): BucketName {
  if (kind === 'read') return 'reads';
  if (kind === 'delete') return 'deletes';
  // POST actions count against the writes bucket, as in ARM.
  return 'writes';
}

export interface ThrottleDecision {
  allowed: boolean;
  bucket: BucketName;
  /** Whole tokens left after this call, for the x-ms-ratelimit-remaining-subscription-* header. */
  remaining: number;
  /** When refused: virtual ms until one token is available. */
  waitVirtualMs: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export interface Throttle {
  /** Takes a token for the call when `enforce`; otherwise only reports the level. */
  take(principalId: string, kind: OperationKind, enforce: boolean): ThrottleDecision;
}

export function createThrottle(clock: Clock, limits: ThrottleLimits = ARM_LIMITS): Throttle {
  const buckets = new Map<string, Bucket>();
  return {
    take(principalId, kind, enforce) {
      const name = bucketOf(kind);
      const limit = limits[name];
      const key = `${principalId}|${name}`;
      const now = clock.now();
      const bucket = buckets.get(key) ?? { tokens: limit.burst, at: now };
      bucket.tokens = Math.min(limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * limit.perSecond);
      bucket.at = now;
      buckets.set(key, bucket);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return { allowed: true, bucket: name, remaining: Math.floor(bucket.tokens), waitVirtualMs: 0 };
      }
      const waitVirtualMs = Math.ceil(((1 - bucket.tokens) / limit.perSecond) * 1000);
      if (!enforce) return { allowed: true, bucket: name, remaining: 0, waitVirtualMs: 0 };
      return { allowed: false, bucket: name, remaining: 0, waitVirtualMs };
    },
  };
}

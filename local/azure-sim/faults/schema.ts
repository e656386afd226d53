/** The fault profile (contracts.md section 2): what goes wrong, reproducibly from `seed`. */
import { z } from 'zod';

const rate = z.number().min(0).max(1);

export const faultProfileSchema = z.strictObject({
  seed: z.number().int().default(0),
  arm: z
    .strictObject({
      transientFailureRate: rate.default(0),
      throttle: z.boolean().default(false),
    })
    .default({ transientFailureRate: 0, throttle: false }),
  initialSeedingFailureRate: rate.default(0),
  testMigrationFailureRate: rate.default(0),
  migrationFailureRate: rate.default(0),
  onboardingFailureRate: rate.default(0),
  eventGrid: z
    .strictObject({
      duplicateRate: rate.default(0),
      reorderWindowSeconds: z.number().nonnegative().default(0),
      failFirstAttemptRate: rate.default(0),
    })
    .default({ duplicateRate: 0, reorderWindowSeconds: 0, failFirstAttemptRate: 0 }),
});

/** A fault profile with every default filled in. */
export type FaultProfile = z.infer<typeof faultProfileSchema>;
/** What a fault file may contain. */
export type FaultProfileInput = z.input<typeof faultProfileSchema>;

export const NO_FAULTS: FaultProfile = faultProfileSchema.parse({});

/**
 * The settings a wave's orchestrations run with. Orchestrations never read settings themselves
 * (they are replayed): the HTTP route builds these once from the configuration and the plan, and
 * they travel as orchestration input (and are kept in the wave's journal record for retries).
 */
import type { FactoryConfig } from '../../config';
import type { Inventory } from '../../domain/inventory';
import type { PlanSettings } from '../../domain/plan';
import type { PipelineSettings } from '../../orchestrations/vmPipeline';
import type { WaveSettings } from '../../orchestrations/wave';

const MINUTE_MS = 60_000;

/**
 * How the pipeline paces itself, in virtual time. Polls of a running operation: at least 2 min
 * apart (ARM reads are budgeted at 25/s across the whole app), at most 60 min (one delta cycle).
 */
export const PIPELINE_TIMING = {
  pollMinMs: 2 * MINUTE_MS,
  pollMaxMs: 60 * MINUTE_MS,
  slotPollMs: 5 * MINUTE_MS,
  /** Six missed slot polls: the waiter is gone (cancelled or terminated). */
  slotStaleMs: 30 * MINUTE_MS,
  testAttempts: 2,
  /** Four reads 2 min apart: a test VM gets 8 min to boot and report its agent Ready. */
  testVmChecks: 4,
  resyncAttempts: 2,
  /** Automanage reaches Conformant in about 30 min; 6 h leaves room for its retries. */
  onboardingTimeoutMs: 6 * 60 * MINUTE_MS,
  retry: { attempts: 6, minDelayMs: 30_000, maxDelayMs: 15 * MINUTE_MS },
} as const;

export const WAVE_TIMING = {
  tickMs: 5 * MINUTE_MS,
  idleTickMs: 30 * MINUTE_MS,
} as const;

export function pipelineSettings(config: FactoryConfig, plan: PlanSettings): PipelineSettings {
  return {
    ...PIPELINE_TIMING,
    retry: { ...PIPELINE_TIMING.retry },
    cutover: plan.cutover,
    applianceCapacity: config.limits.maxReplicationsPerAppliance,
  };
}

export function waveSettings(config: FactoryConfig, plan: PlanSettings, inventory: Inventory): WaveSettings {
  return {
    pipeline: pipelineSettings(config, plan),
    batchSize: config.limits.enableBatchSize,
    wakesPerGeneration: config.limits.waveWakesPerGeneration,
    ...(plan.maxParallel === undefined ? {} : { maxParallel: plan.maxParallel }),
    capacity: Object.fromEntries(
      inventory.appliances.map((a) => [a.name.toLowerCase(), a.maxConcurrentReplications]),
    ),
    ...WAVE_TIMING,
  };
}

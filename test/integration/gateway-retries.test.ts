/**
 * The SDK pipelines' retry policies as the gateways configure them (retryOptions from settings),
 * against a simulator that throttles with ARM's token buckets and fails a share of calls with
 * 500/503: every call still succeeds, after the retries the simulator's ledger counts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, defaultProviders, type Simulator } from '../../local/azure-sim/index';
import { createClock } from '../../local/clock';
import { createGateways } from '../../src/azure';
import type { AzureGateways } from '../../src/azure/types';
import { createCredential, loadConfig } from '../../src/config';
import { AzureOperationError } from '../../src/domain/errors';
import { testEstate, VAULT, VAULT_RG } from './sim-sr-support';

/** Slow enough that a refused read waits a few real ms for its token (1 virtual s / 50). */
const TIME_SCALE = 50;
const READS = 30;

let sim: Simulator;
let gateways: AzureGateways;

beforeAll(async () => {
  sim = await createSimulator({
    estate: testEstate(),
    faults: { seed: 7, arm: { throttle: true, transientFailureRate: 0.25 } },
    clock: createClock({ scale: TIME_SCALE, origin: Date.now() }),
    providers: defaultProviders(),
    throttleLimits: {
      reads: { burst: 3, perSecond: 1 },
      writes: { burst: 200, perSecond: 10 },
      deletes: { burst: 200, perSecond: 10 },
    },
  });
  Object.assign(process.env, sim.env());
  const config = loadConfig({
    ...sim.env(),
    AZURE_RESOURCE_MANAGER_ENDPOINT: sim.armUrl,
    AZURE_DISABLE_INSTANCE_DISCOVERY: 'true',
    MIGRATE_RESOURCE_GROUP: VAULT_RG,
    MIGRATE_PROJECT_NAME: 'contoso-migrate',
    MIGRATE_VAULT_NAME: VAULT,
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    ARM_MAX_RETRIES: '10',
    ARM_RETRY_DELAY_MS: '10',
    ARM_MAX_RETRY_DELAY_MS: '100',
  });
  gateways = createGateways(config, createCredential(config));
});

afterAll(async () => {
  await sim?.stop();
});

describe('retries inside the SDK pipeline', () => {
  it('rides out 429s (honouring Retry-After) and transient 5xx', async () => {
    const names: (string | undefined)[] = [];
    for (let i = 0; i < READS; i++) names.push((await gateways.network.getVnet('rg-net', 'vnet-prod'))?.name);
    expect(names).toEqual(Array.from({ length: READS }, () => 'vnet-prod'));
    const ledger = sim.core.ledgerSummary();
    expect(ledger.throttled).toBeGreaterThan(0);
    expect(ledger.injectedFaults).toBeGreaterThan(0);
    expect(ledger.armReads).toBeGreaterThan(READS);
  });

  it('gives up on a refusal at once, as a typed error', async () => {
    const before = sim.core.ledgerSummary().armReads;
    const error = await gateways.compute.listVms('rg-missing').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AzureOperationError);
    expect((error as AzureOperationError).statusCode).toBe(404);
    // One answered call, plus any 429/5xx retries before it: never a retry of the 404 itself.
    const entries = sim.core.ledgerEntries().slice(-(sim.core.ledgerSummary().armReads - before));
    expect(entries.filter((e) => e.status === 404)).toHaveLength(1);
  });
});

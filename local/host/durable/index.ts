/**
 * The local Durable Task extension: `createDurableEngine` gives the host what the extension gives
 * the Functions host (client binding, HTTP API, the dispatchers that run orchestrations,
 * activities and entities through the worker).
 */
import type { DurableEngineOptions, DurableHost } from '../types';
import { AzureStore } from './azure-store';
import { DurableEngine } from './engine';
import { clientBinding, type HttpApiOptions, handleDurableHttp } from './http-api';
import { MemoryStore } from './memory-store';
import { engineSettings, withEnvironmentOverrides } from './settings';
import type { DurableStore } from './store';

export interface LocalDurableHost extends DurableHost {
  /** The engine itself, for tests and benchmarks that drive it without HTTP. */
  readonly engine: DurableEngine;
}

export async function createDurableEngine(options: DurableEngineOptions): Promise<LocalDurableHost> {
  const settings = engineSettings(withEnvironmentOverrides(options.settings));
  const store: DurableStore =
    options.storage.kind === 'memory'
      ? new MemoryStore(settings.partitionCount)
      : new AzureStore({
          connectionString: options.storage.connectionString,
          hubName: options.hubName,
          partitionCount: settings.partitionCount,
        });
  const engine = new DurableEngine({
    store,
    invoker: options.invoker,
    clock: options.clock,
    settings,
    log: options.log,
  });
  const api: HttpApiOptions = {
    engine,
    hubName: options.hubName,
    baseUrl: options.baseUrl,
    systemKey: options.systemKey,
  };
  const binding = clientBinding(api);
  return {
    engine,
    clientBinding: () => binding,
    handleHttp: (req, res, url) => handleDurableHttp(api, req, res, url),
    setAnswering: (answering) => engine.setAnswering(answering),
    start: () => engine.start(),
    stop: () => engine.stop(),
  };
}

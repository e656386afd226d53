/**
 * The simulated Azure control plane, in process: `createSimulator` generates (once) the TLS
 * material, starts the OpenID authority and the ARM front door on 127.0.0.1 with every provider,
 * and returns what a client needs to use it like Azure.
 *
 * A client (the Functions app, a test, the CLI) uses it through settings only:
 *   NODE_EXTRA_CA_CERTS=<caCertPath>        (read by Node at process start)
 *   AZURE_AUTHORITY_HOST=<authorityHost>    AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET
 *   the ARM endpoint = <armUrl>, and the credential built with `disableInstanceDiscovery: true`
 *   (MSAL would otherwise ask login.microsoftonline.com to validate the authority; the option is
 *   harmless against Azure's own authority).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Clock } from '../clock';
import { createAuthority } from './auth/authority';
import type { Estate } from './estate/schema';
import { type CustomTopic, eventGridSinkFactory } from './eventgrid';
import { type FaultProfile, type FaultProfileInput, faultProfileSchema } from './faults/schema';
import { SimulatorCore } from './framework/simulator';
import type { ThrottleLimits } from './framework/throttle';
import { ensureSimTls } from './framework/tls';
import type { EventSinkFactory, EventSubscription, ProviderFactory } from './framework/types';
import { createAutomanageProvider } from './providers/automanage';
import { createComputeProvider } from './providers/compute';
import { createMigrateProvider } from './providers/migrate';
import { createNetworkProvider } from './providers/network';
import { createResourcesProvider } from './providers/resources';
import { createSiteRecoveryProvider } from './providers/siterecovery';
import { startSimServer } from './server';

/** The simulated directory; fixed so that settings files can name it. */
export const DEFAULT_TENANT_ID = '72f988bf-0000-4000-8000-00000000a2f1';
export const DEFAULT_CLIENT_ID = 'a1b2c3d4-0000-4000-8000-00000000f4c7';

export interface SimulatorOptions {
  estate: Estate;
  faults?: FaultProfileInput | FaultProfile;
  clock: Clock;
  /** Default 0: the OS chooses. */
  port?: number;
  eventSubscriptions?: EventSubscription[];
  /** Custom Event Grid topics the simulator serves (publish with `EventGridPublisherClient`). */
  eventGridTopics?: CustomTopic[];
  /** Providers besides Resources and Compute; default: every simulated provider. */
  providers?: ProviderFactory[];
  /** Default: the simulated Event Grid. */
  eventSink?: EventSinkFactory;
  /** Throttling buckets when the fault profile turns throttling on; default Azure's. */
  throttleLimits?: ThrottleLimits;
  /** Where the CA and server certificate live; default `<project>/.local/sim-tls`. */
  tlsDir?: string;
  tenantId?: string;
  clientId?: string;
  /** Default: random per start. */
  clientSecret?: string;
  /** Other applications that may sign in besides the app (an operator's tool, a script). */
  operators?: { clientId: string; clientSecret: string }[];
  /** Key of the control API; default: random per start. */
  controlKey?: string;
}

export interface Simulator {
  /** ARM base URL, e.g. `https://127.0.0.1:41234`. */
  armUrl: string;
  /** The CA certificate clients must trust (NODE_EXTRA_CA_CERTS). */
  caCertPath: string;
  authority: { authorityHost: string; tenantId: string; clientId: string; clientSecret: string };
  /** Base of the control API (`x-sim-control-key` header). */
  controlUrl: string;
  controlKey: string;
  core: SimulatorCore;
  /** Settings that make a process use this simulator as its Azure (add NODE_EXTRA_CA_CERTS at spawn). */
  env(): Record<string, string>;
  stop(): Promise<void>;
}

export function defaultProviders(): ProviderFactory[] {
  return [createNetworkProvider, createMigrateProvider, createSiteRecoveryProvider, createAutomanageProvider];
}

export async function createSimulator(options: SimulatorOptions): Promise<Simulator> {
  const tls = await ensureSimTls(options.tlsDir);
  const tenantId = options.tenantId ?? DEFAULT_TENANT_ID;
  const clientId = options.clientId ?? DEFAULT_CLIENT_ID;
  const clientSecret = options.clientSecret ?? randomBytes(24).toString('base64url');
  const controlKey = options.controlKey ?? randomBytes(24).toString('base64url');
  const authority = createAuthority({
    tenantId,
    clients: [
      { clientId, clientSecret, objectId: randomUUID() },
      ...(options.operators ?? []).map((operator) => ({ ...operator, objectId: randomUUID() })),
    ],
  });
  const core = new SimulatorCore({
    estate: options.estate,
    faults: faultProfileSchema.parse(options.faults ?? {}),
    clock: options.clock,
    authority,
    resources: createResourcesProvider,
    compute: createComputeProvider,
    providers: options.providers ?? defaultProviders(),
    eventSink: options.eventSink ?? eventGridSinkFactory({ topics: options.eventGridTopics ?? [] }),
    eventSubscriptions: options.eventSubscriptions ?? [],
    ...(options.throttleLimits ? { throttleLimits: options.throttleLimits } : {}),
  });
  const server = await startSimServer({ core, authority, tls, controlKey, port: options.port ?? 0 });
  const armUrl = server.baseUrl;
  return {
    armUrl,
    caCertPath: tls.caCertPath,
    authority: { authorityHost: armUrl, tenantId, clientId, clientSecret },
    controlUrl: `${armUrl}/_sim`,
    controlKey,
    core,
    env: () => ({
      AZURE_AUTHORITY_HOST: armUrl,
      AZURE_TENANT_ID: tenantId,
      AZURE_CLIENT_ID: clientId,
      AZURE_CLIENT_SECRET: clientSecret,
      AZURE_SUBSCRIPTION_ID: options.estate.subscriptionId,
    }),
    stop: async () => {
      await core.stop();
      await server.close();
    },
  };
}

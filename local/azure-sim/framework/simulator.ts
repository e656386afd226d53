/**
 * The simulator's request pipeline for ARM calls, independent of HTTP: authentication, api-version,
 * routing, throttling, injected faults, body parsing, the provider's handler, the ledger, resource
 * events and long-running operations. `server.ts` puts it behind HTTPS.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../clock';
import type { Authority } from '../auth/authority';
import type { Estate } from '../estate/schema';
import type { FaultProfile } from '../faults/schema';
import { ArmError } from './errors';
import { resourceEvent } from './events';
import { parseResourceId, seededUuid } from './ids';
import { Ledger, type LedgerSummary } from './ledger';
import { type Operation, Operations, resultAnswer, statusBody } from './operations';
import { createRandomStreams, type RandomStreams } from './random';
import { createRouter, type Router } from './router';
import { ARM_LIMITS, createThrottle, type Throttle, type ThrottleLimits } from './throttle';
import type {
  ArmRequest,
  ArmResult,
  ComputeApi,
  EventSink,
  EventSinkFactory,
  EventSubscription,
  LedgerFindings,
  ProviderFactory,
  ResourceGroupApi,
  ResourceProvider,
  Route,
  SimContext,
  StartOperationOptions,
  SystemEvent,
} from './types';

/** The Resources and Compute providers are built first: the others reach them through `sim`. */
export type ComputeFactory = (sim: SimContext) => { provider: ResourceProvider; api: ComputeApi };
export type ResourcesFactory = (sim: SimContext) => { provider: ResourceProvider; api: ResourceGroupApi };

export interface SimulatorCoreOptions {
  estate: Estate;
  faults: FaultProfile;
  clock: Clock;
  authority: Authority;
  resources: ResourcesFactory;
  compute: ComputeFactory;
  providers: ProviderFactory[];
  eventSink?: EventSinkFactory;
  eventSubscriptions?: EventSubscription[];
  throttleLimits?: ThrottleLimits;
}

export interface ArmCall {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | undefined>;
  rawBody: string;
  /** `https://127.0.0.1:{port}`, for the URLs of long-running operations. */
  baseUrl: string;
}

/** A one-off failure injected through the control API. */
export interface InjectedFault {
  status: number;
  code?: string;
  message?: string;
  method?: string;
  /** Case-insensitive substring of the request path. */
  pathContains?: string;
  /** How many matching calls fail; default 1. */
  count?: number;
}

/** How many of the most recent events the control API can show. */
const RECENT_EVENTS = 10_000;

const OPERATION_STATUS_PATTERN =
  '/subscriptions/{subscriptionId}/providers/{namespace}/locations/{location}/operations/{operationId}';
const OPERATION_RESULT_PATTERN =
  '/subscriptions/{subscriptionId}/providers/{namespace}/locations/{location}/operationResults/{operationId}';

export class SimulatorCore {
  private state!: {
    estate: Estate;
    random: RandomStreams;
    ledger: Ledger;
    throttle: Throttle;
    operations: Operations;
    providers: ResourceProvider[];
    compute: ComputeApi;
    resourceGroups: ResourceGroupApi;
    router: Router;
    sim: SimContext;
    injected: InjectedFault[];
  };
  private sink: EventSink | undefined;
  private readonly recentEvents: SystemEvent[] = [];
  private readonly subscriptions: EventSubscription[];

  constructor(private readonly options: SimulatorCoreOptions) {
    this.subscriptions = [...(options.eventSubscriptions ?? [])];
    this.loadEstate(options.estate);
  }

  get estate(): Estate {
    return this.state.estate;
  }

  get sim(): SimContext {
    return this.state.sim;
  }

  get providers(): readonly ResourceProvider[] {
    return this.state.providers;
  }

  /** Replaces every provider's state with a fresh one built from `estate`; the ledger restarts. */
  loadEstate(estate: Estate): void {
    this.state?.operations.stop();
    const { clock, faults, authority } = this.options;
    const random = createRandomStreams(faults.seed);
    const operations = new Operations(clock);
    const self = this;
    const sim: SimContext = {
      clock,
      random,
      estate,
      faults,
      tenantId: authority.tenantId,
      subscriptionId: estate.subscriptionId,
      get compute() {
        return self.state.compute;
      },
      get resourceGroups() {
        return self.state.resourceGroups;
      },
      startOperation: (opts) => this.startOperation(opts, undefined).result,
      emitEvent: (event) => this.emitEvent(event),
    };
    // Built in dependency order while `this.state` still describes the previous estate (or none).
    const resources = this.options.resources(sim);
    const partial = { resourceGroups: resources.api } as Partial<typeof this.state>;
    this.state = { ...(this.state ?? {}), ...partial } as typeof this.state;
    const compute = this.options.compute(sim);
    this.state.compute = compute.api;
    const providers = [
      resources.provider,
      compute.provider,
      ...this.options.providers.map((factory) => factory(sim)),
    ];
    const routes = providers.flatMap((p) => p.routes);
    routes.push(...this.operationRoutes());
    this.state = {
      estate,
      random,
      ledger: new Ledger(),
      throttle: createThrottle(clock, this.options.throttleLimits ?? ARM_LIMITS),
      operations,
      providers,
      compute: compute.api,
      resourceGroups: resources.api,
      router: createRouter(routes),
      sim,
      injected: [],
    };
    // A new estate restarts delivery too: the sink draws its faults and clock from the new context;
    // deliveries still pending for the previous estate are dropped with it.
    const previous = this.sink;
    if (this.options.eventSink) this.sink = this.options.eventSink(sim, this.subscriptions);
    previous?.stop?.().catch(() => undefined);
  }

  /** The Event Grid component, when one is configured. */
  get eventSink(): EventSink | undefined {
    return this.sink;
  }

  ledgerSummary(): LedgerSummary {
    const findings: LedgerFindings = {
      duplicateMigrateCalls: 0,
      leakedTestVms: 0,
      undeletedMigrationItems: 0,
    };
    for (const provider of this.state.providers) {
      const part = provider.ledgerFindings?.() ?? {};
      findings.duplicateMigrateCalls += part.duplicateMigrateCalls ?? 0;
      findings.leakedTestVms += part.leakedTestVms ?? 0;
      findings.undeletedMigrationItems += part.undeletedMigrationItems ?? 0;
    }
    return this.state.ledger.summary(findings);
  }

  ledgerEntries() {
    return this.state.ledger.entries();
  }

  events(): readonly SystemEvent[] {
    return this.recentEvents;
  }

  injectFault(fault: InjectedFault): void {
    this.state.injected.push({ ...fault, count: fault.count ?? 1 });
  }

  addSubscription(subscription: EventSubscription): void {
    this.subscriptions.push(subscription);
    this.sink?.addSubscription?.(subscription);
  }

  /** Makes a resource drift from its configuration: providers react, then a policy event is published. */
  drift(resourceId: string, policy: { assignmentId?: string; definitionId?: string } = {}): SystemEvent {
    for (const provider of this.state.providers) provider.onDrift?.(resourceId, this.state.sim);
    const sub = this.state.estate.subscriptionId;
    const now = this.options.clock.now();
    const event: SystemEvent = {
      topic: `/subscriptions/${sub}`,
      subject: resourceId,
      eventType: 'Microsoft.PolicyInsights.PolicyStateChanged',
      eventTime: now,
      data: {
        timestamp: new Date(now).toISOString(),
        policyAssignmentId:
          policy.assignmentId ??
          `/subscriptions/${sub}/providers/Microsoft.Authorization/policyAssignments/automanage-best-practices`,
        policyDefinitionId:
          policy.definitionId ??
          '/providers/Microsoft.Authorization/policyDefinitions/automanage-configuration-drift',
        policyDefinitionReferenceId: 'automanageConfiguration',
        complianceState: 'NonCompliant',
        complianceReasonCode: '',
        subscriptionId: sub,
      },
    };
    this.emitEvent(event);
    return event;
  }

  async stop(): Promise<void> {
    this.state.operations.stop();
    await this.sink?.stop?.();
  }

  emitEvent(event: SystemEvent): void {
    const withId = { ...event, id: event.id ?? seededUuid(this.state.random, 'event-ids') };
    this.recentEvents.push(withId);
    if (this.recentEvents.length > RECENT_EVENTS) this.recentEvents.shift();
    this.sink?.publish([withId]);
  }

  /** Answers one ARM call; never throws. */
  async handle(call: ArmCall): Promise<ArmResult> {
    const { clock } = this.options;
    const headers: Record<string, string> = {
      'x-ms-request-id': randomUUID(),
      'x-ms-correlation-request-id': call.headers['x-ms-correlation-request-id'] ?? randomUUID(),
    };
    const clientRequestId = call.headers['x-ms-client-request-id'];
    if (clientRequestId) headers['x-ms-client-request-id'] = clientRequestId;
    const resource = call.path.toLowerCase();
    const method = call.method.toUpperCase();
    let operation = 'unknown';
    let kind: Route['kind'] = method === 'GET' ? 'read' : method === 'DELETE' ? 'delete' : 'write';
    let appId: string | undefined;
    let injectedFault = false;
    let result: ArmResult;
    try {
      const check = this.options.authority.check(call.headers.authorization, call.baseUrl);
      if (!check.ok) {
        throw ArmError.unauthorized(check.code, check.message, {
          'www-authenticate': `Bearer authorization_uri="${call.baseUrl}/${this.options.authority.tenantId}", error="invalid_token", error_description="${check.description}"`,
        });
      }
      const principal = check.principal;
      appId = principal.appId;
      const apiVersion = call.query.get('api-version') ?? undefined;
      if (!apiVersion) throw ArmError.missingApiVersion();
      const match = this.state.router.match(method, call.path);
      if (!match) throw this.noRoute(method, call.path);
      operation = match.route.operation;
      kind = match.route.kind;
      const subscriptionId = match.params.subscriptionId;
      if (
        subscriptionId !== undefined &&
        subscriptionId.toLowerCase() !== this.state.estate.subscriptionId.toLowerCase()
      ) {
        throw new ArmError(
          404,
          'SubscriptionNotFound',
          `The subscription '${subscriptionId}' could not be found.`,
        );
      }
      if (match.route.apiVersions && !match.route.apiVersions.includes(apiVersion)) {
        throw ArmError.unsupportedApiVersion(
          apiVersion,
          operation.split('/').slice(0, -1).join('/'),
          match.route.apiVersions,
        );
      }
      const decision = this.state.throttle.take(principal.objectId, kind, this.options.faults.arm.throttle);
      headers[`x-ms-ratelimit-remaining-subscription-${decision.bucket}`] = String(decision.remaining);
      if (!decision.allowed) {
        throw ArmError.throttled(Math.max(1, Math.ceil(decision.waitVirtualMs / 1000)), {
          'x-ms-retry-after-ms': String(Math.max(1, Math.ceil(decision.waitVirtualMs / clock.scale))),
        });
      }
      const fault = this.takeFault(method, call.path);
      if (fault) {
        injectedFault = true;
        throw fault;
      }
      const body = parseBody(call.rawBody);
      const req: ArmRequest = {
        method,
        path: call.path,
        params: match.params,
        query: call.query,
        apiVersion,
        headers: call.headers,
        body,
        principal,
        correlationId: headers['x-ms-correlation-request-id']!,
        baseUrl: call.baseUrl,
      };
      let started: Operation | undefined;
      const scoped: SimContext = Object.create(this.state.sim, {
        startOperation: {
          value: (opts: StartOperationOptions) => {
            const answer = this.startOperation(opts, { route: match.route, req, baseUrl: call.baseUrl });
            started = answer.operation;
            return answer.result;
          },
        },
      });
      result = await match.route.handler(req, scoped);
      if (!started && result.status < 300 && kind !== 'read') {
        this.emitResourceEvent(match.route, req, call.baseUrl, resourceUriOf(match.route, call.path), true);
      }
    } catch (err) {
      const armError = err instanceof ArmError ? err : ArmError.internal();
      result = { status: armError.status, body: armError.toBody(), headers: armError.headers };
    }
    this.state.ledger.record(
      {
        time: clock.now(),
        method,
        operation,
        kind,
        resource,
        status: result.status,
        ...(result.status >= 400 ? { errorCode: errorCodeOf(result.body) } : {}),
        ...(appId ? { appId } : {}),
      },
      injectedFault,
    );
    return { ...result, headers: { ...headers, ...result.headers } };
  }

  private noRoute(method: string, path: string): ArmError {
    if (this.state.router.matchesPath(path)) {
      return new ArmError(
        405,
        'MethodNotAllowed',
        `The requested resource does not support http method '${method}'.`,
      );
    }
    return ArmError.invalidResourceType(path);
  }

  private takeFault(method: string, path: string): ArmError | undefined {
    const injected = this.state.injected.find(
      (f) =>
        (f.method === undefined || f.method.toUpperCase() === method) &&
        (f.pathContains === undefined || path.toLowerCase().includes(f.pathContains.toLowerCase())),
    );
    if (injected) {
      injected.count = (injected.count ?? 1) - 1;
      if (injected.count <= 0) this.state.injected.splice(this.state.injected.indexOf(injected), 1);
      return new ArmError(
        injected.status,
        injected.code ?? (injected.status === 429 ? 'TooManyRequests' : 'InjectedFault'),
        injected.message ?? 'Failure injected by the simulator control API.',
      );
    }
    const rate = this.options.faults.arm.transientFailureRate;
    if (rate > 0 && this.state.random('arm-transient') < rate) {
      // Retry-After is one virtual second; x-ms-retry-after-ms says the same in real ms for the SDK.
      return this.state.random('arm-transient-kind') < 0.5
        ? ArmError.internal()
        : ArmError.unavailable(1, {
            'x-ms-retry-after-ms': String(Math.max(1, Math.ceil(1000 / this.options.clock.scale))),
          });
    }
    return undefined;
  }

  private startOperation(
    opts: StartOperationOptions,
    request: { route: Route; req: ArmRequest; baseUrl: string } | undefined,
  ): { result: ArmResult; operation: Operation } {
    const { estate, operations, random } = this.state;
    const id = seededUuid(random, 'operation-ids');
    const namespace = parseResourceId(opts.resourceId).provider ?? 'Microsoft.Resources';
    const base = `${request?.baseUrl ?? ''}/subscriptions/${estate.subscriptionId}/providers/${namespace}/locations/${estate.location}`;
    const apiVersion = request?.req.apiVersion ?? '';
    const urls = {
      asyncOperation: `${base}/operations/${id}?api-version=${apiVersion}`,
      location: `${base}/operationResults/${id}?api-version=${apiVersion}`,
    };
    const operation = operations.start({
      id,
      resourceId: opts.resourceId,
      doneAt: opts.doneAt,
      complete: opts.complete,
      onSettled: (op) => {
        if (request) {
          this.emitResourceEvent(
            request.route,
            request.req,
            request.baseUrl,
            opts.resourceId,
            op.status === 'Succeeded',
          );
        }
      },
    });
    const retryAfter = operations.retryAfterSeconds(operation);
    return {
      operation,
      result: {
        status: opts.status ?? 202,
        ...(opts.body === undefined ? {} : { body: opts.body }),
        headers: {
          'azure-asyncoperation': urls.asyncOperation,
          location: urls.location,
          'retry-after': String(retryAfter),
        },
      },
    };
  }

  private operationRoutes(): Route[] {
    const find = (req: ArmRequest) => {
      const op = this.state.operations.get(req.params.operationId ?? '');
      if (!op) throw ArmError.notFound('operations', req.params.operationId ?? '');
      return op;
    };
    const urlsOf = (req: ArmRequest, baseUrl: string) => {
      const base = `${baseUrl}/subscriptions/${req.params.subscriptionId}/providers/${req.params.namespace}/locations/${req.params.location}`;
      return {
        asyncOperation: `${base}/operations/${req.params.operationId}?api-version=${req.apiVersion}`,
        location: `${base}/operationResults/${req.params.operationId}?api-version=${req.apiVersion}`,
      };
    };
    return [
      {
        method: 'GET',
        pattern: OPERATION_STATUS_PATTERN,
        kind: 'read',
        operation: 'Microsoft.Resources/locations/operations/read',
        handler: async (req): Promise<ArmResult> => {
          await this.state.operations.waitBriefly(req.params.operationId ?? '');
          const op = find(req);
          return {
            status: 200,
            body: statusBody(op),
            headers:
              op.status === 'InProgress'
                ? { 'retry-after': String(this.state.operations.retryAfterSeconds(op)) }
                : ({} as Record<string, string>),
          };
        },
      },
      {
        method: 'GET',
        pattern: OPERATION_RESULT_PATTERN,
        kind: 'read',
        operation: 'Microsoft.Resources/locations/operationResults/read',
        handler: async (req) => {
          await this.state.operations.waitBriefly(req.params.operationId ?? '');
          const op = find(req);
          return resultAnswer(
            op,
            urlsOf(req, req.baseUrl ?? ''),
            this.state.operations.retryAfterSeconds(op),
          );
        },
      },
    ];
  }

  private emitResourceEvent(
    route: Route,
    req: ArmRequest,
    baseUrl: string,
    resourceUri: string,
    success: boolean,
  ): void {
    this.emitEvent(
      resourceEvent(this.state.sim, {
        verb: route.kind === 'delete' ? 'Delete' : route.kind === 'action' ? 'Action' : 'Write',
        success,
        operationName: route.operation,
        resourceUri,
        principal: req.principal,
        correlationId: req.correlationId,
        httpRequest: {
          method: req.method,
          url: `${baseUrl}${req.path}?api-version=${req.apiVersion ?? ''}`,
          ...(req.headers['x-ms-client-request-id']
            ? { clientRequestId: req.headers['x-ms-client-request-id'] }
            : {}),
        },
      }),
    );
  }
}

/** A POST action addresses `{resource}/{action}`; events and operations name the resource. */
function resourceUriOf(route: Route, path: string): string {
  return route.kind === 'action' ? path.split('/').slice(0, -1).join('/') : path;
}

function parseBody(raw: string): unknown {
  if (raw.trim() === '') return undefined;
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw ArmError.invalidRequestContent(err instanceof Error ? err.message : 'malformed JSON');
  }
}

function errorCodeOf(body: unknown): string | undefined {
  if (body && typeof body === 'object' && 'error' in body) {
    const error = (body as { error?: { code?: unknown } }).error;
    return typeof error?.code === 'string' ? error.code : undefined;
  }
  return undefined;
}

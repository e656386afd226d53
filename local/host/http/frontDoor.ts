/**
 * The host's HTTP front door: admin endpoints, the Event Grid webhook, whatever the durable engine
 * claims (its webhooks and RPC API), and the app's HTTP triggers with their auth levels.
 * Order as in the Functions host: host routes first, then function routes; 404 when nothing matches,
 * 401 when a key is missing or wrong (the response never echoes a key).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type AuthLevel,
  authorizeAdmin,
  authorizeFunction,
  authorizeSystem,
  EVENTGRID_SYSTEM_KEY,
  type HostKeys,
  presentedKey,
} from '../keys';
import type { DurableHost, FunctionInvoker, RegisteredFunction } from '../types';
import { EVENTGRID_WEBHOOK_PATH, handleEventGridWebhook } from './eventGrid';
import {
  BodyTooLargeError,
  httpTriggerMetadata,
  readBody,
  responseOf,
  toRpcHttpRequest,
  writeJson,
  writeRpcResponse,
  writeText,
} from './mapping';
import {
  type CompiledRoute,
  comparePrecedence,
  compileRoute,
  matchRoute,
  normalizePrefix,
  stripPrefix,
} from './routes';

export interface HttpRoute {
  fn: RegisteredFunction;
  route: CompiledRoute;
  /** Upper-case methods; undefined means every method. */
  methods: string[] | undefined;
  authLevel: AuthLevel;
  /** The URL path as `func start` prints it, e.g. `/api/items/{id:int}`. */
  path: string;
}

export interface FrontDoorOptions {
  invoker: FunctionInvoker;
  keys: HostKeys;
  /** host.json `extensions.http.routePrefix`; default `api`. */
  routePrefix?: string | undefined;
  /** The durable engine, once it runs. */
  durable: () => Pick<DurableHost, 'handleHttp'> | undefined;
  /** Body of GET /admin/host/status. */
  status: () => Record<string, unknown>;
  log: (line: string) => void;
}

export interface FrontDoor {
  routes: HttpRoute[];
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Resolves once the invocations started through `POST /admin/functions/{name}` have ended. */
  drain(): Promise<void>;
}

function toAuthLevel(value: unknown): AuthLevel {
  const level = String(value ?? 'function').toLowerCase();
  if (level === 'anonymous' || level === 'function' || level === 'admin') return level;
  // The host treats the retired 'system' and 'user' levels as admin-only.
  return 'admin';
}

export function httpRoutes(functions: RegisteredFunction[], routePrefix: string | undefined): HttpRoute[] {
  const prefix = normalizePrefix(routePrefix);
  return functions
    .filter((fn) => fn.trigger.type.toLowerCase() === 'httptrigger')
    .map((fn) => {
      const template =
        typeof fn.trigger.route === 'string' && fn.trigger.route !== '' ? fn.trigger.route : fn.name;
      const methods = Array.isArray(fn.trigger.methods)
        ? (fn.trigger.methods as unknown[]).map((m) => String(m).toUpperCase())
        : undefined;
      const route = compileRoute(template);
      const trimmed = template.replace(/^\/+/, '');
      return {
        fn,
        route,
        methods,
        authLevel: toAuthLevel(fn.trigger.authLevel),
        path: `${prefix}/${trimmed}`,
      };
    })
    .sort((a, b) => comparePrecedence(a.route, b.route));
}

const HOMEPAGE =
  '<!DOCTYPE html><html><head><title>Local Functions host</title></head>' +
  '<body><h1>Your Functions 4.0 app is up and running</h1><p>Served by the local host.</p></body></html>';

export function createFrontDoor(options: FrontDoorOptions): FrontDoor {
  const { invoker, keys, log } = options;
  const prefix = normalizePrefix(options.routePrefix);
  const routes = httpRoutes(invoker.functions(), options.routePrefix);
  const pending = new Set<Promise<unknown>>();

  /**
   * `POST /admin/functions/{name}` with `{"input": "..."}` runs a function that is not HTTP
   * triggered, as the Functions host does: 202 at once, the invocation runs in the background.
   */
  async function invokeByAdmin(req: IncomingMessage, res: ServerResponse, name: string) {
    const fn = invoker.functions().find((candidate) => candidate.name === name);
    if (!fn) {
      writeText(res, 404);
      return;
    }
    if (fn.trigger.type.toLowerCase() === 'httptrigger') {
      writeText(res, 400, `Function '${name}' is HTTP triggered: call its route`);
      return;
    }
    let input: unknown;
    try {
      const body = (await readBody(req)).toString('utf8');
      input = body === '' ? undefined : (JSON.parse(body) as { input?: unknown }).input;
    } catch {
      writeText(res, 400, 'The body must be JSON: {"input": "..."}');
      return;
    }
    const trigger = { string: typeof input === 'string' ? input : JSON.stringify(input ?? null) };
    // Failures are logged by the invoker; nobody waits for this invocation's outcome.
    const invocation = invoker.invoke(name, trigger).catch(() => undefined);
    pending.add(invocation);
    void invocation.finally(() => pending.delete(invocation));
    writeText(res, 202);
  }

  async function invokeHttp(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    target: HttpRoute,
    params: Record<string, string>,
  ) {
    if (!authorizeFunction(keys, target.authLevel, target.fn.name, presentedKey(url, req.headers))) {
      writeText(res, 401);
      return;
    }
    const rpc = toRpcHttpRequest(req, url, params, await readBody(req));
    let result: Awaited<ReturnType<FunctionInvoker['invoke']>>;
    try {
      result = await invoker.invoke(
        target.fn.name,
        { http: rpc },
        { triggerMetadata: httpTriggerMetadata(rpc) },
      );
    } catch {
      // The invoker has logged the failure; like the Functions host, the caller gets a bare 500.
      writeText(res, 500);
      return;
    }
    writeRpcResponse(res, responseOf(target.fn, result));
  }

  async function route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const pathname = url.pathname;
    const method = (req.method ?? 'GET').toUpperCase();
    const lowerPath = pathname.toLowerCase();
    if (lowerPath === '/admin/host/ping') {
      writeText(res, method === 'GET' || method === 'POST' ? 200 : 405);
      return;
    }
    if (lowerPath === '/admin/host/status') {
      if (!authorizeAdmin(keys, presentedKey(url, req.headers))) writeText(res, 401);
      else writeJson(res, 200, options.status());
      return;
    }
    if (lowerPath === '/admin/functions') {
      if (!authorizeAdmin(keys, presentedKey(url, req.headers))) writeText(res, 401);
      else
        writeJson(
          res,
          200,
          invoker.functions().map(({ name, bindings }) => ({ name, config: { bindings } })),
        );
      return;
    }
    const adminInvoke = /^\/admin\/functions\/([^/]+)$/i.exec(pathname);
    if (adminInvoke && method === 'POST') {
      if (!authorizeAdmin(keys, presentedKey(url, req.headers))) writeText(res, 401);
      else await invokeByAdmin(req, res, decodeURIComponent(adminInvoke[1]!));
      return;
    }
    if (lowerPath === EVENTGRID_WEBHOOK_PATH) {
      if (!authorizeSystem(keys, EVENTGRID_SYSTEM_KEY, presentedKey(url, req.headers))) writeText(res, 401);
      else await handleEventGridWebhook(req, res, url, { invoker, log });
      return;
    }
    if (await options.durable()?.handleHttp(req, res, url)) return;
    const rest = stripPrefix(pathname, prefix);
    if (rest !== undefined) {
      for (const candidate of routes) {
        if (candidate.methods && !candidate.methods.includes(method)) continue;
        const params = matchRoute(candidate.route, rest);
        if (params) {
          await invokeHttp(req, res, url, candidate, params);
          return;
        }
      }
    }
    if (pathname === '/' && (method === 'GET' || method === 'HEAD')) {
      writeText(res, 200, HOMEPAGE, 'text/html; charset=utf-8');
      return;
    }
    writeText(res, 404);
  }

  return {
    routes,
    drain: async () => {
      await Promise.all([...pending]);
    },
    async handle(req, res) {
      const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
      try {
        await route(req, res, url);
      } catch (err) {
        if (res.headersSent) {
          res.destroy();
          return;
        }
        if (err instanceof BodyTooLargeError) {
          writeText(res, 413);
          return;
        }
        log(`Request ${req.method} ${url.pathname} failed in the host: ${(err as Error).message}`);
        writeText(res, 500);
      }
    },
  };
}

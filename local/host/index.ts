/**
 * The local Functions host: loads the app through the worker, serves it over HTTP on loopback and
 * runs the durable engine, as `func start` does with the Functions host, the Node worker and the
 * Durable Task extension.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type { Clock } from '../clock';
import { createDurableEngine } from './durable';
import { RPC_BASE_PATH } from './durable/http-api';
import { createFrontDoor } from './http/frontDoor';
import { DURABLE_SYSTEM_KEY, describeKeys, type HostKeys, resolveKeys } from './keys';
import type { DurableHost, DurableStorage, FunctionInvoker, RegisteredFunction } from './types';
import { type HostJson, loadApp } from './worker/app';
import { HOST_VERSION } from './worker/coreModule';
import { createInvoker, toLogLevel } from './worker/invoker';

export const DEFAULT_PORT = 7071;
/** How long stop() lets requests in flight finish before it closes their connections (ms). */
const DRAIN_TIMEOUT_MS = 10_000;
/**
 * How long an idle keep-alive connection stays open (ms): Kestrel's default (`KeepAliveTimeout`,
 * 130 s), which the Functions host serves with. Node's own 5 s would close Event Grid's and the
 * app's connections in every pause of a few seconds, and a burst after it would wait to open them
 * again (Node accepts one connection per turn of the loop the app runs on).
 */
const KEEP_ALIVE_TIMEOUT_MS = 130_000;

export interface StartHostOptions {
  /** The app's root: package.json (`main`) and host.json. */
  appDir: string;
  /** Loopback port; 0 lets the OS choose. Default 7071. */
  port?: number;
  /** Where the durable engine keeps its state. */
  storage: DurableStorage;
  clock: Clock;
  /** Access keys; default: `resolveKeys(appDir)` (keys file + `LOCAL_HOST_KEYS`). */
  keys?: HostKeys;
  /** Receives every line the host prints; default: stdout with a timestamp. */
  log?: (line: string) => void;
}

export interface RunningHost {
  /** e.g. `http://127.0.0.1:7071`, no trailing slash. */
  baseUrl: string;
  keys: HostKeys;
  functions: RegisteredFunction[];
  invoker: FunctionInvoker;
  stop(): Promise<void>;
}

function defaultLog(line: string): void {
  process.stdout.write(`[${new Date().toISOString()}] ${line}\n`);
}

/** Resolves `%Setting%` references in host.json values from the environment, as the host does. */
function resolveSetting(value: string): string {
  return value.replace(/%([^%]+)%/g, (whole, name: string) => process.env[name] ?? whole);
}

function hubNameOf(hostJson: HostJson): string {
  const configured = hostJson.extensions?.durableTask?.hubName;
  return typeof configured === 'string' && configured !== '' ? resolveSetting(configured) : 'TestHubName';
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), DRAIN_TIMEOUT_MS);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/** The function list `func start` prints: HTTP functions with methods and URL, others with their trigger. */
export function describeFunctions(
  baseUrl: string,
  routes: ReturnType<typeof createFrontDoor>['routes'],
  functions: RegisteredFunction[],
): string[] {
  const lines = ['Functions:'];
  for (const fn of functions) {
    const route = routes.find((r) => r.fn.name === fn.name);
    lines.push(
      route
        ? `        ${fn.name}: [${(route.methods ?? ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).join(',')}] ${baseUrl}${route.path}`
        : `        ${fn.name}: ${fn.trigger.type}`,
    );
  }
  return lines;
}

export async function startHost(options: StartHostOptions): Promise<RunningHost> {
  const log = options.log ?? defaultLog;
  const started = Date.now();
  const app = await loadApp(options.appDir, { log: (_level, message) => log(message) });
  const minLevel = toLogLevel(app.hostJson.logging?.logLevel?.default);
  const resolved = options.keys ? { keys: options.keys, source: 'the caller' } : resolveKeys(app.dir);
  const { keys } = resolved;
  let durable: DurableHost | undefined;
  const invoker = createInvoker(app, { log, minLevel, durableClientBinding: () => durable?.clientBinding() });
  const frontDoor = createFrontDoor({
    invoker,
    keys,
    routePrefix: app.hostJson.extensions?.http?.routePrefix,
    durable: () => durable,
    log,
    status: () => ({
      id: 'local-host',
      state: 'Running',
      version: HOST_VERSION,
      versionDetails: `${HOST_VERSION} (local host)`,
      instanceId: `local-${process.pid}`,
      computerName: hostname(),
      processUptime: Date.now() - started,
      functionAppContentEditingState: 'NotAllowed',
      functionExecutions: invoker.executions(),
      ...(app.hostJson.extensionBundle ? { extensionBundle: app.hostJson.extensionBundle } : {}),
    }),
  });
  let ready: (ok: boolean) => void = () => {};
  const isReady = new Promise<boolean>((resolve) => {
    ready = resolve;
  });
  // Requests not answered yet: while there are any, the durable engine holds back queued work. The
  // app's own durable client calls (from activities and triggers) are part of that work, not callers.
  let unanswered = 0;
  const server = createServer((req, res) => {
    if (!req.url?.toLowerCase().startsWith(RPC_BASE_PATH)) {
      if (unanswered++ === 0) durable?.setAnswering(true);
      res.once('close', () => {
        if (--unanswered === 0) durable?.setAnswering(false);
      });
    }
    void isReady.then((ok) => {
      if (ok) return frontDoor.handle(req, res);
      res.writeHead(503).end();
    });
  });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  const port = await listen(server, options.port ?? DEFAULT_PORT);
  const baseUrl = `http://127.0.0.1:${port}`;
  // durable-functions rewrites the client's URLs to http://localhost:7071 unless WEBSITE_HOSTNAME names the host.
  process.env.WEBSITE_HOSTNAME = `127.0.0.1:${port}`;
  try {
    const engine: DurableHost = await createDurableEngine({
      invoker,
      hubName: hubNameOf(app.hostJson),
      settings: app.hostJson.extensions?.durableTask ?? {},
      storage: options.storage,
      clock: options.clock,
      baseUrl,
      systemKey: keys.systemKeys[DURABLE_SYSTEM_KEY]!,
      log,
    });
    durable = engine;
    engine.setAnswering(unanswered > 0);
    await invoker.runAppStartHooks();
    await engine.start();
  } catch (err) {
    ready(false);
    await close(server);
    await durable?.stop();
    throw err;
  }
  ready(true);
  for (const line of [
    `Local Functions host ${HOST_VERSION} listening on ${baseUrl}`,
    `Host keys from ${resolved.source} (send one as ?code= or x-functions-key):`,
    ...describeKeys(keys),
    ...describeFunctions(baseUrl, frontDoor.routes, invoker.functions()),
    `Host started (${Date.now() - started}ms)`,
  ]) {
    log(line);
  }
  let stopping: Promise<void> | undefined;
  return {
    baseUrl,
    keys,
    functions: invoker.functions(),
    invoker,
    stop: () => {
      stopping ??= (async () => {
        await close(server);
        await frontDoor.drain();
        await durable?.stop();
        await invoker.runAppTerminateHooks();
      })();
      return stopping;
    },
  };
}

/**
 * The simulator's HTTPS front door on 127.0.0.1: the OpenID authority, the control API under
 * `/_sim` (guarded by a control key) and everything else as ARM through SimulatorCore. Every
 * request gets an answer; a malformed one is an ARM-shaped 4xx, never a crash.
 */
import { timingSafeEqual } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Authority } from './auth/authority';
import { type EstateProblem, parseEstate } from './estate/load';
import { ArmError } from './framework/errors';
import { isStringArray, isStringRecord } from './framework/json';
import type { InjectedFault, SimulatorCore } from './framework/simulator';
import type { SimTls } from './framework/tls';
import type { ArmResult, EventSubscription, VmSpec } from './framework/types';

/** Largest request body accepted, in bytes (ARM's own limit is 4 MB; estates are bigger). */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

export interface SimServerOptions {
  core: SimulatorCore;
  authority: Authority;
  tls: SimTls;
  controlKey: string;
  /** 0 lets the OS choose. */
  port: number;
}

export interface SimServer {
  baseUrl: string;
  close(): Promise<void>;
}

export async function startSimServer(options: SimServerOptions): Promise<SimServer> {
  const { core, authority, tls } = options;
  let baseUrl = '';
  const server = https.createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const send = (answer: ArmResult) => {
        const body = answer.body === undefined ? '' : JSON.stringify(answer.body);
        res.writeHead(answer.status, {
          ...(body === '' ? {} : { 'content-type': 'application/json; charset=utf-8' }),
          ...answer.headers,
        });
        res.end(body);
      };
      if (tooLarge) {
        send(errorAnswer(new ArmError(413, 'RequestEntityTooLarge', 'The request content is too large.')));
        return;
      }
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let url: URL;
      try {
        url = new URL(req.url ?? '/', baseUrl);
      } catch {
        send(errorAnswer(ArmError.badRequest('InvalidUri', 'The request URI is invalid.')));
        return;
      }
      const method = (req.method ?? 'GET').toUpperCase();
      const headers = flattenHeaders(req.headers);
      const route = async (): Promise<ArmResult> => {
        const auth = authority.handle(method, url.pathname, rawBody, baseUrl);
        if (auth) return { status: auth.status, body: auth.body, headers: { 'cache-control': 'no-store' } };
        if (url.pathname.toLowerCase().startsWith('/eventgrid/')) {
          const answer = core.eventSink?.handleTopicRequest?.({
            method,
            path: url.pathname,
            query: url.searchParams,
            headers,
            rawBody,
          });
          if (answer) return answer;
        }
        if (url.pathname === '/_sim' || url.pathname.startsWith('/_sim/')) {
          return control(options, method, url, headers, rawBody);
        }
        return core.handle({
          method,
          path: url.pathname,
          query: url.searchParams,
          headers,
          rawBody,
          baseUrl,
        });
      };
      route().then(send, (err: unknown) =>
        send(errorAnswer(err instanceof ArmError ? err : ArmError.internal())),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  baseUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    baseUrl,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function flattenHeaders(raw: NodeJS.Dict<string | string[]>): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(raw))
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  return headers;
}

function errorAnswer(err: ArmError): ArmResult {
  return { status: err.status, body: err.toBody(), headers: err.headers };
}

function keyMatches(given: string | undefined, expected: string): boolean {
  const a = Buffer.from(given ?? '');
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function json(raw: string): Record<string, unknown> {
  if (raw.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw ArmError.invalidRequestContent(err instanceof Error ? err.message : 'malformed JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw ArmError.badRequest('InvalidRequestContent', 'The request body must be a JSON object.');
  }
  return value as Record<string, unknown>;
}

function requireString(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  if (typeof value !== 'string' || value === '') {
    throw ArmError.badRequest('InvalidRequestContent', `'${name}' must be a non-empty string.`);
  }
  return value;
}

/**
 * The control API, outside the ARM namespace. Every route needs the `x-sim-control-key` header.
 *   GET  /_sim/clock                 virtual now, scale and origin
 *   GET  /_sim/ledger[?entries=true] counters (and every call)
 *   GET  /_sim/events                the most recent system events
 *   GET  /_sim/deadLetters           events Event Grid gave up delivering
 *   GET  /_sim/estate                the loaded estate
 *   POST /_sim/estate                load another estate (400 lists every problem); state and ledger restart
 *   POST /_sim/vms                   create a VM out of band, as a PUT would (events included)
 *   POST /_sim/drift                 { resourceId }: the resource drifts; a PolicyStateChanged event follows
 *   POST /_sim/faults                { status, code?, message?, method?, pathContains?, count? }: one-off failures
 *   POST /_sim/eventSubscriptions    { name, endpointUrl, includedEventTypes?, ... }
 *   POST /_sim/providers/{namespace}/{action}  a provider's own control action
 */
async function control(
  options: SimServerOptions,
  method: string,
  url: URL,
  headers: Record<string, string | undefined>,
  rawBody: string,
): Promise<ArmResult> {
  const { core } = options;
  if (!keyMatches(headers['x-sim-control-key'], options.controlKey)) {
    throw new ArmError(
      401,
      'ControlKeyRequired',
      "The control API needs the simulator's key in 'x-sim-control-key'.",
    );
  }
  const parts = url.pathname
    .split('/')
    .filter((s) => s.length > 0)
    .slice(1);
  const route = `${method} ${parts[0] ?? ''}`;
  const ok = (body: unknown): ArmResult => ({ status: 200, body });
  switch (route) {
    case 'GET clock': {
      const now = core.sim.clock.now();
      return ok({
        now: new Date(now).toISOString(),
        virtualMs: now,
        scale: core.sim.clock.scale,
        origin: new Date(core.sim.clock.origin).toISOString(),
      });
    }
    case 'GET ledger':
      return ok({
        summary: core.ledgerSummary(),
        ...(url.searchParams.get('entries') === 'true' ? { entries: core.ledgerEntries() } : {}),
      });
    case 'GET events':
      return ok({ value: core.events() });
    case 'GET deadLetters':
      return ok({ value: core.eventSink?.deadLetters?.() ?? [] });
    case 'GET estate':
      return ok(core.estate);
    case 'POST estate': {
      const parsed = parseEstate(json(rawBody));
      if (!parsed.ok) return { status: 400, body: estateErrorBody(parsed.problems) };
      core.loadEstate(parsed.estate);
      return ok({ machines: parsed.estate.machines.length });
    }
    case 'POST vms': {
      const body = json(rawBody);
      const spec: VmSpec = {
        resourceGroup: requireString(body, 'resourceGroup'),
        name: requireString(body, 'name'),
        vmSize: typeof body.vmSize === 'string' ? body.vmSize : 'Standard_D2s_v5',
        osType: body.osType === 'Linux' ? 'Linux' : 'Windows',
        ...(typeof body.location === 'string' ? { location: body.location } : {}),
        ...(typeof body.subnetId === 'string' ? { subnetId: body.subnetId } : {}),
        ...(isStringRecord(body.tags) ? { tags: body.tags } : {}),
      };
      return { status: 201, body: core.sim.compute.createVm(spec, 'control') };
    }
    case 'POST drift': {
      const body = json(rawBody);
      return ok(
        core.drift(requireString(body, 'resourceId'), {
          ...optionalString(body, 'policyAssignmentId', 'assignmentId'),
          ...optionalString(body, 'policyDefinitionId', 'definitionId'),
        }),
      );
    }
    case 'POST faults': {
      const body = json(rawBody);
      const status = body.status;
      if (typeof status !== 'number' || !Number.isInteger(status) || status < 400 || status > 599) {
        throw ArmError.badRequest(
          'InvalidRequestContent',
          "'status' must be an HTTP error status (400-599).",
        );
      }
      const fault: InjectedFault = { status };
      for (const key of ['code', 'message', 'method', 'pathContains'] as const) {
        if (typeof body[key] === 'string') fault[key] = body[key];
      }
      if (typeof body.count === 'number') fault.count = body.count;
      core.injectFault(fault);
      return ok(fault);
    }
    case 'POST eventSubscriptions': {
      const body = json(rawBody);
      const subscription: EventSubscription = {
        name: requireString(body, 'name'),
        endpointUrl: requireString(body, 'endpointUrl'),
        ...(isStringArray(body.includedEventTypes) ? { includedEventTypes: body.includedEventTypes } : {}),
        ...optionalString(body, 'subjectBeginsWith', 'subjectBeginsWith'),
        ...optionalString(body, 'subjectEndsWith', 'subjectEndsWith'),
      };
      core.addSubscription(subscription);
      return ok(subscription);
    }
    case 'POST providers': {
      const [, namespace = '', action = ''] = parts;
      const provider = core.providers.find((p) => p.namespace.toLowerCase() === namespace.toLowerCase());
      const run = provider?.controlActions?.[action];
      if (!run)
        throw new ArmError(404, 'ControlActionNotFound', `No control action '${action}' for '${namespace}'.`);
      return ok((await run(json(rawBody), core.sim)) ?? {});
    }
    default:
      throw new ArmError(404, 'ControlRouteNotFound', `No control route '${method} ${url.pathname}'.`);
  }
}

export function estateErrorBody(problems: EstateProblem[]) {
  return {
    error: {
      code: 'InvalidEstate',
      message: `The estate has ${problems.length} problem(s).`,
      details: problems.map((p) => ({ code: 'InvalidEstate', target: p.path, message: p.message })),
    },
  };
}

function optionalString<K extends string>(
  body: Record<string, unknown>,
  from: string,
  to: K,
): Partial<Record<K, string>> {
  const value = body[from];
  return typeof value === 'string' ? ({ [to]: value } as Partial<Record<K, string>>) : {};
}

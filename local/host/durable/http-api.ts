/**
 * The Durable Functions HTTP API, served at the RPC base the durable client uses
 * (`/durabletask/`, loopback, no key) and at the public webhook base
 * (`/runtime/webhooks/durabletask/`, `code=` = the durabletask_extension system key), with the
 * status codes, bodies and headers durable-functions' DurableClient expects.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientResult, DurableEngine } from './engine';
import { EventType, type HistoryEvent, type RuntimeStatus } from './history';
import type { InstanceRecord, StatusQuery } from './store';

export const RPC_BASE_PATH = '/durabletask/';
export const WEBHOOK_BASE_PATH = '/runtime/webhooks/durabletask/';
const INSTANCE_PLACEHOLDER = 'INSTANCEID';
const DEFAULT_PAGE_SIZE = 100;
const CONTINUATION_HEADER = 'x-ms-continuation-token';

export interface HttpApiOptions {
  engine: DurableEngine;
  hubName: string;
  baseUrl: string;
  systemKey: string;
}

export function webhookBase(baseUrl: string): string {
  return `${baseUrl}${WEBHOOK_BASE_PATH.slice(0, -1)}`;
}

function requiredQuery(options: HttpApiOptions): string {
  return `taskHub=${encodeURIComponent(options.hubName)}&connection=Storage&code=${encodeURIComponent(options.systemKey)}`;
}

export function managementUrls(options: HttpApiOptions, origin = options.baseUrl): Record<string, string> {
  const base = webhookBase(origin);
  const query = requiredQuery(options);
  const instance = `${base}/instances/${INSTANCE_PLACEHOLDER}`;
  return {
    id: INSTANCE_PLACEHOLDER,
    statusQueryGetUri: `${instance}?${query}`,
    sendEventPostUri: `${instance}/raiseEvent/{eventName}?${query}`,
    terminatePostUri: `${instance}/terminate?reason={text}&${query}`,
    rewindPostUri: `${instance}/rewind?reason={text}&${query}`,
    purgeHistoryDeleteUri: `${instance}?${query}`,
    restartPostUri: `${instance}/restart?${query}`,
    suspendPostUri: `${instance}/suspend?reason={text}&${query}`,
    resumePostUri: `${instance}/resume?reason={text}&${query}`,
  };
}

/** The `durableClient` input binding: what `df.getClient(context)` parses. */
export function clientBinding(options: HttpApiOptions): string {
  const base = webhookBase(options.baseUrl);
  const code = encodeURIComponent(options.systemKey);
  return JSON.stringify({
    taskHubName: options.hubName,
    creationUrls: {
      createNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?code=${code}`,
      createAndWaitOnNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&code=${code}`,
    },
    managementUrls: managementUrls(options),
    baseUrl: base,
    requiredQueryStringParameters: requiredQuery(options),
    rpcBaseUrl: `${options.baseUrl}${RPC_BASE_PATH}`,
    httpBaseUrl: base,
  });
}

function payloadFor(options: HttpApiOptions, instanceId: string, origin: string): Record<string, string> {
  const encoded = encodeURIComponent(instanceId);
  return Object.fromEntries(
    Object.entries(managementUrls(options, origin)).map(([key, value]) => [
      key,
      key === 'id' ? instanceId : value.replace(INSTANCE_PLACEHOLDER, encoded),
    ]),
  );
}

function parseJsonText(text: string | undefined): unknown {
  if (text === undefined || text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const EVENT_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(EventType)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => [v, k]),
);

function historyView(events: HistoryEvent[], showOutput: boolean): unknown[] {
  const scheduled = new Map<number, HistoryEvent>();
  const view: unknown[] = [];
  for (const event of events) {
    if (
      event.EventType === EventType.OrchestratorStarted ||
      event.EventType === EventType.OrchestratorCompleted
    ) {
      continue;
    }
    if (
      event.EventType === EventType.TaskScheduled ||
      event.EventType === EventType.SubOrchestrationInstanceCreated
    ) {
      scheduled.set(event.EventId, event);
      continue;
    }
    const entry: Record<string, unknown> = {
      EventType: EVENT_NAMES[event.EventType],
      Timestamp: event.Timestamp,
    };
    if (event.TaskScheduledId !== undefined) {
      const origin = scheduled.get(event.TaskScheduledId);
      if (origin?.Name) entry.FunctionName = origin.Name;
      if (origin) entry.ScheduledTime = origin.Timestamp;
    }
    if (event.EventType === EventType.ExecutionStarted) {
      entry.FunctionName = event.Name;
      if (event.ParentInstance) entry.ParentInstanceId = event.ParentInstance.instanceId;
    }
    if (event.Name && event.EventType === EventType.EventRaised) entry.Name = event.Name;
    if (event.FireAt) entry.FireAt = event.FireAt;
    if (event.OrchestrationStatus) entry.OrchestrationStatus = event.OrchestrationStatus;
    if (event.Reason) entry.Reason = event.Reason;
    if (event.Details) entry.Details = event.Details;
    if (showOutput && event.Result !== undefined) entry.Result = parseJsonText(event.Result);
    if (showOutput && event.EventType === EventType.EventRaised) entry.Input = parseJsonText(event.Input);
    view.push(entry);
  }
  return view;
}

function statusBody(record: InstanceRecord, showInput: boolean): Record<string, unknown> {
  return {
    name: record.name,
    instanceId: record.instanceId,
    runtimeStatus: record.status,
    input: showInput ? parseJsonText(record.input) : null,
    customStatus: parseJsonText(record.customStatus),
    output: parseJsonText(record.output),
    createdTime: new Date(record.createdTime).toISOString(),
    lastUpdatedTime: new Date(record.lastUpdatedTime).toISOString(),
  };
}

function send(
  res: ServerResponse,
  status: number,
  body?: unknown,
  headers: Record<string, string> = {},
): void {
  if (body === undefined) {
    res.writeHead(status, headers).end();
    return;
  }
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res
    .writeHead(status, {
      'content-type':
        typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8',
      ...headers,
    })
    .end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function flag(url: URL, name: string, fallback: boolean): boolean {
  const value = url.searchParams.get(name);
  return value === null ? fallback : value.toLowerCase() === 'true';
}

function parseTime(value: string | null): number | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

function queryFrom(url: URL, req: IncomingMessage): StatusQuery {
  const statuses = url.searchParams
    .get('runtimeStatus')
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean) as RuntimeStatus[] | undefined;
  const top = Number(url.searchParams.get('top') ?? '');
  const token = req.headers[CONTINUATION_HEADER];
  const createdFrom = parseTime(url.searchParams.get('createdTimeFrom'));
  const createdTo = parseTime(url.searchParams.get('createdTimeTo'));
  return {
    ...(createdFrom !== undefined ? { createdFrom } : {}),
    ...(createdTo !== undefined ? { createdTo } : {}),
    ...(statuses?.length ? { statuses } : {}),
    top: Number.isInteger(top) && top > 0 ? top : DEFAULT_PAGE_SIZE,
    ...(typeof token === 'string' && token !== '' ? { continuation: token } : {}),
  };
}

function answer(res: ServerResponse, result: ClientResult, instanceId: string): void {
  if (result === 'ok') send(res, 202);
  else if (result === 'gone') send(res, 410, `Instance '${instanceId}' has already finished.`);
  else send(res, 404, `No instance with ID '${instanceId}' found.`);
}

function presentedKey(url: URL, req: IncomingMessage): string | undefined {
  const header = req.headers['x-functions-key'];
  return url.searchParams.get('code') ?? (typeof header === 'string' ? header : undefined);
}

/** Serves the API; resolves false when the path belongs to neither base. */
export async function handleDurableHttp(
  options: HttpApiOptions,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<boolean> {
  const path = url.pathname;
  let rest: string;
  if (path.toLowerCase().startsWith(RPC_BASE_PATH)) {
    rest = path.slice(RPC_BASE_PATH.length);
  } else if (path.toLowerCase().startsWith(WEBHOOK_BASE_PATH)) {
    if (presentedKey(url, req) !== options.systemKey) {
      send(res, 401);
      return true;
    }
    rest = path.slice(WEBHOOK_BASE_PATH.length);
  } else {
    return false;
  }
  const segments = rest.split('/').map((s) => decodeURIComponent(s));
  const method = (req.method ?? 'GET').toUpperCase();
  const origin = `${url.protocol}//${url.host}`;
  try {
    await route(options, req, res, url, method, segments, origin);
  } catch (error) {
    if (!res.headersSent) send(res, 500, { message: error instanceof Error ? error.message : String(error) });
  }
  return true;
}

async function route(
  options: HttpApiOptions,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  method: string,
  segments: string[],
  origin: string,
): Promise<void> {
  const { engine } = options;
  const [area, first, second, third] = segments;
  const reason = url.searchParams.get('reason') ?? '';
  if (area === 'orchestrators' && first && method === 'POST' && !third) {
    const body = await readBody(req);
    // DurableClient posts "" for "no input", which axios sends as the JSON text `""`.
    const input = body === '' || body === '""' ? undefined : body;
    const started = await engine.startNew(first, second || undefined, input);
    if ('conflict' in started) {
      send(res, 409, `An instance with ID '${started.conflict.instanceId}' already exists.`);
      return;
    }
    const payload = payloadFor(options, started.instanceId, origin);
    send(res, 202, payload, { location: payload.statusQueryGetUri!, 'retry-after': '10' });
    return;
  }
  if (area === 'instances') {
    const instanceId = first ?? '';
    if (instanceId === '' && !second) {
      if (method === 'GET') {
        const page = await engine.query(queryFrom(url, req));
        const showInput = flag(url, 'showInput', false);
        send(
          res,
          200,
          page.records.map((r) => statusBody(r, showInput)),
          page.continuation ? { [CONTINUATION_HEADER]: page.continuation } : {},
        );
        return;
      }
      if (method === 'DELETE') {
        const { top: _top, ...query } = queryFrom(url, req);
        const deleted = await engine.purgeBy(query);
        if (deleted === 0) send(res, 404);
        else send(res, 200, { instancesDeleted: deleted });
        return;
      }
    }
    if (!second && method === 'GET') {
      const record = await engine.status(instanceId);
      if (!record) {
        send(res, 404);
        return;
      }
      const body = statusBody(record, flag(url, 'showInput', true));
      if (flag(url, 'showHistory', false)) {
        body.historyEvents = historyView(
          await engine.history(instanceId),
          flag(url, 'showHistoryOutput', false),
        );
      }
      const running =
        record.status === 'Running' || record.status === 'Pending' || record.status === 'ContinuedAsNew';
      if (running) {
        send(res, 202, body, {
          location: payloadFor(options, instanceId, origin).statusQueryGetUri!,
          'retry-after': '10',
        });
      } else if (record.status === 'Failed' && flag(url, 'returnInternalServerErrorOnFailure', false)) {
        send(res, 500, body);
      } else {
        send(res, 200, body);
      }
      return;
    }
    if (!second && method === 'DELETE') {
      const record = await engine.status(instanceId);
      if (!record || !(await engine.purge(instanceId))) send(res, 404);
      else send(res, 200, { instancesDeleted: 1 });
      return;
    }
    if (method === 'POST' && second === 'raiseEvent' && third) {
      const body = await readBody(req);
      answer(res, await engine.raiseEvent(instanceId, third, body === '' ? undefined : body), instanceId);
      return;
    }
    if (method === 'POST' && second === 'terminate') {
      answer(res, await engine.terminate(instanceId, reason), instanceId);
      return;
    }
    if (method === 'POST' && second === 'suspend') {
      answer(res, await engine.suspend(instanceId, reason), instanceId);
      return;
    }
    if (method === 'POST' && second === 'resume') {
      answer(res, await engine.resume(instanceId, reason), instanceId);
      return;
    }
    if (method === 'POST' && second === 'restart') {
      const record = await engine.status(instanceId);
      if (!record) {
        send(res, 404, `No instance with ID '${instanceId}' found.`);
        return;
      }
      const newId = url.searchParams.get('restartWithNewInstanceId')?.toLowerCase() !== 'false';
      const started = await engine.startNew(record.name, newId ? undefined : instanceId, record.input);
      if ('conflict' in started) {
        send(res, 409, `An instance with ID '${instanceId}' is still running.`);
        return;
      }
      const payload = payloadFor(options, started.instanceId, origin);
      send(res, 202, payload, { location: payload.statusQueryGetUri!, 'retry-after': '10' });
      return;
    }
    if (method === 'POST' && second === 'rewind') {
      const result = await engine.rewind(instanceId, reason);
      if (result === 'ok') send(res, 202);
      else if (result === 'notFound') send(res, 404, `No instance with ID '${instanceId}' found.`);
      else send(res, 412, 'The rewind operation is only supported on failed orchestration instances.');
      return;
    }
  }
  if (area === 'entities' && first && second !== undefined && !third) {
    if (method === 'POST') {
      const body = await readBody(req);
      await engine.signalEntity(
        first,
        second,
        url.searchParams.get('op') ?? '',
        body === '' ? undefined : body,
      );
      send(res, 202);
      return;
    }
    if (method === 'GET') {
      const entity = await engine.readEntity(first, second);
      if (!entity.exists) send(res, 404);
      else
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(entity.state ?? 'null');
      return;
    }
  }
  send(res, 404);
}

/**
 * The Event Grid extension's webhook, `/runtime/webhooks/eventgrid?functionName=NAME`, as the real
 * extension answers it (azure-sdk-for-net, Microsoft.Azure.WebJobs.Extensions.EventGrid,
 * `HttpRequestProcessor` and `EventGridExtensionConfigProvider`):
 * - OPTIONS: CloudEvents abuse-protection handshake, 200 with `WebHook-Allowed-Origin`.
 * - `aeg-event-type: SubscriptionValidation`: 200 `{"validationResponse": code}`; the code is in
 *   `[0].data.validationCode` (Event Grid schema) or in the JSON-encoded `data` of a CloudEvent.
 * - `aeg-event-type: Notification`: a JSON array (Event Grid schema or a CloudEvents batch) or one
 *   object (a CloudEvent); one invocation per event, all at once; 202 when all succeeded, else 500
 *   with the first failure's message, so that Event Grid redelivers the whole payload.
 * - `Unsubscribe`: 202. Any other or no `aeg-event-type`: 400.
 * Unknown function: 404 `cannot find function: 'NAME'`. The system key check is the caller's.
 * Where the extension would throw on a body that is not JSON (a 500), this host answers 400.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FunctionInvoker } from '../types';
import { readBody, writeText } from './mapping';

export const EVENTGRID_WEBHOOK_PATH = '/runtime/webhooks/eventgrid';

const PUBLIC_CLOUD_ORIGIN = 'eventgrid.azure.net';
const KNOWN_ORIGINS = new Set([
  PUBLIC_CLOUD_ORIGIN,
  'eventgrid.azure.us',
  'eventgrid.azure.eaglex.ic.gov',
  'eventgrid.azure.microsoft.scloud',
  'eventgrid.azure.cn',
]);

export interface EventGridWebhookOptions {
  invoker: FunctionInvoker;
  log: (line: string) => void;
}

function isEventGridFunction(invoker: FunctionInvoker, name: string): boolean {
  return invoker
    .functions()
    .some((fn) => fn.name === name && fn.trigger.type.toLowerCase() === 'eventgridtrigger');
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

class MalformedPayload extends Error {}

function parsePayload(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new MalformedPayload(`The request content is not valid JSON: ${(err as Error).message}`);
  }
}

function validationCode(payload: unknown): string {
  if (Array.isArray(payload)) {
    const code = (payload[0] as { data?: { validationCode?: unknown } } | undefined)?.data?.validationCode;
    if (code !== undefined && code !== null) return String(code);
  } else if (typeof payload === 'object' && payload !== null) {
    // A CloudEvent's validation data arrives JSON-encoded.
    const raw = (payload as { data?: unknown }).data;
    const data = typeof raw === 'string' ? parsePayload(Buffer.from(raw)) : raw;
    const code = (data as { validationCode?: unknown } | undefined)?.validationCode;
    if (code !== undefined && code !== null) return String(code);
  }
  throw new MalformedPayload('The subscription validation event has no data.validationCode');
}

export async function handleEventGridWebhook(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  { invoker, log }: EventGridWebhookOptions,
): Promise<void> {
  const functionName = url.searchParams.get('functionName') ?? '';
  if (functionName === '' || !isEventGridFunction(invoker, functionName)) {
    writeText(res, 404, `cannot find function: '${functionName}'`);
    return;
  }
  if (req.method === 'OPTIONS') {
    const origin = header(req, 'webhook-request-origin');
    res.setHeader(
      'WebHook-Allowed-Origin',
      origin && KNOWN_ORIGINS.has(origin) ? origin : PUBLIC_CLOUD_ORIGIN,
    );
    writeText(res, 200);
    return;
  }
  const eventType = header(req, 'aeg-event-type')?.toLowerCase();
  try {
    if (eventType === 'subscriptionvalidation') {
      const code = validationCode(parsePayload(await readBody(req)));
      log(`perform handshake with eventGrid for function: ${functionName}`);
      writeText(res, 200, JSON.stringify({ validationResponse: code }), 'application/json; charset=utf-8');
      return;
    }
    if (eventType === 'notification') {
      const payload = parsePayload(await readBody(req));
      if (typeof payload !== 'object' || payload === null) {
        throw new MalformedPayload('The request content should be a JSON object or array');
      }
      const events: unknown[] = Array.isArray(payload) ? payload : [payload];
      const outcomes = await Promise.allSettled(
        events.map((event) => invoker.invoke(functionName, { json: JSON.stringify(event) })),
      );
      const failed = outcomes.find((outcome) => outcome.status === 'rejected');
      if (failed) {
        writeText(res, 500, ((failed as PromiseRejectedResult).reason as Error).message);
        return;
      }
      writeText(res, 202);
      return;
    }
    writeText(res, eventType === 'unsubscribe' ? 202 : 400);
  } catch (err) {
    if (err instanceof MalformedPayload) {
      writeText(res, 400, err.message);
      return;
    }
    throw err;
  }
}

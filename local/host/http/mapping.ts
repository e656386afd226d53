/**
 * Conversions between node:http messages and the worker protocol's `RpcHttp`, as the Functions host
 * does them: the request body travels as raw bytes, repeated query keys are joined with `,`, and the
 * response comes back from the `$return` (or another `http`) output binding.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { InvocationResult, RegisteredFunction, RpcHttp, RpcTypedData } from '../types';

/** Largest request body the host accepts (the Functions host's default limit is 100 MB). */
export const MAX_BODY_BYTES = 100 * 1024 * 1024;

export class BodyTooLargeError extends Error {}

export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLargeError(`Request body is larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function requestHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

export function queryRecord(url: URL): Record<string, string> {
  const query: Record<string, string> = {};
  for (const key of new Set(url.searchParams.keys())) query[key] = url.searchParams.getAll(key).join(',');
  return query;
}

export function toRpcHttpRequest(
  req: IncomingMessage,
  url: URL,
  params: Record<string, string>,
  body: Buffer,
): RpcHttp {
  return {
    method: req.method ?? 'GET',
    url: url.href,
    headers: requestHeaders(req),
    query: queryRecord(url),
    params,
    ...(body.length > 0
      ? { body: { bytes: new Uint8Array(body.buffer, body.byteOffset, body.length) } }
      : {}),
  };
}

/** Trigger metadata the host sends with HTTP invocations: Query, Headers and the route parameters. */
export function httpTriggerMetadata(rpc: RpcHttp): Record<string, RpcTypedData> {
  const metadata: Record<string, RpcTypedData> = {
    Query: { json: JSON.stringify(rpc.query ?? {}) },
    Headers: { json: JSON.stringify(rpc.headers ?? {}) },
  };
  for (const [name, value] of Object.entries(rpc.params ?? {})) metadata[name] = { string: value };
  return metadata;
}

/** The HTTP response a function gave: its `$return` binding, else its first `http` output binding. */
export function responseOf(fn: RegisteredFunction, result: InvocationResult): RpcHttp | undefined {
  if (fn.bindings.$return?.type.toLowerCase() === 'http') return result.returnValue?.http;
  const name = Object.entries(fn.bindings).find(
    ([, binding]) => binding.direction === 'out' && binding.type.toLowerCase() === 'http',
  )?.[0];
  return result.outputData.find((output) => output.name === name)?.data.http;
}

function bodyBytes(data: RpcTypedData | undefined): Buffer {
  if (!data) return Buffer.alloc(0);
  if (data.bytes) return Buffer.from(data.bytes.buffer, data.bytes.byteOffset, data.bytes.byteLength);
  if (data.string !== undefined) return Buffer.from(data.string);
  if (data.json !== undefined) return Buffer.from(data.json);
  if (data.int !== undefined) return Buffer.from(String(data.int));
  if (data.double !== undefined) return Buffer.from(String(data.double));
  return Buffer.alloc(0);
}

interface RpcCookie {
  name?: string;
  value?: string;
  domain?: { value?: string };
  path?: { value?: string };
  expires?: { value?: { seconds?: number } };
  secure?: { value?: boolean };
  httpOnly?: { value?: boolean };
  sameSite?: string;
  maxAge?: { value?: number };
}

export function setCookieHeader(cookie: RpcCookie): string {
  const parts = [`${cookie.name ?? ''}=${cookie.value ?? ''}`];
  if (cookie.domain?.value) parts.push(`Domain=${cookie.domain.value}`);
  if (cookie.path?.value) parts.push(`Path=${cookie.path.value}`);
  if (cookie.expires?.value?.seconds !== undefined) {
    parts.push(`Expires=${new Date(cookie.expires.value.seconds * 1000).toUTCString()}`);
  }
  if (cookie.maxAge?.value !== undefined) parts.push(`Max-Age=${cookie.maxAge.value}`);
  if (cookie.secure?.value) parts.push('Secure');
  if (cookie.httpOnly?.value) parts.push('HttpOnly');
  const sameSite = { lax: 'Lax', strict: 'Strict', explicitNone: 'None' }[cookie.sameSite ?? ''];
  if (sameSite) parts.push(`SameSite=${sameSite}`);
  return parts.join('; ');
}

/** Writes a function's HTTP response; a function that set none answers 204. */
export function writeRpcResponse(res: ServerResponse, rpc: RpcHttp | undefined): void {
  if (!rpc) {
    res.writeHead(204).end();
    return;
  }
  const status = Number(rpc.statusCode ?? 200) || 200;
  const body = bodyBytes(rpc.body);
  for (const [name, value] of Object.entries(rpc.headers ?? {})) {
    const lower = name.toLowerCase();
    if (lower === 'content-length' || lower === 'transfer-encoding') continue;
    res.setHeader(name, value);
  }
  const cookies = ((rpc.cookies ?? []) as RpcCookie[]).map(setCookieHeader);
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);
  const noBody = status === 204 || status === 304 || (status >= 100 && status < 200);
  if (!noBody) res.setHeader('content-length', body.length);
  res.writeHead(status);
  res.end(noBody ? undefined : body);
}

export function writeText(
  res: ServerResponse,
  status: number,
  text = '',
  contentType = 'text/plain; charset=utf-8',
): void {
  const body = Buffer.from(text);
  res.writeHead(status, { 'content-type': contentType, 'content-length': body.length });
  res.end(body);
}

export function writeJson(res: ServerResponse, status: number, value: unknown): void {
  writeText(res, status, JSON.stringify(value), 'application/json; charset=utf-8');
}

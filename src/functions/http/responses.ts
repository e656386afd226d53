/** Answers shared by the HTTP routes: JSON, RFC 9457 problem details, and request helpers. */
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { describeError, NonRetriableError } from '../../domain/errors';

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, jsonBody: body, headers: { 'content-type': 'application/json', ...headers } };
}

/** An `application/problem+json` answer; `extra` adds members such as the list of problems. */
export function problem(
  status: number,
  title: string,
  detail: string,
  extra: Record<string, unknown> = {},
): HttpResponseInit {
  return {
    status,
    body: JSON.stringify({ type: 'about:blank', title, status, detail, ...extra }),
    headers: { 'content-type': 'application/problem+json' },
  };
}

export function notFound(what: string): HttpResponseInit {
  return problem(404, 'Not Found', `${what} does not exist`);
}

/**
 * The answer for an error nobody handled: 503 for what may pass (Azure throttling or a transient
 * fault), 500 otherwise, with the error's own message only (messages never carry secrets).
 */
export function unexpected(error: unknown): HttpResponseInit {
  const info = describeError(error);
  const transient =
    !(error instanceof NonRetriableError) && info.statusCode !== undefined && info.statusCode >= 429;
  return problem(
    transient ? 503 : 500,
    transient ? 'Service Unavailable' : 'Internal Server Error',
    info.message,
    {
      code: info.code,
    },
  );
}

/** Positive integer query parameter, clamped to `max`; undefined when absent or not a number. */
export function pageSizeOf(request: HttpRequest, max = 1000): number | undefined {
  const raw = request.query.get('pageSize');
  if (raw === null) return undefined;
  const value = Number.parseInt(raw, 10);
  return Number.isFinite(value) && value > 0 ? Math.min(value, max) : undefined;
}

/** Reads a JSON body, or undefined when the body is empty; throws NonRetriableError when it is not JSON. */
export async function jsonBody(request: HttpRequest): Promise<unknown> {
  const text = await request.text();
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new NonRetriableError('the request body is not valid JSON');
  }
}

/** A member of a JSON object body as a string, if it is one. */
export function stringMember(body: unknown, key: string): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const value = (body as Record<string, unknown>)[key];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

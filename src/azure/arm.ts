/**
 * What every ARM gateway shares: client options from the settings (endpoint, token audience, retry
 * policy, write-rate limit) and the mapping of SDK failures to the typed errors.
 *
 * Retries are the SDK pipeline's own: its default retry policy retries 429 and 503 after the
 * Retry-After the service sent (retry-after-ms, x-ms-retry-after-ms or Retry-After), and other 5xx
 * and network errors with exponential back-off; `retryOptions` sets how often and how long. A
 * failure that outlives the retries reaches `toAzureError`.
 */
import type { PipelinePolicy, PipelineResponse } from '@azure/core-rest-pipeline';
import type { FactoryConfig } from '../config';
import {
  type AzureErrorInfo,
  AzureOperationError,
  isTransientStatus,
  NonRetriableError,
  RetryAfterError,
} from '../domain/errors';

export interface ArmClientOptions {
  endpoint: string;
  $host: string;
  credentialScopes: string[];
  credentials: { scopes: string[] };
  retryOptions: { maxRetries: number; retryDelayInMs: number; maxRetryDelayInMs: number };
  additionalPolicies: { policy: PipelinePolicy; position: 'perCall' | 'perRetry' }[];
}

/**
 * Options every ARM client takes. `endpoint`/`$host` point the core-client SDKs at the configured
 * ARM; `credentialScopes` (core-client) and `credentials.scopes` (the modular compute client) pin
 * the token audience, which the modular client would otherwise fix to the public cloud.
 */
export function armClientOptions(config: FactoryConfig, writeLimiter: PipelinePolicy): ArmClientOptions {
  const scopes = [config.azure.armScope];
  return {
    endpoint: config.azure.armEndpoint,
    $host: config.azure.armEndpoint,
    credentialScopes: scopes,
    credentials: { scopes },
    retryOptions: { ...config.limits.armRetry },
    additionalPolicies: [{ policy: writeLimiter, position: 'perRetry' }],
  };
}

const WRITE_METHODS = new Set(['PUT', 'PATCH', 'POST', 'DELETE']);

/**
 * Spaces this process's ARM writes to at most `perSecond` (a token bucket of one), so a wave's
 * burst of enables stays under ARM's write bucket (refilled at 10 per second per principal) instead
 * of collecting 429s. One limiter is shared by all clients of a process; `now`/`sleep` are real time.
 */
export function writeRateLimitPolicy(
  perSecond: number,
  now: () => number = Date.now,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
): PipelinePolicy {
  const intervalMs = 1000 / perSecond;
  let nextSlot = 0;
  return {
    name: 'factoryWriteRateLimit',
    async sendRequest(request, next) {
      if (WRITE_METHODS.has(request.method)) {
        const at = Math.max(now(), nextSlot);
        nextSlot = at + intervalMs;
        const wait = at - now();
        if (wait > 0) await sleep(wait);
      }
      return next(request);
    },
  };
}

interface ErrorBody {
  code?: unknown;
  message?: unknown;
  possibleCauses?: unknown;
  recommendedAction?: unknown;
  details?: unknown;
  innerError?: unknown;
}

function asString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Azure's error description from an ARM error body (`{error: {...}}` or the error itself). Site
 * Recovery puts `possibleCauses` and `recommendedAction` on the error or on its first detail.
 */
export function errorInfoFromBody(body: unknown, statusCode?: number): AzureErrorInfo | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const outer = body as { error?: unknown };
  const error = (typeof outer.error === 'object' && outer.error !== null ? outer.error : body) as ErrorBody;
  const code = asString(error.code);
  const message = asString(error.message);
  if (code === undefined && message === undefined) return undefined;
  const detail = (Array.isArray(error.details) ? error.details[0] : undefined) as ErrorBody | undefined;
  const possibleCauses = asString(error.possibleCauses) ?? asString(detail?.possibleCauses);
  const recommendedAction = asString(error.recommendedAction) ?? asString(detail?.recommendedAction);
  return {
    code: code ?? 'Unknown',
    message: message ?? code ?? 'Unknown error',
    ...(possibleCauses === undefined ? {} : { possibleCauses }),
    ...(recommendedAction === undefined ? {} : { recommendedAction }),
    ...(statusCode === undefined ? {} : { statusCode }),
  };
}

/** Retry-After of a response in ms: `retry-after-ms`, `x-ms-retry-after-ms`, or `Retry-After` (seconds or date). */
export function retryAfterMsOf(
  response: PipelineResponse | undefined,
  now: number = Date.now(),
): number | undefined {
  if (response === undefined) return undefined;
  for (const header of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const value = Number(response.headers.get(header));
    if (response.headers.has(header) && Number.isFinite(value) && value >= 0) return value;
  }
  const retryAfter = response.headers.get('retry-after');
  if (retryAfter === undefined) return undefined;
  const seconds = Number(retryAfter);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(retryAfter);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

interface RestErrorLike {
  name: string;
  message: string;
  code?: string;
  statusCode?: number;
  response?: PipelineResponse;
}

function isRestError(error: unknown): error is RestErrorLike {
  return error instanceof Error && error.name === 'RestError';
}

function parseJson(text: string | undefined | null): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Network failures the SDK retried without success: worth retrying later. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'EPIPE']);

/** Default wait before retrying a transient failure that came without Retry-After, in ms. */
const TRANSIENT_RETRY_MS = 30_000;

/**
 * Maps what an SDK call threw to a typed error: an ARM answer becomes `AzureOperationError` with
 * Azure's code, message, possible causes and recommended action (retriable for 408/429/5xx, with
 * Retry-After); an LRO failure body likewise; a network failure `RetryAfterError`; anything else
 * `NonRetriableError`. Messages come from Azure's answers, never from our requests.
 */
export function toAzureError(error: unknown, action: string): Error {
  if (
    error instanceof AzureOperationError ||
    error instanceof NonRetriableError ||
    error instanceof RetryAfterError
  ) {
    return error;
  }
  if (isRestError(error)) {
    const statusCode = error.statusCode;
    if (statusCode === undefined) {
      return NETWORK_CODES.has(error.code ?? '')
        ? new RetryAfterError(`${action}: ${error.message}`, TRANSIENT_RETRY_MS, { cause: error })
        : new NonRetriableError(`${action}: ${error.message}`, { cause: error });
    }
    const info = errorInfoFromBody(
      parseJson(error.response?.bodyAsText) ?? (error as { details?: unknown }).details,
      statusCode,
    ) ?? {
      code: error.code ?? `Http${statusCode}`,
      message: error.message,
      statusCode,
    };
    const retriable = isTransientStatus(statusCode);
    const retryAfterMs = retryAfterMsOf(error.response);
    return new AzureOperationError(info, {
      cause: error,
      retriable,
      ...(retriable ? { retryAfterMs: retryAfterMs ?? TRANSIENT_RETRY_MS } : {}),
    });
  }
  // core-lro throws the `error` of a failed operation's status body as is.
  const info = errorInfoFromBody(error);
  if (info !== undefined && !(error instanceof Error)) {
    return new AzureOperationError(info, { retriable: false });
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) {
      return new RetryAfterError(`${action}: ${error.message}`, TRANSIENT_RETRY_MS, { cause: error });
    }
    return new NonRetriableError(`${action}: ${error.message}`, { cause: error });
  }
  return new NonRetriableError(`${action}: ${String(error)}`, { cause: error });
}

/** Runs an SDK call, mapping its failure with `toAzureError`. */
export async function callArm<T>(action: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw toAzureError(error, action);
  }
}

/** Runs an SDK read; a 404 answer is `undefined`. */
export async function readArm<T>(action: string, call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (error) {
    if (isRestError(error) && error.statusCode === 404) return undefined;
    throw toAzureError(error, action);
  }
}

/** The value following `key` in an ARM id (case-insensitive key), e.g. `valueOf(id, 'machines')`. */
export function armIdValue(id: string, key: string): string | undefined {
  const segments = id.split('/').filter((s) => s !== '');
  const i = segments.findIndex((s) => s.toLowerCase() === key.toLowerCase());
  return i >= 0 ? segments[i + 1] : undefined;
}

/** Dates from the SDK (Date objects or strings) as ISO strings. */
export function isoOf(value: Date | string | undefined | null): string | undefined {
  if (value === undefined || value === null) return undefined;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** Collects a paged SDK listing. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

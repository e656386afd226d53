/**
 * The small set of typed errors every layer throws and every boundary understands.
 *
 * - `NonRetriableError`: retrying cannot help (bad input, a state that forbids the action, 4xx other
 *   than 408/409-conflict-on-lock/429). Activities let it fail the orchestration step.
 * - `RetryAfterError`: retrying later can help; `retryAfterMs` says when (from `Retry-After` when
 *   Azure sent one).
 * - `AzureOperationError`: Azure refused or failed an operation; carries Azure's own code, message,
 *   possible causes and recommended action so the journal can show them to an operator. Whether it
 *   is worth retrying is in `retriable`.
 * - `ConcurrencyError`: an optimistic-concurrency check (ETag) failed; re-read and decide again.
 *
 * Error messages never contain secrets: callers build them from Azure's answer, not from requests.
 */

/** Azure's description of a failure, as the journal records it. */
export interface AzureErrorInfo {
  code: string;
  message: string;
  possibleCauses?: string;
  recommendedAction?: string;
  /** HTTP status of the answer that carried the error, when there was one. */
  statusCode?: number;
}

export class NonRetriableError extends Error {
  override name = 'NonRetriableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export class RetryAfterError extends Error {
  override name = 'RetryAfterError';
  /** Milliseconds to wait before trying again. */
  readonly retryAfterMs: number;
  constructor(message: string, retryAfterMs: number, options?: { cause?: unknown }) {
    super(message, options);
    this.retryAfterMs = retryAfterMs;
  }
}

export class AzureOperationError extends Error {
  override name = 'AzureOperationError';
  readonly code: string;
  readonly statusCode: number | undefined;
  readonly possibleCauses: string | undefined;
  readonly recommendedAction: string | undefined;
  /** True for throttling (429) and transient server errors (408, 5xx) that outlived the SDK's retries. */
  readonly retriable: boolean;
  /** Milliseconds Azure asked us to wait (Retry-After), when it said. */
  readonly retryAfterMs: number | undefined;
  constructor(
    info: AzureErrorInfo,
    options?: { cause?: unknown; retriable?: boolean; retryAfterMs?: number },
  ) {
    super(info.message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = info.code;
    this.statusCode = info.statusCode;
    this.possibleCauses = info.possibleCauses;
    this.recommendedAction = info.recommendedAction;
    this.retriable = options?.retriable ?? isTransientStatus(info.statusCode);
    this.retryAfterMs = options?.retryAfterMs;
  }

  toInfo(): AzureErrorInfo {
    return {
      code: this.code,
      message: this.message,
      ...(this.possibleCauses === undefined ? {} : { possibleCauses: this.possibleCauses }),
      ...(this.recommendedAction === undefined ? {} : { recommendedAction: this.recommendedAction }),
      ...(this.statusCode === undefined ? {} : { statusCode: this.statusCode }),
    };
  }
}

/** An optimistic-concurrency check failed: someone else changed the record first. */
export class ConcurrencyError extends Error {
  override name = 'ConcurrencyError';
}

/** 408, 429 and 5xx are worth retrying; everything else is the caller's or the state's fault. */
export function isTransientStatus(statusCode: number | undefined): boolean {
  return statusCode === 408 || statusCode === 429 || (statusCode !== undefined && statusCode >= 500);
}

export type TypedError = NonRetriableError | RetryAfterError | AzureOperationError | ConcurrencyError;

/** Delay before retrying a retriable Azure error when Azure did not say, in ms. */
const DEFAULT_RETRY_AFTER_MS = 30_000;

/**
 * Turns anything thrown into one of the typed errors, for use at boundaries (activity, HTTP
 * handler). Typed errors pass through unchanged; an `AzureOperationError` that is retriable is
 * still returned as is (its `retriable` and `retryAfterMs` say how to retry). Unknown errors
 * become a `NonRetriableError` whose message is the original's, with the original as `cause`.
 */
export function normaliseError(error: unknown): TypedError {
  if (
    error instanceof NonRetriableError ||
    error instanceof RetryAfterError ||
    error instanceof AzureOperationError ||
    error instanceof ConcurrencyError
  ) {
    return error;
  }
  if (error instanceof Error) {
    return new NonRetriableError(error.message, { cause: error });
  }
  return new NonRetriableError(typeof error === 'string' ? error : `Unexpected error: ${String(error)}`, {
    cause: error,
  });
}

/** Whether retrying the step that threw `error` can help, and after how long (ms). */
export function retryDelayOf(error: TypedError): number | undefined {
  if (error instanceof RetryAfterError) return error.retryAfterMs;
  if (error instanceof AzureOperationError && error.retriable) {
    return error.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS;
  }
  if (error instanceof ConcurrencyError) return 0;
  return undefined;
}

/** A plain, serialisable description of any error, for the journal and activity results. */
export function describeError(error: unknown): AzureErrorInfo {
  const typed = normaliseError(error);
  if (typed instanceof AzureOperationError) return typed.toInfo();
  return { code: typed.name, message: typed.message };
}

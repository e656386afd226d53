import { createHttpHeaders, createPipelineRequest, RestError } from '@azure/core-rest-pipeline';
import { describe, expect, it } from 'vitest';
import { errorInfoFromBody, retryAfterMsOf, toAzureError, writeRateLimitPolicy } from '../../src/azure/arm';
import {
  AzureOperationError,
  describeError,
  NonRetriableError,
  normaliseError,
  RetryAfterError,
  retryDelayOf,
} from '../../src/domain/errors';

function restError(status: number, body: unknown, headers: Record<string, string> = {}): RestError {
  const request = createPipelineRequest({ url: 'https://management.azure.com/x' });
  return new RestError(`answered ${status}`, {
    statusCode: status,
    request,
    response: { status, headers: createHttpHeaders(headers), request, bodyAsText: JSON.stringify(body) },
  });
}

describe('toAzureError', () => {
  it('keeps Azure code, message, possible causes and recommended action of a refusal', () => {
    const error = toAzureError(
      restError(409, {
        error: {
          code: 'MigrationItemOperationNotAllowed',
          message: 'Not now.',
          details: [{ possibleCauses: 'Seeding is running.', recommendedAction: 'Wait for Replicating.' }],
        },
      }),
      'Start migrate',
    );
    expect(error).toBeInstanceOf(AzureOperationError);
    expect((error as AzureOperationError).toInfo()).toEqual({
      code: 'MigrationItemOperationNotAllowed',
      message: 'Not now.',
      possibleCauses: 'Seeding is running.',
      recommendedAction: 'Wait for Replicating.',
      statusCode: 409,
    });
    expect((error as AzureOperationError).retriable).toBe(false);
    expect(retryDelayOf(normaliseError(error))).toBeUndefined();
  });

  it('marks throttling that outlived the SDK retries as retriable after Retry-After', () => {
    const error = toAzureError(
      restError(429, { error: { code: 'TooManyRequests', message: 'Slow down.' } }, { 'retry-after': '17' }),
      'Read item',
    ) as AzureOperationError;
    expect(error.retriable).toBe(true);
    expect(error.retryAfterMs).toBe(17_000);
    expect(retryDelayOf(error)).toBe(17_000);
  });

  it('treats a 5xx without Retry-After as retriable with a default delay', () => {
    const error = toAzureError(restError(503, 'not json'), 'Read item') as AzureOperationError;
    expect(error.retriable).toBe(true);
    expect(error.code).toBe('Http503');
    expect(error.retryAfterMs).toBeGreaterThan(0);
  });

  it('turns network failures into RetryAfterError and the rest into NonRetriableError', () => {
    const reset = new RestError('socket hang up', { code: 'ECONNRESET' });
    expect(toAzureError(reset, 'Read item')).toBeInstanceOf(RetryAfterError);
    expect(toAzureError(new TypeError('bad'), 'Read item')).toBeInstanceOf(NonRetriableError);
    expect(toAzureError({ code: 'InternalError', message: 'LRO failed' }, 'Poll')).toMatchObject({
      code: 'InternalError',
      retriable: false,
    });
  });
});

describe('error helpers', () => {
  it('reads the error of ARM bodies in both shapes', () => {
    expect(errorInfoFromBody({ code: 'A', message: 'm', possibleCauses: 'c' })).toEqual({
      code: 'A',
      message: 'm',
      possibleCauses: 'c',
    });
    expect(errorInfoFromBody({ error: { message: 'only message' } }, 400)).toEqual({
      code: 'Unknown',
      message: 'only message',
      statusCode: 400,
    });
    expect(errorInfoFromBody({ status: 'Succeeded' })).toBeUndefined();
  });

  it('parses Retry-After in ms headers, seconds and HTTP dates', () => {
    const response = (headers: Record<string, string>) => ({
      status: 429,
      headers: createHttpHeaders(headers),
      request: createPipelineRequest({ url: 'https://x' }),
    });
    expect(retryAfterMsOf(response({ 'retry-after-ms': '250' }))).toBe(250);
    expect(retryAfterMsOf(response({ 'retry-after': '3' }))).toBe(3000);
    const now = Date.parse('2026-11-21T10:00:00Z');
    expect(retryAfterMsOf(response({ 'retry-after': 'Sat, 21 Nov 2026 10:00:05 GMT' }), now)).toBe(5000);
    expect(retryAfterMsOf(response({}))).toBeUndefined();
  });

  it('normalises unknown throws and describes errors as data', () => {
    expect(normaliseError('boom')).toBeInstanceOf(NonRetriableError);
    expect(describeError(new Error('plain'))).toEqual({ code: 'NonRetriableError', message: 'plain' });
    const retry = new RetryAfterError('later', 500);
    expect(normaliseError(retry)).toBe(retry);
  });
});

describe('writeRateLimitPolicy', () => {
  it('spaces writes to the configured rate and lets reads through', async () => {
    let now = 1_000;
    const waits: number[] = [];
    const policy = writeRateLimitPolicy(
      2,
      () => now,
      async (ms) => {
        waits.push(ms);
      },
    );
    const send = (method: 'GET' | 'PUT' | 'POST') =>
      policy.sendRequest(createPipelineRequest({ url: 'https://x', method }), async (request) => ({
        status: 200,
        headers: createHttpHeaders(),
        request,
      }));
    await send('PUT');
    await send('POST');
    await send('GET');
    await send('PUT');
    expect(waits).toEqual([500, 1000]);
    now += 5_000;
    await send('PUT');
    expect(waits).toEqual([500, 1000]);
  });
});

import { describe, expect, it } from 'vitest';
import { FilesSyncError } from '../../src/errors.js';
import {
  ApiError,
  AuthenticationError,
  BadRequestError,
  ConnectionError,
  InternalServerError,
  NotFoundError,
  OverloadedError,
  PermissionDeniedError,
  RateLimitError,
  RequestTimeoutError,
  RequestTooLargeError,
  apiErrorFor,
  certainlyNotSent,
  summarizeError,
} from '../../src/api/errors.js';

describe('apiErrorFor', () => {
  it.each([
    [400, BadRequestError, 'bad_request'],
    [401, AuthenticationError, 'authentication'],
    [403, PermissionDeniedError, 'permission'],
    [404, NotFoundError, 'not_found'],
    [413, RequestTooLargeError, 'request_too_large'],
    [429, RateLimitError, 'rate_limit'],
    [500, InternalServerError, 'server'],
    [503, InternalServerError, 'server'],
    [529, OverloadedError, 'overloaded'],
    [418, ApiError, 'other'],
  ] as const)('%i -> %s', (status, cls, kind) => {
    const err = apiErrorFor('m', {
      status,
      method: 'GET',
      route: '/v1/files',
      errorType: 'x',
      requestId: 'req_1',
    });
    expect(err).toBeInstanceOf(cls);
    expect(err).toBeInstanceOf(FilesSyncError);
    expect(err.kind).toBe(kind);
    expect(err.name).toBe(cls.name);
    expect(err.context).toEqual({
      status,
      errorType: 'x',
      requestId: 'req_1',
      method: 'GET',
      route: '/v1/files',
    });
  });
});

describe('connection errors', () => {
  it('knows which codes mean "never sent"', () => {
    const mk = (code: string) => new ConnectionError('c', { method: 'POST', route: '/v1/files', code });
    expect(certainlyNotSent(mk('ECONNREFUSED'))).toBe(true);
    expect(certainlyNotSent(mk('UND_ERR_CONNECT_TIMEOUT'))).toBe(true);
    expect(certainlyNotSent(mk('ECONNRESET'))).toBe(false);
    expect(certainlyNotSent(mk('UND_ERR_SOCKET'))).toBe(false);
    expect(
      certainlyNotSent(new RequestTimeoutError('t', { method: 'POST', route: '/v1/files', code: 'TIMEOUT' })),
    ).toBe(false);
    expect(certainlyNotSent(new Error('x'))).toBe(false);
  });

  it('summarizes without detail', () => {
    expect(
      summarizeError(
        apiErrorFor('m', { status: 429, method: 'GET', route: '/', errorType: 'rate_limit_error' }),
      ),
    ).toBe('429 rate_limit_error');
    expect(summarizeError(new ConnectionError('c', { method: 'GET', route: '/', code: 'ECONNRESET' }))).toBe(
      'ECONNRESET',
    );
    expect(summarizeError(new RequestTimeoutError('c', { method: 'GET', route: '/', code: 'TIMEOUT' }))).toBe(
      'timeout TIMEOUT',
    );
  });
});

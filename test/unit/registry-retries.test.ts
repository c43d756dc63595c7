import { describe, expect, it } from 'vitest';
import {
  parseRetryAfter,
  Retries,
  RetryableStatus,
  registryErrorLines,
} from '../../pipeline/clients/registry.js';
import { SitepipeError } from '../../pipeline/errors.js';

const status = (code: number, retryAfterMs?: number) => new RetryableStatus(code, retryAfterMs, '');

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-03-01T12:00:00Z');
  it('reads delay-seconds and HTTP dates as milliseconds from now', () => {
    expect(parseRetryAfter('2', now)).toBe(2000);
    expect(parseRetryAfter('Sun, 01 Mar 2026 12:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Sun, 01 Mar 2026 11:00:00 GMT', now)).toBe(0);
  });
  it('is undefined when absent or unreadable', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });
});

describe('Retries', () => {
  it('gives failures five attempts in all', () => {
    const retries = new Retries();
    const waits = [1, 2, 3, 4, 5].map(() => retries.next(status(503)));
    expect(waits.slice(0, 4).every((w) => typeof w === 'number' && w > 0)).toBe(true);
    expect(waits[4]).toBeNull();
    expect(retries.attempts).toBe(5);
  });

  it('gives rate limits a time budget instead: more tries, each wait capped, the total bounded', () => {
    const retries = new Retries();
    const waits: number[] = [];
    for (let w = retries.next(status(429)); w !== null; w = retries.next(status(429))) waits.push(w);
    const total = waits.reduce((a, b) => a + b, 0);
    expect(waits.length).toBeGreaterThan(5);
    expect(Math.max(...waits)).toBeLessThanOrEqual(60_000);
    expect(total).toBeGreaterThan(2 * 60_000);
    expect(total).toBeLessThanOrEqual(5 * 60_000);
  });

  it('rate limits do not use up the attempts other failures get', () => {
    const retries = new Retries();
    for (let i = 0; i < 10; i++) retries.next(status(429, 1));
    const waits = [1, 2, 3, 4, 5].map(() => retries.next(status(502)));
    expect(waits.filter((w) => w === null)).toHaveLength(1);
  });

  it('waits as long as Retry-After asks, up to the cap', () => {
    const retries = new Retries();
    expect(retries.next(status(429, 1500))).toBe(1500);
    expect(retries.next(status(503, 2000))).toBe(2000);
    expect(retries.next(status(429, 3_600_000))).toBe(60_000);
  });

  it('retries dropped connections, not other errors', () => {
    const retries = new Retries();
    expect(retries.next(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }))).toBeGreaterThan(0);
    expect(retries.next(new SitepipeError('REGISTRY_BAD_CONTENT', 'x', 'y'))).toBeNull();
    expect(retries.next(new TypeError('a bug'))).toBeNull();
  });
});

describe('registryErrorLines', () => {
  it('reads OCI error JSON as "CODE: message (detail)", one line each', () => {
    const body = JSON.stringify({
      errors: [
        { code: 'UNKNOWN', message: 'unknown error', detail: 'write: no space left on device' },
        { code: 'DENIED', message: 'requested access to the resource is denied' },
        { code: 'MANIFEST_INVALID', message: 'manifest invalid', detail: { reason: 'bad layer' } },
      ],
    });
    expect(registryErrorLines(body)).toEqual([
      'UNKNOWN: unknown error (write: no space left on device)',
      'DENIED: requested access to the resource is denied',
      'MANIFEST_INVALID: manifest invalid ({"reason":"bad layer"})',
    ]);
  });

  it('keeps the first 500 characters of anything else, and nothing of an empty body', () => {
    const html = `<html>${'x'.repeat(1000)}</html>`;
    expect(registryErrorLines(html)).toEqual([html.slice(0, 500)]);
    expect(registryErrorLines('{"message":"not OCI"}')).toEqual(['{"message":"not OCI"}']);
    expect(registryErrorLines('  \n')).toEqual([]);
  });
});

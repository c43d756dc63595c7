import { expect } from 'vitest';
import { SitepipeError } from '../../pipeline/errors.js';

/** Awaits a promise that must reject with a SitepipeError of `code`; returns the error. */
export async function expectCode(promise: Promise<unknown>, code: string): Promise<SitepipeError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SitepipeError);
  expect((err as SitepipeError).code, (err as Error).message).toBe(code);
  return err as SitepipeError;
}

/** The error a synchronous call throws (the test fails when it throws none). */
export function problem(fn: () => unknown): SitepipeError {
  try {
    fn();
  } catch (e) {
    return e as SitepipeError;
  }
  throw new Error('expected an error');
}

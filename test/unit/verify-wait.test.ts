import { describe, expect, it } from 'vitest';
import { backoffMs, type Clock, MIN_ATTEMPT_MS, untilPassed } from '../../pipeline/verify/wait.js';

/** A clock that only moves when the loop sleeps or an attempt takes its (simulated) time. */
function fakeClock() {
  let now = 0;
  const sleeps: number[] = [];
  const clock: Clock = {
    now: () => now,
    sleep: async (ms, signal) => {
      signal.throwIfAborted();
      sleeps.push(ms);
      now += ms;
    },
  };
  return { clock, sleeps, advance: (ms: number) => (now += ms), at: () => now };
}

describe('waiting for the edge to converge', () => {
  it('backs off 1 s, 2 s, 4 s … up to 30 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(backoffMs)).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  });

  it('checks once without a wait', async () => {
    const { clock } = fakeClock();
    const r = await untilPassed({
      attempt: async () => false,
      passed: (x) => x,
      waitMs: 0,
      timeoutMs: 10_000,
      signal: new AbortController().signal,
      clock,
    });
    expect(r).toEqual({ result: false, attempts: 1, timedOut: false });
  });

  it('stops as soon as an attempt passes', async () => {
    const { clock, sleeps } = fakeClock();
    let n = 0;
    const retries: number[] = [];
    const r = await untilPassed({
      attempt: async () => ++n >= 3,
      passed: (x) => x,
      waitMs: 60_000,
      timeoutMs: 10_000,
      signal: new AbortController().signal,
      clock,
      onRetry: (_r, attempt, next) => retries.push(attempt, next),
    });
    expect(r).toEqual({ result: true, attempts: 3, timedOut: false });
    expect(sleeps).toEqual([1000, 2000]);
    expect(retries).toEqual([1, 1000, 2, 2000]);
  });

  it('never runs past the deadline: pauses are cut and budgets capped, the last attempt still gets its minimum', async () => {
    const { clock, advance, at } = fakeClock();
    const budgets: Array<[number, number]> = [];
    const r = await untilPassed({
      attempt: async (budget) => {
        budgets.push([at(), budget]);
        advance(budget); // every attempt uses all the time it is given (a frontend that never answers)
        return false;
      },
      passed: (x) => x,
      waitMs: 20_000,
      timeoutMs: 5_000,
      signal: new AbortController().signal,
      clock,
    });
    expect(r.timedOut).toBe(true);
    expect(r.attempts).toBeGreaterThanOrEqual(2);
    for (const [start, budget] of budgets) expect(start + budget).toBeLessThanOrEqual(20_000);
    expect(at()).toBeLessThanOrEqual(20_000);
    const last = budgets.at(-1) as [number, number];
    expect(last[1]).toBeGreaterThanOrEqual(MIN_ATTEMPT_MS);
  });

  it('wakes from a pause when interrupted', async () => {
    const controller = new AbortController();
    const pending = untilPassed({
      attempt: async () => false,
      passed: (x) => x,
      waitMs: 3_600_000,
      timeoutMs: 10_000,
      signal: controller.signal,
      onRetry: () => setImmediate(() => controller.abort(new Error('interrupted'))),
    });
    await expect(pending).rejects.toThrow('interrupted');
  });
});

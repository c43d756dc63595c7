import { describe, expect, it } from 'vitest';
import { limiter, mapLimit } from '../../pipeline/concurrency.js';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves after `n` turns of the microtask queue. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

describe('limiter', () => {
  it('never runs more than its limit, even for a call that arrives as a slot is handed on', async () => {
    // A newcomer can arrive at any microtask turn after a call finishes; try each of the first few.
    for (let delay = 0; delay < 8; delay++) {
      const limit = limiter(1);
      let active = 0;
      let most = 0;
      const job = (work: Promise<unknown>) =>
        limit(async () => {
          active += 1;
          most = Math.max(most, active);
          await work;
          active -= 1;
        });
      let finish = () => {};
      const first = job(new Promise<void>((resolve) => (finish = resolve)));
      const waiting = job(tick(1));
      finish();
      await turns(delay);
      await Promise.all([first, waiting, job(tick(1))]);
      expect(most, `newcomer after ${delay} turns`).toBe(1);
    }
  });
});

describe('mapLimit', () => {
  it('keeps the input order whatever order the calls finish in', async () => {
    const out = await mapLimit([30, 10, 20], 2, async (ms) => {
      await tick(ms);
      return ms;
    });
    expect(out).toEqual([30, 10, 20]);
  });
});

/** Time, as the wait loop sees it; tests pass a fake one. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal.reason);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    }),
};

/** The pause after attempt n (1-based): 1 s, 2 s, 4 s … at most 30 s. */
export function backoffMs(attempt: number): number {
  return Math.min(1000 * 2 ** (attempt - 1), 30_000);
}

/** The shortest time budget worth starting another attempt with. */
export const MIN_ATTEMPT_MS = 1000;

export interface WaitOptions<T> {
  /** One attempt; `budgetMs` is what is left of the wait (each connection's timeout is capped by it). */
  attempt: (budgetMs: number) => Promise<T>;
  passed: (result: T) => boolean;
  /** 0: one attempt, no waiting. */
  waitMs: number;
  /** The longest one connection may take, whatever the budget. */
  timeoutMs: number;
  signal: AbortSignal;
  clock?: Clock;
  /** After each failed attempt that will be retried, with the pause before the next. */
  onRetry?: (result: T, attempt: number, nextInMs: number) => void;
}

export interface WaitResult<T> {
  result: T;
  attempts: number;
  /** The wait ran out with the last attempt still failing. */
  timedOut: boolean;
}

/**
 * Attempts until one passes or the wait is over, pausing with backoff in between. Nothing runs
 * past the deadline: the pause before the last attempt is cut so that it still gets
 * MIN_ATTEMPT_MS, and an attempt's budget never reaches beyond the deadline. Ctrl-C (the
 * signal) ends a pause at once.
 */
export async function untilPassed<T>(o: WaitOptions<T>): Promise<WaitResult<T>> {
  const clock = o.clock ?? realClock;
  const deadline = o.waitMs > 0 ? clock.now() + o.waitMs : null;
  for (let attempt = 1; ; attempt++) {
    o.signal.throwIfAborted();
    const budget = deadline === null ? o.timeoutMs : Math.min(o.timeoutMs, deadline - clock.now());
    const result = await o.attempt(Math.max(budget, 1));
    if (o.passed(result) || deadline === null) return { result, attempts: attempt, timedOut: false };
    const now = clock.now();
    const wake = Math.min(now + backoffMs(attempt), deadline - MIN_ATTEMPT_MS);
    if (wake <= now) return { result, attempts: attempt, timedOut: true };
    o.onRetry?.(result, attempt, wake - now);
    await clock.sleep(wake - now, o.signal);
  }
}

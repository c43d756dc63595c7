import type Database from 'better-sqlite3';

interface Pending {
  task: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Commits the writes of the deliveries that arrive together in one transaction, so one fsync
 * (about a millisecond, on the event loop) covers them all instead of one each; every caller's
 * promise settles only once that transaction is on disk. Each write runs in a savepoint of its
 * own: one that throws (a delivery id stored meanwhile) is undone alone.
 */
export class GroupCommit {
  private pending: Pending[] = [];

  constructor(private readonly db: Database.Database) {}

  run<T>(task: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ task, resolve: resolve as (value: unknown) => void, reject });
      if (this.pending.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    const results: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    try {
      this.db
        .transaction(() => {
          for (const item of batch) {
            try {
              results.push({ ok: true, value: this.db.transaction(item.task)() });
            } catch (error) {
              results.push({ ok: false, error });
            }
          }
        })
        .immediate();
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    batch.forEach((item, i) => {
      const result = results[i];
      if (result?.ok) item.resolve(result.value);
      else item.reject(result?.error);
    });
  }
}

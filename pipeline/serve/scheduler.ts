import type { RunExecutor, RunOutcome } from './execute.js';
import type { Store } from './store.js';

/**
 * Starts queued runs, oldest first, at most `concurrency` at once and one per branch: a
 * branch's newer pushes wait (folded into one queued run) while its run goes on.
 */
export class Scheduler {
  private readonly active = new Map<number, { branch: string; done: Promise<RunOutcome> }>();
  private readonly abort = new AbortController();
  private stopping = false;

  constructor(
    private readonly store: Store,
    private readonly executor: RunExecutor,
    private readonly concurrency: number,
  ) {}

  /** Starts what can start now; called after every accepted push and every finished run. */
  poke(): void {
    if (this.stopping) return;
    const busy = new Set([...this.active.values()].map((a) => a.branch));
    for (const next of this.store.queued()) {
      if (this.active.size >= this.concurrency) return;
      if (busy.has(next.branch) || !this.store.start(next.id)) continue;
      busy.add(next.branch);
      const run = this.store.run(next.id) ?? next;
      const done = this.executor.execute(run, this.abort.signal).finally(() => {
        this.active.delete(run.id);
        this.poke();
      });
      this.active.set(run.id, { branch: run.branch, done });
    }
  }

  /** Runs in progress, by id. */
  activeRuns(): number[] {
    return [...this.active.keys()];
  }

  /**
   * Starts nothing more and lets the runs in progress finish within `graceMs`; then stops them
   * (they are recorded interrupted and queued again for the next start).
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    const all = Promise.allSettled([...this.active.values()].map((a) => a.done));
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'late'>((r) => {
      timer = setTimeout(() => r('late'), graceMs);
    });
    if ((await Promise.race([all, grace])) === 'late') this.abort.abort(new Error('the grace period ended'));
    clearTimeout(timer);
    await all;
  }
}

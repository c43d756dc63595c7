import Database from 'better-sqlite3';
import type { ProviderName } from './providers.js';

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'interrupted' | 'cancelled';

export type DeliveryOutcome = 'queued' | 'ignored' | 'deleted' | 'ping';

export interface StepTiming {
  name: string;
  status: string; // running, ok, failed, skipped, planned
  ms: number | null;
}

export interface Run {
  id: number;
  branch: string;
  commit: string;
  message: string;
  repository: string | null;
  status: RunStatus;
  /** 1, or 2 for the one retry of an interrupted run. */
  attempt: number;
  retryOf: number | null;
  /** Pushes folded into this run (a newer push replaces the commit of a queued run). */
  pushes: number;
  queuedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  steps: StepTiming[];
  error: string | null;
  tags: string[];
  digest: string | null;
}

export interface Delivery {
  id: number;
  provider: ProviderName;
  deliveryId: string;
  event: string;
  branch: string | null;
  commit: string | null;
  outcome: DeliveryOutcome;
  runId: number | null;
  receivedAt: string;
}

interface RunRow {
  id: number;
  branch: string;
  commit_sha: string;
  message: string;
  repository: string | null;
  status: RunStatus;
  attempt: number;
  retry_of: number | null;
  pushes: number;
  queued_at: string;
  started_at: string | null;
  finished_at: string | null;
  steps: string;
  error: string | null;
  tags: string;
  digest: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS deliveries (
  id INTEGER PRIMARY KEY,
  provider TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  event TEXT NOT NULL,
  branch TEXT,
  commit_sha TEXT,
  outcome TEXT NOT NULL,
  run_id INTEGER,
  received_at TEXT NOT NULL,
  UNIQUE (provider, delivery_id)
);
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY,
  branch TEXT NOT NULL,
  commit_sha TEXT NOT NULL,
  message TEXT NOT NULL,
  repository TEXT,
  status TEXT NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 1,
  retry_of INTEGER,
  pushes INTEGER NOT NULL DEFAULT 1,
  queued_at TEXT NOT NULL,
  started_at TEXT,
  finished_at TEXT,
  steps TEXT NOT NULL DEFAULT '[]',
  error TEXT,
  tags TEXT NOT NULL DEFAULT '[]',
  digest TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, branch);
`;

function toRun(row: RunRow): Run {
  return {
    id: row.id,
    branch: row.branch,
    commit: row.commit_sha,
    message: row.message,
    repository: row.repository,
    status: row.status,
    attempt: row.attempt,
    retryOf: row.retry_of,
    pushes: row.pushes,
    queuedAt: row.queued_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    steps: JSON.parse(row.steps) as StepTiming[],
    error: row.error,
    tags: JSON.parse(row.tags) as string[],
    digest: row.digest,
  };
}

const now = () => new Date().toISOString();

export interface PushDelivery {
  provider: ProviderName;
  deliveryId: string;
  branch: string;
  commit: string;
  message: string;
  repository: string | null;
}

/**
 * Deliveries, the queue and the run history in one SQLite file. WAL with synchronous=FULL: a
 * transaction is on disk when its call returns, so a 202 sent after it names a delivery a
 * crash cannot lose.
 */
export class Store {
  readonly db: Database.Database;
  private readonly statements;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    const db = this.db;
    this.statements = {
      hasDelivery: db.prepare('SELECT 1 FROM deliveries WHERE provider = ? AND delivery_id = ?'),
      insertDelivery: db.prepare(
        `INSERT INTO deliveries (provider, delivery_id, event, branch, commit_sha, outcome, run_id, received_at)
         VALUES (@provider, @deliveryId, @event, @branch, @commit, @outcome, @runId, @receivedAt)`,
      ),
      queuedFor: db.prepare("SELECT id FROM runs WHERE branch = ? AND status = 'queued'"),
      fold: db.prepare(
        'UPDATE runs SET commit_sha = @commit, message = @message, repository = @repository, pushes = pushes + 1 WHERE id = @id',
      ),
      insertRun: db.prepare(
        `INSERT INTO runs (branch, commit_sha, message, repository, status, attempt, retry_of, pushes, queued_at)
         VALUES (@branch, @commit, @message, @repository, 'queued', @attempt, @retryOf, @pushes, @queuedAt)`,
      ),
      run: db.prepare('SELECT * FROM runs WHERE id = ?'),
      runs: db.prepare('SELECT * FROM runs ORDER BY id DESC LIMIT ?'),
      runsWithStatus: db.prepare('SELECT * FROM runs WHERE status = ? ORDER BY id'),
      queued: db.prepare("SELECT * FROM runs WHERE status = 'queued' ORDER BY id"),
      start: db.prepare(
        "UPDATE runs SET status = 'running', started_at = ? WHERE id = ? AND status = 'queued'",
      ),
      steps: db.prepare('UPDATE runs SET steps = ? WHERE id = ?'),
      finish: db.prepare(
        'UPDATE runs SET status = @status, finished_at = @finishedAt, error = @error, tags = @tags, digest = @digest WHERE id = @id',
      ),
      cancelQueued: db.prepare(
        "UPDATE runs SET status = 'cancelled', finished_at = ?, error = ? WHERE branch = ? AND status = 'queued'",
      ),
      queueDepth: db.prepare("SELECT count(*) AS n FROM runs WHERE status = 'queued'"),
      deliveries: db.prepare('SELECT * FROM deliveries ORDER BY id'),
    };
  }

  hasDelivery(provider: ProviderName, deliveryId: string): boolean {
    return this.statements.hasDelivery.get(provider, deliveryId) !== undefined;
  }

  /**
   * Records a push and queues its branch's run: a run already queued for the branch takes the
   * newer commit (the one running is left to finish). Returns the run that will build it.
   */
  readonly acceptPush = (push: PushDelivery): number =>
    this.db
      .transaction((p: PushDelivery) => {
        const queued = this.statements.queuedFor.get(p.branch) as { id: number } | undefined;
        let runId: number;
        if (queued) {
          this.statements.fold.run({ ...p, id: queued.id });
          runId = queued.id;
        } else {
          runId = Number(
            this.statements.insertRun.run({ ...p, attempt: 1, retryOf: null, pushes: 1, queuedAt: now() })
              .lastInsertRowid,
          );
        }
        this.insertDelivery(p, 'push', 'queued', runId);
        return runId;
      })
      .immediate(push);

  /** A delivery that queues nothing: an ignored branch, a deletion (which cancels a queued run), a ping. */
  recordDelivery(
    d: { provider: ProviderName; deliveryId: string; branch?: string | null; commit?: string | null },
    event: string,
    outcome: Exclude<DeliveryOutcome, 'queued'>,
  ): void {
    this.db
      .transaction(() => {
        if (outcome === 'deleted' && d.branch) {
          this.statements.cancelQueued.run(now(), 'the branch was deleted', d.branch);
        }
        this.insertDelivery(d, event, outcome, null);
      })
      .immediate();
  }

  private insertDelivery(
    d: { provider: ProviderName; deliveryId: string; branch?: string | null; commit?: string | null },
    event: string,
    outcome: DeliveryOutcome,
    runId: number | null,
  ): void {
    this.statements.insertDelivery.run({
      provider: d.provider,
      deliveryId: d.deliveryId,
      event,
      branch: d.branch ?? null,
      commit: d.commit ?? null,
      outcome,
      runId,
      receivedAt: now(),
    });
  }

  run(id: number): Run | null {
    const row = this.statements.run.get(id) as RunRow | undefined;
    return row ? toRun(row) : null;
  }

  /** Newest first. */
  runs(limit = 100): Run[] {
    return (this.statements.runs.all(limit) as RunRow[]).map(toRun);
  }

  running(): Run[] {
    return (this.statements.runsWithStatus.all('running') as RunRow[]).map(toRun);
  }

  queued(): Run[] {
    return (this.statements.queued.all() as RunRow[]).map(toRun);
  }

  /** Claims a queued run; false when it is no longer queued. */
  start(id: number): boolean {
    return this.statements.start.run(now(), id).changes === 1;
  }

  setSteps(id: number, steps: readonly StepTiming[]): void {
    this.statements.steps.run(JSON.stringify(steps), id);
  }

  finish(
    id: number,
    status: Exclude<RunStatus, 'queued' | 'running'>,
    result: { error?: string | null; tags?: readonly string[]; digest?: string | null } = {},
  ): void {
    this.statements.finish.run({
      id,
      status,
      finishedAt: now(),
      error: result.error ?? null,
      tags: JSON.stringify(result.tags ?? []),
      digest: result.digest ?? null,
    });
  }

  /**
   * Marks a run interrupted (the server stopped or was killed during it) and queues it again,
   * once: a run that was already a retry is not retried again, and a branch with a newer push
   * queued builds that instead.
   */
  interrupt(id: number, why: string): Run | null {
    return this.db
      .transaction(() => {
        const run = this.run(id);
        if (!run) return null;
        this.finish(id, 'interrupted', { error: why });
        if (run.attempt > 1 || this.statements.queuedFor.get(run.branch)) return null;
        const retryId = Number(
          this.statements.insertRun.run({
            branch: run.branch,
            commit: run.commit,
            message: run.message,
            repository: run.repository,
            attempt: run.attempt + 1,
            retryOf: run.id,
            pushes: 0,
            queuedAt: now(),
          }).lastInsertRowid,
        );
        return this.run(retryId);
      })
      .immediate();
  }

  queueDepth(): number {
    return (this.statements.queueDepth.get() as { n: number }).n;
  }

  deliveries(): Delivery[] {
    return (this.statements.deliveries.all() as Array<Record<string, unknown>>).map((r) => ({
      id: r.id as number,
      provider: r.provider as ProviderName,
      deliveryId: r.delivery_id as string,
      event: r.event as string,
      branch: r.branch as string | null,
      commit: r.commit_sha as string | null,
      outcome: r.outcome as DeliveryOutcome,
      runId: r.run_id as number | null,
      receivedAt: r.received_at as string,
    }));
  }

  close(): void {
    this.db.close();
  }
}

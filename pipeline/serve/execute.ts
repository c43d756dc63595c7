import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { branchDirName } from '../branches.js';
import { loadConfig } from '../config.js';
import { toSitepipeError } from '../errors.js';
import { type Owner, ownerIsDead } from '../state-lock.js';
import type { Checkouts } from './checkout.js';
import type { GithubStatuses } from './github-status.js';
import type { ServeMetrics } from './metrics.js';
import type { KeyedMutex } from './mutex.js';
import type { Redactor } from './secrets.js';
import type { Run, StepTiming, Store } from './store.js';

export type RunOutcome = 'succeeded' | 'failed' | 'interrupted';

export interface ExecutorOptions {
  store: Store;
  checkouts: Checkouts;
  dataDir: string;
  /** The sitepipe config's path inside the repository. */
  configInRepo: string;
  redactor: Redactor;
  metrics: ServeMetrics;
  statuses: GithubStatuses | null;
  runUrl: (id: number) => string;
  /** The environment runs get: the server's, without its own secrets. */
  childEnv: NodeJS.ProcessEnv;
  deployLocks: KeyedMutex;
  /** The server's own log. */
  log: (line: string) => void;
}

/** How the child entry is started: compiled JS, or the TypeScript source through tsx (tests, dev). */
function childCommand(): string[] {
  const here = fileURLToPath(import.meta.url);
  if (!here.endsWith('.ts')) return [join(dirname(here), 'child.js')];
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return ['--import', tsx, join(dirname(here), 'child.ts')];
}

export function logPath(dataDir: string, id: number): string {
  return join(dataDir, 'logs', `run-${id}.log`);
}

/** NDJSON events of the child, as the plain lines `sitepipe run` prints. */
function eventLine(e: Record<string, unknown>): string | null {
  const step = String(e.step ?? '');
  switch (e.event) {
    case 'step-start':
      return `[${step}] ${String(e.description ?? '')}`;
    case 'step-end':
      return `[${step}] ${String(e.status)} in ${(Number(e.ms) / 1000).toFixed(1)}s${e.summary ? `: ${String(e.summary)}` : ''}`;
    case 'log':
      return `[${step}] ${e.level === 'warn' ? 'warning: ' : ''}${String(e.message ?? '')}`;
    case 'result':
      return `pushed ${((e.tags as string[] | undefined) ?? []).map((t) => `${String(e.repository)}:${t}`).join(', ')}\ndigest: ${String(e.digest)}`;
    case 'error':
      return [
        `error[${String(e.code)}]: ${String(e.message)}`,
        ...((e.details as string[] | undefined) ?? []).map((d) => `  ${d}`),
        `  hint: ${String(e.hint)}`,
      ].join('\n');
    default:
      return null;
  }
}

/** The deploy target a run's config rolls out to, so two runs that deploy it never overlap. */
async function deployTarget(configFile: string): Promise<string | null> {
  try {
    const { config } = await loadConfig(configFile);
    const d = config.deploy;
    return d ? JSON.stringify(d) : null;
  } catch {
    return null; // the run itself reports the config's problems
  }
}

/**
 * A run of a killed server keeps its state locks until it notices (its stdin closes) and stops:
 * the retry waits for that rather than failing STATE_DIR_BUSY.
 */
async function waitForLockHolders(stateDir: string, signal: AbortSignal): Promise<void> {
  const dir = join(stateDir, 'locks');
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && !signal.aborted) {
    const files = await readdir(dir).catch(() => [] as string[]);
    const owners = await Promise.all(
      files
        .filter((f) => f.endsWith('.lock'))
        .map((f) =>
          readFile(join(dir, f), 'utf8').then(
            (t) => JSON.parse(t) as Owner,
            () => null,
          ),
        ),
    );
    if (owners.every((o) => o === null || o.pid === process.pid || ownerIsDead(o))) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

export class RunExecutor {
  constructor(private readonly o: ExecutorOptions) {}

  /** Runs one claimed run to its end and records the outcome; never throws. */
  async execute(run: Run, signal: AbortSignal): Promise<RunOutcome> {
    const { o } = this;
    const started = Date.now();
    await mkdir(join(o.dataDir, 'logs'), { recursive: true });
    const log = createWriteStream(logPath(o.dataDir, run.id), { flags: 'a' });
    const write = (line: string) => log.write(`${o.redactor.redact(line)}\n`);
    const what = `${run.branch} at ${run.commit.slice(0, 12)}${run.retryOf ? ` (retry of run ${run.retryOf})` : ''}`;
    o.log(`run ${run.id} started: ${what}`);
    write(
      `run ${run.id}: ${run.branch} at ${run.commit}${run.retryOf ? ` (retry of run ${run.retryOf})` : ''}`,
    );
    await this.status(run, 'pending', 'building', write);
    let worktree: string | null = null;
    let outcome: RunOutcome;
    let result: { error?: string | null; tags?: string[]; digest?: string | null } = {};
    try {
      worktree = await o.checkouts.checkout(run.id, run.branch, run.commit, signal);
      write(`checked out ${run.commit} in a fresh worktree (${Date.now() - started} ms)`);
      const configFile = join(worktree, o.configInRepo);
      const stateDir = join(o.dataDir, 'state', branchDirName(run.branch));
      await waitForLockHolders(stateDir, signal);
      const child = await o.deployLocks.run(await deployTarget(configFile), () =>
        this.runChild(run, worktree as string, configFile, stateDir, log, signal),
      );
      outcome = child.outcome;
      result = child.result;
    } catch (e) {
      const error = toSitepipeError(e);
      outcome = signal.aborted ? 'interrupted' : 'failed';
      result = { error: o.redactor.redact(`${error.code}: ${error.message}`) };
      write(`error[${error.code}]: ${error.message}\n  hint: ${error.hint}`);
    } finally {
      if (worktree) {
        const removing = Date.now();
        await o.checkouts.remove(worktree).catch((e: Error) => write(`warning: ${e.message}`));
        write(`removed the worktree (${Date.now() - removing} ms)`);
      }
    }
    const seconds = (Date.now() - started) / 1000;
    write(`run ${run.id} ${outcome} in ${seconds.toFixed(1)}s`);
    o.log(`run ${run.id} ${outcome} in ${seconds.toFixed(1)}s${result.error ? `: ${result.error}` : ''}`);
    await new Promise((r) => log.end(r));
    if (outcome === 'interrupted') {
      o.store.interrupt(run.id, result.error ?? 'the server stopped during the run');
    } else o.store.finish(run.id, outcome, result);
    o.metrics.runs.inc({ outcome });
    o.metrics.runDuration.observe({ outcome }, seconds);
    if (outcome !== 'interrupted') {
      await this.status(run, outcome === 'succeeded' ? 'success' : 'failure', outcome, () => undefined);
    }
    return outcome;
  }

  private async status(
    run: Run,
    state: 'pending' | 'success' | 'failure',
    description: string,
    write: (line: string) => void,
  ): Promise<void> {
    const { statuses } = this.o;
    if (!statuses || !run.repository) return;
    try {
      await statuses.set(
        run.repository,
        run.commit,
        state,
        this.o.runUrl(run.id),
        `sitepipe: ${description}`,
      );
    } catch (e) {
      const message = this.o.redactor.redact((e as Error).message);
      write(`warning: ${message}`);
      this.o.log(`run ${run.id}: warning: ${message}`);
    }
  }

  private runChild(
    run: Run,
    worktree: string,
    configFile: string,
    stateDir: string,
    log: WriteStream,
    signal: AbortSignal,
  ): Promise<{
    outcome: RunOutcome;
    result: { error?: string | null; tags?: string[]; digest?: string | null };
  }> {
    const { o } = this;
    const write = (line: string) => log.write(`${o.redactor.redact(line)}\n`);
    const child: ChildProcess = spawn(process.execPath, [...childCommand(), configFile, stateDir], {
      cwd: worktree,
      env: { ...o.childEnv, BRANCH_NAME: run.branch },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const steps: StepTiming[] = [];
    let error: string | null = null;
    let pushed: { tags: string[]; digest: string } | null = null;
    const onEvent = (e: Record<string, unknown>) => {
      const name = String(e.step ?? '');
      if (e.event === 'step-start') steps.push({ name, status: 'running', ms: null });
      if (e.event === 'step-end') {
        const step = steps.find((s) => s.name === name && s.status === 'running');
        if (step) Object.assign(step, { status: String(e.status), ms: Number(e.ms) });
        else steps.push({ name, status: String(e.status), ms: Number(e.ms) });
      }
      if (e.event === 'step-start' || e.event === 'step-end') o.store.setSteps(run.id, steps);
      if (e.event === 'error') error = o.redactor.redact(`${String(e.code)}: ${String(e.message)}`);
      if (e.event === 'result') pushed = { tags: e.tags as string[], digest: String(e.digest) };
    };
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      try {
        const event = JSON.parse(line) as Record<string, unknown>;
        onEvent(event);
        const text = eventLine(event);
        if (text !== null) write(text);
      } catch {
        write(line);
      }
    });
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => write(line));
    // The grace period is over: the child stops as `sitepipe run` does on SIGTERM.
    const onAbort = () => child.kill('SIGTERM');
    signal.addEventListener('abort', onAbort, { once: true });
    return new Promise((resolve) => {
      child.on('error', (e) => {
        error = `SERVE_CHILD_FAILED: ${e.message}`;
      });
      child.on('close', (code, killedBy) => {
        signal.removeEventListener('abort', onAbort);
        const finished = pushed as { tags: string[]; digest: string } | null;
        if (code === 0) {
          resolve({
            outcome: 'succeeded',
            result: { tags: finished?.tags ?? [], digest: finished?.digest ?? null },
          });
        } else if (signal.aborted) {
          resolve({ outcome: 'interrupted', result: { error: error ?? 'interrupted: the server stopped' } });
        } else {
          const why = killedBy
            ? `the run's process was killed by ${killedBy}`
            : `the run exited with ${code}`;
          resolve({ outcome: 'failed', result: { error: error ?? why } });
        }
      });
    });
  }
}

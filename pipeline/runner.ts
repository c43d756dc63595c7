import { SitepipeError, toSitepipeError } from './errors.js';
import type { Reporter } from './output.js';
import type { Outputs, StepName } from './records.js';
import { readRecord, removeRecord, writeRecord } from './state.js';
import { lockSteps } from './state-lock.js';
import { dependencies, type Pending, type RunContext, type Step } from './step.js';

export type AnyStep = Step<StepName, StepName, StepName>;

export interface RunOptions {
  /** The whole pipeline, in order. */
  pipeline: readonly AnyStep[];
  /** Steps to run; all when empty. Outputs of steps not run are read from their records. */
  only: readonly string[];
  reporter: Reporter;
  /** The context without a step's log and afterRun; the runner gives each step its own. */
  context: Omit<RunContext, 'log' | 'afterRun'>;
}

export function selectSteps(pipeline: readonly AnyStep[], only: readonly string[]): AnyStep[] {
  const unknown = only.filter((name) => !pipeline.some((s) => s.name === name));
  if (unknown.length > 0) {
    throw new SitepipeError(
      'UNKNOWN_STEP',
      `unknown step(s): ${unknown.join(', ')}`,
      `steps are: ${pipeline.map((s) => s.name).join(', ')}`,
    );
  }
  return only.length === 0 ? [...pipeline] : pipeline.filter((s) => only.includes(s.name));
}

/** Runs every selected step's read-only checks together and reports all problems at once. */
async function preflight(steps: readonly AnyStep[], ctx: RunContext): Promise<void> {
  const results = await Promise.allSettled(steps.map((s) => s.preflight?.(ctx)));
  const problems = results.flatMap((r) => (r.status === 'rejected' ? [toSitepipeError(r.reason)] : []));
  const [first] = problems;
  if (!first) return;
  if (problems.length === 1) throw first;
  throw new SitepipeError(
    'PREFLIGHT_FAILED',
    `${problems.length} problems found before anything was changed`,
    'fix each one listed, then run again',
    problems.flatMap((p) => [`[${p.code}] ${p.message}`, `    hint: ${p.hint}`]),
  );
}

/** What a step left for the steps after it: its output, or why there is none. */
type Result = { produced: true; output: unknown } | { produced: false };

/** A step that did not run because another failed; only the first failure is reported as such. */
class Stopped extends Error {}

/**
 * Runs the selected steps, each as soon as the steps it needs are done (independent steps
 * at the same time), threading each one's output to the steps that need it and writing it
 * as a record. Under --dry-run, mutating steps only say what they would do, and steps that
 * need their output are skipped. The first failure stops the steps still running and is
 * what the run throws.
 */
export async function runPipeline(opts: RunOptions): Promise<Partial<Outputs>> {
  const steps = selectSteps(opts.pipeline, opts.only);
  const lock = await lockSteps(
    opts.context.stateDir,
    steps.map((s) => s.name),
    `sitepipe run ${opts.only.join(' ')}`.trim(),
  );
  try {
    return await runSteps(opts, steps);
  } finally {
    await lock.release();
  }
}

async function runSteps(opts: RunOptions, steps: readonly AnyStep[]): Promise<Partial<Outputs>> {
  const { reporter } = opts;
  const housekeeping: Array<{ step: string; task: () => Promise<void> }> = [];
  const ctxFor = (name: string, signal = opts.context.signal): RunContext => ({
    ...opts.context,
    signal,
    log: reporter.logFor(name),
    afterRun: (task) => housekeeping.push({ step: name, task }),
  });
  await preflight(steps, ctxFor('preflight'));

  const stop = new AbortController();
  const signal = AbortSignal.any([opts.context.signal, stop.signal]);
  let failure: { step: string; error: unknown } | null = null;

  const tasks = new Map<StepName, Promise<Result>>();
  const records = new Map<StepName, Promise<Result>>();
  /** This run's result for a step, else its record from an earlier run (read once). */
  const resultOf = (name: StepName): Promise<Result> => {
    const task = tasks.get(name);
    if (task) return task;
    let record = records.get(name);
    if (!record) {
      record = readRecord(opts.context.stateDir, name).then((output) => ({ produced: true, output }));
      records.set(name, record);
    }
    return record;
  };

  /** The first failure stops the others: steps still running see their signal abort. */
  const fail = (step: string, error: unknown): never => {
    if (failure || error instanceof Stopped) throw new Stopped();
    failure = { step, error };
    stop.abort(error);
    throw error;
  };

  const execute = async (step: AnyStep): Promise<Result> => {
    const needed = await Promise.all(step.needs.map(resultOf)).catch((e: unknown) => fail(step.name, e));
    if (signal.aborted) return fail(step.name, signal.reason);
    const ctx = ctxFor(step.name, signal);
    const started = Date.now();
    reporter.stepStarted(step.name, step.description);
    try {
      const missing = step.needs.filter((_, i) => !needed[i]?.produced);
      if (ctx.dryRun && step.mutates) {
        const known = await knownOutputs(dependencies(step), resultOf);
        reporter.stepFinished(
          step.name,
          'planned',
          0,
          `would ${step.plan?.(ctx, known) ?? step.description}`,
        );
        return { produced: false };
      }
      if (missing.length > 0) {
        reporter.stepFinished(
          step.name,
          'skipped',
          0,
          `needs ${missing.join(', ')}, not produced in a dry run`,
        );
        return { produced: false };
      }
      const inputs = Object.fromEntries(
        step.needs.map((n, i) => [n, (needed[i] as { output: unknown }).output]),
      );
      const sameCommit = oneCommit(step.name, inputs);
      const pending = Object.fromEntries(
        (step.awaits ?? []).map((n) => [n, outputOf(n, resultOf, sameCommit)]),
      );
      // A step that fails or is killed leaves no record: what it made before is not its output now.
      await removeRecord(ctx.stateDir, step.name);
      const output = await step.run(ctx, inputs as Outputs, pending as Pending<StepName>);
      await writeRecord(ctx.stateDir, step.name, output);
      reporter.stepFinished(step.name, 'ok', Date.now() - started, step.summarize?.(output) ?? '');
      return { produced: true, output };
    } catch (e) {
      const first = failure as { step: string } | null;
      if (first || e instanceof Stopped) {
        const why = first ? `stopped: ${first.step} failed` : 'stopped';
        reporter.stepFinished(step.name, 'skipped', Date.now() - started, why);
      } else reporter.stepFinished(step.name, 'failed', Date.now() - started);
      return fail(step.name, e);
    }
  };

  for (const step of steps) tasks.set(step.name, execute(step));
  const settled = await Promise.allSettled(tasks.values());
  await Promise.all(
    housekeeping.map(({ step, task }) =>
      task().catch((e: Error) => reporter.warn(step, `clean-up after the run failed: ${e.message}`)),
    ),
  );
  if (failure) throw (failure as { error: unknown }).error;
  const outputs: Partial<Record<StepName, unknown>> = {};
  [...tasks.keys()].forEach((name, i) => {
    const result = settled[i];
    if (result?.status === 'fulfilled' && result.value.produced) outputs[name] = result.value.output;
  });
  return outputs as Partial<Outputs>;
}

/**
 * Checks that the inputs carrying a commit all carry the same one: a record an earlier run left
 * (of another commit, or of a step that has run again since) must never be mixed into this
 * commit's image or tags. Returns a check for inputs that arrive later.
 */
function oneCommit(step: string, inputs: Record<string, unknown>): (name: string, output: unknown) => void {
  const seen = new Map<string, string>();
  const check = (name: string, output: unknown) => {
    const commit = (output as { commit?: unknown } | null)?.commit;
    if (typeof commit !== 'string') return;
    const [other] = [...seen].filter(([, c]) => c !== commit);
    seen.set(name, commit);
    if (!other) return;
    throw new SitepipeError(
      'RECORD_STALE',
      `${step} would combine the ${other[0]} record of commit ${other[1].slice(0, 12)} with the ${name} record of commit ${commit.slice(0, 12)}`,
      `a record from an earlier run is left in the state dir; run the steps for this commit again, e.g. \`sitepipe run ${[other[0], name].join(' ')} ${step}\``,
    );
  };
  for (const [name, output] of Object.entries(inputs)) check(name, output);
  return check;
}

/** A promise of a step's output that the step may never await, so its failure is not unhandled. */
function outputOf(
  name: StepName,
  resultOf: (name: StepName) => Promise<Result>,
  check: (name: string, output: unknown) => void,
): Promise<unknown> {
  const output = resultOf(name).then((r) => {
    if (!r.produced) throw new Stopped(`${name} produced nothing in this dry run`);
    check(name, r.output);
    return r.output;
  });
  output.catch(() => undefined);
  return output;
}

/** The outputs among `names` that exist (from this run or a record); for a dry run's plan. */
async function knownOutputs(
  names: readonly StepName[],
  resultOf: (name: StepName) => Promise<Result>,
): Promise<Partial<Outputs>> {
  const known: Partial<Record<StepName, unknown>> = {};
  for (const name of names) {
    const result = await resultOf(name);
    if (result.produced) known[name] = result.output;
  }
  return known as Partial<Outputs>;
}

import { SitepipeError, toSitepipeError } from './errors.js';
import type { Reporter } from './output.js';
import type { Outputs, StepName } from './records.js';
import { readRecord, writeRecord } from './state.js';
import type { RunContext, Step } from './step.js';

export type AnyStep = Step<StepName, StepName>;

export interface RunOptions {
  /** The whole pipeline, in order. */
  pipeline: readonly AnyStep[];
  /** Steps to run; all when empty. Outputs of steps not run are read from their records. */
  only: readonly string[];
  reporter: Reporter;
  /** The context without a step's log; the runner gives each step its own. */
  context: Omit<RunContext, 'log'>;
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

/**
 * Runs the selected steps in pipeline order, threading each one's output to the steps that
 * need it and writing it as a record. Under --dry-run, mutating steps only say what they
 * would do, and steps that need their output are skipped.
 */
export async function runPipeline(opts: RunOptions): Promise<Partial<Outputs>> {
  const { reporter } = opts;
  const steps = selectSteps(opts.pipeline, opts.only);
  const ctxFor = (name: string): RunContext => ({ ...opts.context, log: reporter.logFor(name) });
  await preflight(steps, ctxFor('preflight'));

  const outputs: Partial<Record<StepName, unknown>> = {};
  const notProduced = new Set<StepName>();
  for (const step of steps) {
    const ctx = ctxFor(step.name);
    const started = Date.now();
    reporter.stepStarted(step.name, step.description);
    const missing = step.needs.filter((n) => notProduced.has(n));
    if (ctx.dryRun && step.mutates) {
      notProduced.add(step.name);
      const known = await gatherInputs(step, outputs, ctx.stateDir, notProduced);
      reporter.stepFinished(step.name, 'planned', 0, `would ${step.plan?.(ctx, known) ?? step.description}`);
      continue;
    }
    if (missing.length > 0) {
      notProduced.add(step.name);
      reporter.stepFinished(
        step.name,
        'skipped',
        0,
        `needs ${missing.join(', ')}, not produced in a dry run`,
      );
      continue;
    }
    const inputs = (await gatherInputs(step, outputs, ctx.stateDir)) as Outputs;
    try {
      const output = await step.run(ctx, inputs);
      outputs[step.name] = output;
      await writeRecord(ctx.stateDir, step.name, output);
      reporter.stepFinished(step.name, 'ok', Date.now() - started, step.summarize?.(output) ?? '');
    } catch (e) {
      reporter.stepFinished(step.name, 'failed', Date.now() - started);
      throw e;
    }
  }
  return outputs as Partial<Outputs>;
}

/** The outputs a step needs: from this run, else from their records (except those `skip` names). */
async function gatherInputs(
  step: AnyStep,
  outputs: Partial<Record<StepName, unknown>>,
  stateDir: string,
  skip: ReadonlySet<StepName> = new Set(),
): Promise<Partial<Outputs>> {
  const inputs: Partial<Record<StepName, unknown>> = {};
  for (const need of step.needs) {
    if (!skip.has(need)) inputs[need] = outputs[need] ?? (await readRecord(stateDir, need));
  }
  return inputs as Partial<Outputs>;
}

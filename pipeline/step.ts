import type { Config } from './config.js';
import type { Outputs, StepName } from './records.js';

/** Where a step says what it is doing; every line passes through secret redaction. */
export interface StepLog {
  info(message: string): void;
  warn(message: string): void;
  /**
   * What the step is doing right now (bytes sent and the rate, pages fetched), shown on a
   * terminal's live line and replaced by the next call; not a log line. Optional for test logs.
   */
  progress?(text: string): void;
  /** Registers a value (token, password) that must never appear in any output. */
  secret(value: string): void;
}

/** What every step gets, whatever stage the run is at. */
export interface RunContext {
  config: Config;
  configPath: string;
  siteDir: string;
  /** Records and the rendered site live here (.sitepipe next to the config by default). */
  stateDir: string;
  /** Downloads and tool installs: $XDG_CACHE_HOME/sitepipe or ~/.cache/sitepipe. */
  cacheDir: string;
  dryRun: boolean;
  allowDirty: boolean;
  signal: AbortSignal;
  log: StepLog;
  /**
   * Housekeeping that must not slow the run down (removing the previous render): it runs once
   * every step has finished, whatever the outcome; a failure there is a warning.
   */
  afterRun(task: () => Promise<void>): void;
  env: NodeJS.ProcessEnv;
}

/** Outputs a step waits for only once it is running. */
export type Pending<K extends StepName> = { readonly [P in K]: Promise<Outputs[P]> };

/**
 * A step is data plus a function. `needs` names the steps whose outputs it reads; the
 * runner starts it once those are done and hands them to `run`, typed. Steps whose needs
 * are met run at the same time.
 */
export interface Step<
  N extends StepName = StepName,
  Needs extends StepName = StepName,
  Awaits extends StepName = never,
> {
  readonly name: N;
  readonly needs: readonly Needs[];
  /**
   * Outputs the step can start without and waits for inside `run`, as promises: render starts
   * Hugo while Pygments is still answering. Where each step is its own process (Cloud Build),
   * they count as needs.
   */
  readonly awaits?: readonly Awaits[];
  /** Changes something outside the state dir and cache (an image, a registry); skipped under --dry-run. */
  readonly mutates: boolean;
  readonly description: string;
  run(ctx: RunContext, inputs: Pick<Outputs, Needs>, pending: Pending<Awaits>): Promise<Outputs[N]>;
  /** Under --dry-run: what the step would have done. Inputs that a dry run did not produce are absent. */
  plan?(ctx: RunContext, inputs: Partial<Pick<Outputs, Needs | Awaits>>): string;
  /**
   * Read-only checks (tools, daemons, registry, credentials) run for every selected step
   * before any step starts, so that all problems are reported together and nothing is
   * half-done. Throws a SitepipeError.
   */
  preflight?(ctx: RunContext): Promise<void>;
  /** A one-line result for the step list. */
  summarize?(output: Outputs[N]): string;
}

/** afterRun outside a pipeline run (a single command, a test): nothing to wait for, so it starts at once. */
export function startNow(log: StepLog): RunContext['afterRun'] {
  return (task) => {
    task().catch((e: Error) => log.warn(`clean-up failed: ${e.message}`));
  };
}

/** Declares a step with its input types inferred from `needs` and `awaits`. */
export function defineStep<
  N extends StepName,
  Needs extends StepName = never,
  Awaits extends StepName = never,
>(step: Step<N, Needs, Awaits>): Step<N, Needs, Awaits> {
  return step;
}

/** Every step whose output this one reads, at start or later. */
export function dependencies(step: Step<StepName, StepName, StepName>): StepName[] {
  return [...step.needs, ...(step.awaits ?? [])];
}

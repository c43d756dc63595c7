import type { Config } from './config.js';
import type { Outputs, StepName } from './records.js';

/** Where a step says what it is doing; every line passes through secret redaction. */
export interface StepLog {
  info(message: string): void;
  warn(message: string): void;
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
  env: NodeJS.ProcessEnv;
}

/**
 * A step is data plus a function. `needs` names the steps whose outputs it reads; the
 * runner hands exactly those to `run`, typed.
 */
export interface Step<N extends StepName = StepName, Needs extends StepName = StepName> {
  readonly name: N;
  readonly needs: readonly Needs[];
  /** Changes something outside the state dir and cache (an image, a registry); skipped under --dry-run. */
  readonly mutates: boolean;
  readonly description: string;
  run(ctx: RunContext, inputs: Pick<Outputs, Needs>): Promise<Outputs[N]>;
  /** Under --dry-run: what the step would have done. Inputs that a dry run did not produce are absent. */
  plan?(ctx: RunContext, inputs: Partial<Pick<Outputs, Needs>>): string;
  /**
   * Read-only checks (tools, daemons, registry, credentials) run for every selected step
   * before any step starts, so that all problems are reported together and nothing is
   * half-done. Throws a SitepipeError.
   */
  preflight?(ctx: RunContext): Promise<void>;
  /** A one-line result for the step list. */
  summarize?(output: Outputs[N]): string;
}

/** Declares a step with its input types inferred from `needs`. */
export function defineStep<N extends StepName, Needs extends StepName = never>(
  step: Step<N, Needs>,
): Step<N, Needs> {
  return step;
}

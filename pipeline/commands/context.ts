import { dirname, join, resolve } from 'node:path';
import { loadConfig } from '../config.js';
import { toSitepipeError } from '../errors.js';
import { type OutputMode, Reporter } from '../output.js';
import { defaultCacheDir } from '../paths.js';
import type { RunContext } from '../step.js';

/** Flags every command that works on a site takes. */
export interface CommonFlags {
  config: string;
  stateDir?: string;
  dryRun?: boolean;
  json?: boolean;
  allowDirty?: boolean;
}

export function outputMode(json: boolean | undefined): OutputMode {
  if (json) return 'json';
  return process.stdout.isTTY && !process.env.CI ? 'tty' : 'plain';
}

export async function runContext(
  flags: CommonFlags,
  signal: AbortSignal,
): Promise<Omit<RunContext, 'log' | 'afterRun'>> {
  const { config, path, siteDir } = await loadConfig(flags.config);
  return {
    config,
    configPath: path,
    siteDir,
    stateDir: resolve(flags.stateDir ?? join(dirname(path), '.sitepipe')),
    cacheDir: defaultCacheDir(process.env),
    dryRun: flags.dryRun ?? false,
    allowDirty: flags.allowDirty ?? false,
    signal,
    env: process.env,
  };
}

/**
 * Runs a command body with a reporter, Ctrl-C as an AbortSignal, and the one top-level
 * catch that prints a SitepipeError; returns the exit code.
 */
export async function withReporter(
  flags: { json?: boolean },
  body: (reporter: Reporter, signal: AbortSignal) => Promise<void>,
): Promise<number> {
  const reporter = new Reporter(outputMode(flags.json), process.stdout, process.stderr);
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    await body(reporter, controller.signal);
    return 0;
  } catch (e) {
    reporter.error(toSitepipeError(e));
    return controller.signal.aborted ? 130 : 1;
  } finally {
    reporter.close();
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
}

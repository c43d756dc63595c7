import { constants } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { loadConfig } from '../config.js';
import { abortedError, exitCodeOf, toSitepipeError } from '../errors.js';
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

/** What stops a command from outside: Ctrl-C, a kill, or its reader closing stdout (as SIGPIPE). */
type Interruption = 'SIGINT' | 'SIGTERM' | 'SIGPIPE';

/** The abort reason of a command stopped from outside. */
class Interrupted extends Error {
  override readonly name = 'AbortError';
  constructor(readonly signal: Interruption) {
    super(`interrupted by ${signal}`);
  }
}

/** The exit code of a process ended by `signal`, as a shell reports it: 130, 143, 141. */
function signalExitCode(signal: Interruption): number {
  return 128 + constants.signals[signal];
}

/** The command in progress, if any: an interruption stops it, and it cleans up before exiting. */
let current: AbortController | null = null;

function interrupt(signal: Interruption): void {
  if (!current) process.exit(signalExitCode(signal)); // nothing to clean up
  if (!current.signal.aborted) current.abort(new Interrupted(signal));
  else if (signal !== 'SIGPIPE') {
    // A second Ctrl-C: the user will not wait for the clean-up. (Writes after an EPIPE fail
    // again; that is no news.)
    process.stderr.write('sitepipe: interrupted again; exiting without cleaning up\n');
    process.exit(signalExitCode(signal));
  }
}

/** Listens only for SIGINT and SIGTERM. */
const onSignal = (signal: NodeJS.Signals) => interrupt(signal as Interruption);

/**
 * A reader that goes away (`sitepipe … | head`) makes writes fail with EPIPE. sitepipe then
 * stops as git does on SIGPIPE: quietly, exit code 141, after a command in progress has
 * cleaned up. Other write errors stay fatal.
 */
export function stopWhenOutputCloses(...streams: NodeJS.WriteStream[]): void {
  for (const stream of streams) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
      interrupt('SIGPIPE');
    });
  }
}

/**
 * The exit code for what a command body threw, after printing it. An interrupted command is
 * ABORTED whatever its steps made of the interruption: a terminal's Ctrl-C reaches Hugo, git
 * and pygmentize too, and their deaths can fail a step before the abort does. A closed stdout
 * has no one to tell.
 */
function reportFailure(reporter: Reporter, e: unknown, signal: AbortSignal): number {
  const why = signal.reason instanceof Interrupted ? signal.reason.signal : null;
  if (why === 'SIGPIPE') return signalExitCode(why);
  const error = why ? abortedError(why) : toSitepipeError(e);
  reporter.error(error);
  return why ? signalExitCode(why) : exitCodeOf(error);
}

/**
 * Runs a command body with a reporter, Ctrl-C, SIGTERM and a closed stdout as an AbortSignal,
 * and the one top-level catch that prints a SitepipeError; returns the exit code.
 */
export async function withReporter(
  flags: { json?: boolean },
  body: (reporter: Reporter, signal: AbortSignal) => Promise<void>,
): Promise<number> {
  const reporter = new Reporter(outputMode(flags.json), process.stdout, process.stderr);
  const run = new AbortController();
  current = run;
  // `on`, not `once`, until the body is done: execa's signal-exit, loaded while a child runs,
  // re-raises a signal that has no other listener left, which kills sitepipe mid-clean-up.
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  try {
    await body(reporter, run.signal);
    return 0;
  } catch (e) {
    return reportFailure(reporter, e, run.signal);
  } finally {
    reporter.close();
    current = null;
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
}

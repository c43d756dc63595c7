import { statfs } from 'node:fs/promises';
import { constants } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { loadConfig } from '../config.js';
import { abortedError, exitCodeOf, fileSystemError, toSitepipeError } from '../errors.js';
import { type OutputMode, Reporter } from '../output.js';
import { defaultCacheDir } from '../paths.js';
import type { RunContext } from '../step.js';

/** Flags every command that works on a site takes. */
export interface CommonFlags {
  config: string;
  stateDir?: string;
  dryRun?: boolean;
  json?: boolean;
  /** -q: stdout gets only the result (repo@sha256:…); logs go to stderr. */
  quiet?: boolean;
  allowDirty?: boolean;
  /** oci builder: full layers instead of a delta (the same as SITEPIPE_FULL_LAYERS=1). */
  fullLayers?: boolean;
}

/** json with --json; a live display on a terminal that can redraw (not in CI, not TERM=dumb); else plain lines. */
export function outputMode(
  json: boolean | undefined,
  stream: { isTTY?: boolean } = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
): OutputMode {
  if (json) return 'json';
  return stream.isTTY && !env.CI && env.TERM !== 'dumb' ? 'tty' : 'plain';
}

export async function runContext(
  flags: CommonFlags,
  signal: AbortSignal,
): Promise<Omit<RunContext, 'log' | 'afterRun'>> {
  const { config, path, siteDir } = await loadConfig(flags.config);
  const stateDir = resolve(flags.stateDir ?? join(dirname(path), '.sitepipe'));
  const cacheDir = defaultCacheDir(process.env);
  writtenDirs = [stateDir, cacheDir];
  return {
    config,
    configPath: path,
    siteDir,
    stateDir,
    cacheDir,
    dryRun: flags.dryRun ?? false,
    allowDirty: flags.allowDirty ?? false,
    signal,
    env: flags.fullLayers ? { ...process.env, SITEPIPE_FULL_LAYERS: '1' } : process.env,
  };
}

/** Where the command in progress writes (its state dir and cache), to say which disk filled up. */
let writtenDirs: string[] = [];

const NEARLY_FULL_BYTES = 64 * 1024 * 1024;

/** The one of `dirs` with the least room left, if that is nearly none: a write's ENOSPC does not say where it was. */
export async function fullestDir(dirs: readonly string[]): Promise<string | undefined> {
  const free = await Promise.all(
    dirs.map((d) =>
      statfs(d).then(
        (s) => s.bavail * s.bsize,
        () => Number.POSITIVE_INFINITY,
      ),
    ),
  );
  const least = Math.min(...free);
  // A disk with room is not the one that filled up (that may be $TMPDIR's, for instance).
  return least < NEARLY_FULL_BYTES ? dirs[free.indexOf(least)] : undefined;
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
async function reportFailure(reporter: Reporter, e: unknown, signal: AbortSignal): Promise<number> {
  const why = signal.reason instanceof Interrupted ? signal.reason.signal : null;
  if (why === 'SIGPIPE') return signalExitCode(why);
  const disk = !why && fileSystemError(e, await fullestDir(writtenDirs));
  const error = why ? abortedError(why) : disk || toSitepipeError(e);
  reporter.error(error);
  return why ? signalExitCode(why) : exitCodeOf(error);
}

/** `--json` on the command line, whichever command it was given to (cli.ts sets it before the action). */
let jsonRequested = false;

export function requestJson(on: boolean): void {
  jsonRequested = on;
}

/**
 * Runs a command body with a reporter, Ctrl-C, SIGTERM and a closed stdout as an AbortSignal,
 * and the one top-level catch that prints a SitepipeError; returns the exit code.
 */
export async function withReporter(
  flags: { json?: boolean; quiet?: boolean },
  body: (reporter: Reporter, signal: AbortSignal) => Promise<void>,
): Promise<number> {
  // Under -q the logs are on stderr, so stderr decides whether they can be a live display.
  const logs = flags.quiet ? process.stderr : process.stdout;
  const reporter = new Reporter(
    outputMode(flags.json || jsonRequested, logs),
    process.stdout,
    process.stderr,
    {
      quiet: flags.quiet,
    },
  );
  const run = new AbortController();
  current = run;
  // `on`, not `once`, until the body is done: execa's signal-exit, loaded while a child runs,
  // re-raises a signal that has no other listener left, which kills sitepipe mid-clean-up.
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  try {
    await body(reporter, run.signal);
    return 0;
  } catch (e) {
    return await reportFailure(reporter, e, run.signal);
  } finally {
    reporter.close();
    current = null;
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
}

import { access, constants } from 'node:fs/promises';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { SitepipeError } from './errors.js';

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * Runs the program at a lower CPU priority (a nice value, 1-19): for helpers that run beside
   * Hugo and must not slow it down on a small machine.
   */
  nice?: number;
}

export interface ProcessResult {
  stdout: string;
  stderr: string;
}

/** How many trailing output lines a failure report shows. */
const OUTPUT_LINES = 20;

/**
 * Runs a program with an argument array (never a shell string). A failure becomes a
 * SitepipeError naming the command, cwd, exit code and the tail of its output.
 */
export async function runProcess(
  file: string,
  args: readonly string[],
  opts: RunOptions & { code?: string; hint?: string } = {},
): Promise<ProcessResult> {
  const subprocess = execa(file, args, {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: true,
    input: opts.input,
    timeout: opts.timeoutMs ?? 10 * 60_000,
    cancelSignal: opts.signal,
    reject: false,
    stripFinalNewline: true,
    // Interleaved output for failure reports: some tools (Hugo) print their errors on stdout.
    all: true,
  });
  if (opts.nice && subprocess.pid !== undefined) {
    try {
      setPriority(subprocess.pid, opts.nice);
    } catch {
      // It may have exited already; a priority is only a hint.
    }
  }
  const result = await subprocess;
  if (result.failed) {
    const command = [file, ...args].join(' ');
    const why = result.timedOut
      ? `timed out after ${opts.timeoutMs ?? 600_000} ms`
      : result.isCanceled
        ? 'was cancelled'
        : result.signal
          ? `was killed by ${result.signal}`
          : result.exitCode === undefined
            ? `could not start (${result.originalMessage ?? result.shortMessage})`
            : `exited with code ${result.exitCode}`;
    const output = String(result.all ?? '')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .slice(-OUTPUT_LINES);
    throw new SitepipeError(
      opts.code ?? 'PROCESS_FAILED',
      `\`${command}\` ${why} (cwd: ${opts.cwd ?? process.cwd()})`,
      opts.hint ?? 'see the command output above',
      output,
    );
  }
  return { stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? '') };
}

/** Finds every executable named `name` on PATH, in PATH order. */
export async function whichAll(name: string, pathEnv = process.env.PATH ?? ''): Promise<string[]> {
  const candidates = [...new Set(pathEnv.split(':').filter(Boolean))].map((dir) => join(dir, name));
  // All at once: one wait instead of one per PATH entry.
  const runnable = await Promise.all(
    candidates.map((c) =>
      access(c, constants.X_OK).then(
        () => true,
        () => false,
      ),
    ),
  );
  return candidates.filter((_, i) => runnable[i]);
}

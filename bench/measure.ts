import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

export interface Timed {
  /** Wall time of the process, ms (seen from here: spawn to exit). */
  ms: number;
  /**
   * Peak RSS in bytes as wait4() reports it for the process: the largest of it and the
   * descendants it waited for (GNU time's %M), or null when it could not be measured.
   */
  maxRssBytes: number | null;
  stdout: string;
  stderr: string;
}

const GNU_TIME = '/usr/bin/time';

/** Without GNU time (apt package `time`), python's os.wait4 reads the same rusage. */
const WAIT4 = `
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
open(sys.argv[1], "w").write(str(ru.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status) & 0xff)
`;

export const hasGnuTime = existsSync(GNU_TIME);

/** Runs a command, timing it and reading its peak RSS; fails with its output when it fails. */
export async function timed(
  cmd: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; stdoutFile?: string } = {},
): Promise<Timed> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-rss-'));
  const rssFile = join(dir, 'rss');
  const argv = hasGnuTime
    ? [GNU_TIME, '-f', '%M', '-o', rssFile, cmd, ...args]
    : ['python3', '-c', WAIT4, rssFile, cmd, ...args];
  const started = performance.now();
  const res = await execa(argv[0] as string, argv.slice(1), {
    cwd: opts.cwd,
    env: opts.env,
    reject: false,
    stdout: opts.stdoutFile ? { file: opts.stdoutFile } : 'pipe',
    stderr: 'pipe',
  });
  const ms = performance.now() - started;
  let maxRssBytes: number | null = null;
  try {
    const text = (await readFile(rssFile, 'utf8')).trim().split('\n').pop() ?? '';
    const kb = Number(text);
    if (Number.isFinite(kb) && kb > 0) maxRssBytes = kb * 1024;
  } catch {
    // no figure
  }
  await rm(dir, { recursive: true, force: true });
  if (res.exitCode !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} failed (exit ${res.exitCode}):\n${String(res.stderr).slice(-3000)}\n${String(res.stdout ?? '').slice(-2000)}`,
    );
  }
  return { ms, maxRssBytes, stdout: String(res.stdout ?? ''), stderr: String(res.stderr ?? '') };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { packageRoot } from '../../pipeline/paths.js';

const DAEMON_SH = join(packageRoot(), 'scripts', 'daemon.sh');

/** Runs a bash snippet with scripts/daemon.sh sourced, as setup.sh sources it. */
const bash = (dir: string, snippet: string) =>
  execa(
    'bash',
    [
      '-c',
      `set -euo pipefail; cd "$1"; log_prefix=t\n${prelude}\nsource "$2"\n${snippet}`,
      'bash',
      dir,
      DAEMON_SH,
    ],
    {
      reject: false,
    },
  );
const prelude = `die() { printf '[t] ERROR: %s\\n' "$*" >&2; exit 1; }`;

describe('scripts/daemon.sh: how setup starts dockerd and the registry', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sitepipe-daemon-'));
  });
  afterEach(async () => {
    await execa('pkill', ['-f', `sitepipe-daemon-test-${process.pid}`], { reject: false });
    await rm(dir, { recursive: true, force: true });
  });
  const marker = `sitepipe-daemon-test-${process.pid}`;

  it('waits for a daemon whose exec chain is slow (on a cold machine the name shows late)', async () => {
    // The process is "bash" for its first second, then execs: a check by process name
    // (pgrep -x NAME, as setup did) saw no daemon and reported it exited.
    const r = await bash(
      dir,
      `start_daemon log bash -c 'sleep 1; touch ready; exec sleep 30 # ${marker}'
       wait_ready fake 10 log test -e ready && echo up`,
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('up');
  });

  it('reports a daemon that exits with the end of its log, without waiting out the 30 s', async () => {
    const r = await bash(
      dir,
      `start_daemon log bash -c 'echo "failed to start daemon: pid file found"; exit 1'
       wait_ready fake 30 log test -e ready`,
    );
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('failed to start daemon: pid file found');
    expect(r.stderr).toContain('[t] ERROR: fake exited before it answered');
  });

  it('removes a pid file naming a live process of another program, keeps one naming the daemon', async () => {
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await writeFile(join(dir, 'other.pid'), `${other.pid}\n`);
      await writeFile(join(dir, 'mine.pid'), `${other.pid}\n`);
      await writeFile(join(dir, 'junk.pid'), 'not a pid\n');
      const r = await bash(
        dir,
        `clear_stale_pidfile other.pid dockerd; clear_stale_pidfile mine.pid sleep
         clear_stale_pidfile junk.pid dockerd; clear_stale_pidfile absent.pid dockerd; ls`,
      );
      expect(r.stderr).toBe('');
      expect(r.stdout.split('\n')).toEqual(['mine.pid']);
      expect(await readFile(join(dir, 'mine.pid'), 'utf8')).toBe(`${other.pid}\n`);
    } finally {
      other.kill();
    }
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { SitepipeError } from '../errors.js';
import type { Release } from '../kube/releases.js';
import { parseHistory } from './history.js';
import { RELEASE_NAME } from './layout.js';
import { remoteError, sshArgs } from './remote.js';
import { type Server, shq } from './servers.js';

/** What a server holds, read under its lock. */
export interface ServerState {
  /** The release `current` points to, or null before the first publish. */
  live: string | null;
  /** Releases whose metadata is written: whole, ready to switch to. */
  complete: string[];
  /** Every directory under releases/, partial ones included. */
  dirs: string[];
  /** The base path each whole release was rendered for, from its metadata. */
  basePaths: Record<string, string>;
  history: Release[];
}

export interface HostLock {
  state: ServerState;
  /**
   * The server, reached through the lock session's connection (OpenSSH multiplexing): the
   * upload and the switch open channels on it instead of new connections, so they cost no
   * key exchange, and they end with it.
   */
  server: Server;
  release(): Promise<void>;
}

const LOCKED = 'SITEPIPE-LOCKED';
const BUSY_EXIT = 75;

/**
 * The lock session's script: creates the root, takes flock(1) on root/.lock (waiting up to
 * waitSeconds), prints the state, and then holds the lock for as long as its stdin stays open.
 * The lock is the kernel's, held by this shell: when the local sitepipe dies, ssh's channel
 * closes, `cat` ends and the lock goes with it. No stale lock is ever left to clean up.
 */
export function lockScript(
  root: string,
  holder: string,
  waitSeconds: number,
  opts: { create?: boolean; lock?: boolean } = {},
): string {
  const r = shq(root);
  const done = opts.lock === false ? 'exit 0' : 'exec cat >/dev/null';
  // A dry run creates nothing: a server that has no root yet has no releases either.
  const enter =
    opts.create === false
      ? `cd ${r} 2>/dev/null || { echo SITEPIPE-HISTORY; echo; echo ${LOCKED}; ${done}; }`
      : `mkdir -p ${r}/releases ${r}/meta || exit 1\ncd ${r} || exit 1`;
  const lock =
    opts.lock === false
      ? ''
      : `exec 9>>.lock || exit 1
if ! flock -w ${waitSeconds} 9; then
  echo "held by: $(cat .lock.holder 2>/dev/null)" >&2
  exit ${BUSY_EXIT}
fi
printf '%s\\n' ${shq(holder)} > .lock.holder
`;
  return `set -u
${enter}
${lock}echo "live $(readlink current 2>/dev/null | sed 's|^releases/||')"
for f in meta/*.json; do [ -f "$f" ] && printf 'complete %s %s\\n' "$(basename "$f" .json)" "$(tr -d '\\n' < "$f")"; done
for d in releases/*/; do [ -d "$d" ] && echo "dir $(basename "$d")"; done
echo SITEPIPE-HISTORY
cat releases.json 2>/dev/null
echo
echo ${LOCKED}
${done}
`;
}

export function parseState(text: string): ServerState {
  const [head = '', history = ''] = text.split('SITEPIPE-HISTORY\n');
  const state: ServerState = {
    live: null,
    complete: [],
    dirs: [],
    basePaths: {},
    history: parseHistory(history),
  };
  for (const line of head.split('\n')) {
    const [kind = '', value = '', ...rest] = line.split(' ');
    if (!RELEASE_NAME.test(value)) continue;
    if (kind === 'live') state.live = value;
    if (kind === 'dir') state.dirs.push(value);
    if (kind === 'complete') {
      state.complete.push(value);
      try {
        const meta = JSON.parse(rest.join(' ')) as { basePath?: unknown };
        if (typeof meta.basePath === 'string') state.basePaths[value] = meta.basePath;
      } catch {
        // Metadata sitepipe did not write whole: the release still counts, served under "/".
      }
    }
  }
  return state;
}

/**
 * Takes the publish lock on a server and reads its state under it (with lock: false, only reads). Two publishes (deploy,
 * pin, rollback) of one site never interleave; the second waits up to `waitSeconds`, then
 * fails with DEPLOY_LOCKED naming the holder.
 */
export async function lockServer(
  server: Server,
  root: string,
  opts: { holder: string; waitSeconds: number; signal: AbortSignal; create?: boolean; lock?: boolean },
): Promise<HostLock> {
  const script = lockScript(root, opts.holder, opts.waitSeconds, opts);
  // A private dir for the control socket: only this run's commands can use the connection.
  const controlDir = opts.lock === false ? null : await mkdtemp(join(tmpdir(), 'sitepipe-ssh-'));
  const controlPath = controlDir ? join(controlDir, 'c') : null;
  const master = controlPath
    ? {
        ...server,
        sshOptions: [
          ...server.sshOptions,
          '-o',
          'ControlMaster=yes',
          '-o',
          `ControlPath=${controlPath}`,
          '-o',
          'ControlPersist=no',
        ],
      }
    : server;
  const child: ResultPromise = execa('ssh', sshArgs(master, script), {
    reject: false,
    stdin: 'pipe',
    cancelSignal: opts.signal,
    buffer: { stdout: false, stderr: true },
  });
  let out = '';
  const locked = await new Promise<boolean>((resolve) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(`\n${LOCKED}\n`)) resolve(true);
    });
    void child.then(() => resolve(false));
  });
  if (!locked || opts.lock === false) {
    const result = await child;
    if (controlDir) await rm(controlDir, { recursive: true, force: true });
    opts.signal.throwIfAborted();
    const stderr = String(result.stderr ?? '');
    if (result.exitCode === BUSY_EXIT) {
      throw new SitepipeError(
        'DEPLOY_LOCKED',
        `${server.name}: another publish holds the lock on ${root}: ${stderr.replace(/^held by: /, '').trim() || 'unknown'}`,
        'wait for it to finish (the lock goes with its SSH session, so a killed publish frees it at once); deploy.lockTimeoutSeconds says how long to wait',
      );
    }
    if (result.exitCode !== 0 || !out.includes(LOCKED)) {
      throw remoteError(server, `read the releases under ${root}`, stderr, result.exitCode ?? 255);
    }
  }
  const shared = controlPath
    ? {
        ...server,
        sshOptions: [...server.sshOptions, '-o', 'ControlMaster=no', '-o', `ControlPath=${controlPath}`],
      }
    : server;
  return {
    state: parseState(out.slice(0, out.lastIndexOf(LOCKED))),
    server: shared,
    async release() {
      child.stdin?.end();
      await child;
      if (controlDir) await rm(controlDir, { recursive: true, force: true });
    },
  };
}

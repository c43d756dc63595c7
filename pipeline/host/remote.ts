import { execa } from 'execa';
import { SitepipeError } from '../errors.js';
import { type Server, shq } from './servers.js';

export interface RemoteResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** The last lines of a failed command's output, for an error's details. */
export function tail(text: string, lines = 12): string[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-lines);
}

/**
 * What went wrong reaching or working on a server, from ssh's and the shell's own words: each
 * failure users meet gets its code and a hint that says what to do.
 */
export function remoteError(server: Server, doing: string, stderr: string, exitCode: number): SitepipeError {
  const details = tail(stderr);
  const at = `${server.name}: cannot ${doing}`;
  if (
    /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed|No \S+ host key is known/i.test(
      stderr,
    )
  ) {
    const changed = /HAS CHANGED/.test(stderr);
    return new SitepipeError(
      'HOST_KEY_REJECTED',
      `${at}: its host key is ${changed ? 'not the one known_hosts has for it' : 'not in known_hosts'}`,
      changed
        ? 'the server was reinstalled or this is not your server: check its key out of band, then update known_hosts (ssh-keygen -R HOST)'
        : "add the server's key to known_hosts after checking it out of band (ssh-keyscan HOST, compare the fingerprint), or set identity/knownHostsFile in deploy.host.servers",
      details,
    );
  }
  if (/Permission denied \(|Too many authentication failures/.test(stderr)) {
    return new SitepipeError(
      'HOST_AUTH_FAILED',
      `${at}: the server refused the login`,
      'check the user in deploy.host.servers[].ssh and the key (identityFile, or your ssh agent); `ssh -v USER@HOST` shows which keys were offered',
      details,
    );
  }
  if (
    exitCode === 255 &&
    /Connection refused|Connection timed out|No route to host|Could not resolve hostname|Network is unreachable|Connection closed by|kex_exchange_identification/i.test(
      stderr,
    )
  ) {
    return new SitepipeError(
      'HOST_UNREACHABLE',
      `${at}: ${server.name} cannot be reached over SSH`,
      'check the host name, the port and that sshd runs there; `ssh -v USER@HOST` shows where it stops',
      details,
    );
  }
  if (/No space left on device|Disk quota exceeded/.test(stderr)) {
    return new SitepipeError(
      'HOST_DISK_FULL',
      `${at}: the server's disk is full`,
      'free space under the root (fewer releases: deploy.host.keep), then run again: what was sent is kept',
      details,
    );
  }
  if (/Permission denied|Read-only file system|Operation not permitted/.test(stderr)) {
    return new SitepipeError(
      'HOST_ROOT_PERMISSION',
      `${at}: the SSH user may not write there`,
      'give the SSH user the root directory (deploy.host.root), e.g. `sitepipe host init` as a user who may, or chown it',
      details,
    );
  }
  return new SitepipeError(
    'HOST_COMMAND_FAILED',
    `${at} (exit code ${exitCode})`,
    'the lines below are what the server said',
    details,
  );
}

export interface RemoteOptions {
  signal?: AbortSignal;
  /** What the command does, for error messages: "read the releases", "switch to …". */
  doing: string;
  /** Exit codes the caller handles itself; any other fails. */
  allow?: readonly number[];
}

/** The ssh command line that runs `script` with sh on the server (whatever the user's login shell). */
export function sshArgs(server: Server, script: string): string[] {
  return [...server.sshOptions, server.destination, `sh -c ${shq(script)}`];
}

/** Runs a POSIX sh script on the server over the system's ssh. */
export async function runRemote(server: Server, script: string, opts: RemoteOptions): Promise<RemoteResult> {
  const result = await execa('ssh', sshArgs(server, script), {
    reject: false,
    cancelSignal: opts.signal,
    stdin: 'ignore',
    stripFinalNewline: false,
  });
  opts.signal?.throwIfAborted();
  const exitCode = result.exitCode ?? 255;
  const stdout = String(result.stdout ?? '');
  const stderr = String(result.stderr ?? '');
  if (exitCode !== 0 && !opts.allow?.includes(exitCode)) {
    throw remoteError(server, opts.doing, stderr || String(result.originalMessage ?? ''), exitCode);
  }
  return { stdout, stderr, exitCode };
}

import { execa } from 'execa';
import { remoteError } from './remote.js';
import { rsyncRemote, rsyncShell, type Server } from './servers.js';

export interface UploadResult {
  /** Bytes rsync sent over SSH (its "Total bytes sent"): file list, checksums and data. */
  bytesSent: number;
  /** Files whose data was sent (the rest were hardlinked from the live release or there already). */
  filesSent: number;
}

/**
 * rsync's arguments for sending `localDir` to root/releases/<tag>/. Files are compared by
 * checksum (Hugo rewrites every file, so sizes and times say nothing), and a file the live
 * release has with the same content is hardlinked from it (--link-dest) rather than sent.
 * Times are not kept: a hardlink needs equal attributes, and a file's time on the server is
 * then when its content last changed there. rsync writes each file under a temp name and
 * renames it, so a killed upload leaves whole files only, which the rerun keeps; --delete
 * removes files of an earlier try that the tree no longer has.
 */
export function rsyncArgs(
  server: Server,
  localDir: string,
  root: string,
  tag: string,
  live: string | null,
  dryRun = false,
): string[] {
  const args = [
    ...(dryRun ? ['--dry-run'] : []),
    '--recursive',
    '--links',
    '--perms',
    '--chmod=D755,F644',
    '--checksum',
    '--delete',
    '--compress',
    '--stats',
    '--itemize-changes',
    '-e',
    rsyncShell(server),
  ];
  if (live && live !== tag) args.push(`--link-dest=../${live}`);
  args.push(`${localDir.replace(/\/?$/, '/')}`, rsyncRemote(server, `${root}/releases/${tag}/`));
  return args;
}

/** "Total bytes sent: 1,234" and the itemized files that carried data ('<f' lines). */
export function parseStats(stdout: string): UploadResult {
  const sent = /Total bytes sent: ([\d,.]+)/.exec(stdout)?.[1]?.replace(/[,.]/g, '') ?? '0';
  const filesSent = stdout.split('\n').filter((l) => /^<f/.test(l)).length;
  return { bytesSent: Number(sent), filesSent };
}

export async function uploadRelease(
  server: Server,
  localDir: string,
  root: string,
  tag: string,
  live: string | null,
  signal: AbortSignal,
  dryRun = false,
): Promise<UploadResult> {
  const result = await execa('rsync', rsyncArgs(server, localDir, root, tag, live, dryRun), {
    reject: false,
    cancelSignal: signal,
    stdin: 'ignore',
  });
  signal.throwIfAborted();
  if (result.exitCode !== 0) {
    throw remoteError(
      server,
      `upload release ${tag}`,
      String(result.stderr ?? result.originalMessage ?? ''),
      result.exitCode ?? 255,
    );
  }
  return parseStats(String(result.stdout ?? ''));
}

/** Every failure a user can act on carries a stable code, a message and a hint. */
export class SitepipeError extends Error {
  override readonly name = 'SitepipeError';
  constructor(
    readonly code: string,
    message: string,
    readonly hint: string,
    /** Extra lines worth showing (e.g. stderr of a failed process). */
    readonly details: readonly string[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isSitepipeError(e: unknown): e is SitepipeError {
  return e instanceof SitepipeError;
}

/** `e` with another hint when it is a `code` error (the same failure says something else to do in another place). */
export function rehint(e: unknown, code: string, hint: string): unknown {
  if (!(e instanceof SitepipeError) || e.code !== code) return e;
  return new SitepipeError(e.code, e.message, hint, e.details, { cause: e });
}

/** A command line sitepipe cannot act on: exit code 2. */
export function usageError(message: string, hint: string): SitepipeError {
  return new SitepipeError('USAGE', message, hint);
}

/** Codes of command-line mistakes, which exit 2 (as getopt-style tools do), not 1. */
const USAGE_CODES = new Set(['USAGE', 'UNKNOWN_STEP']);

/** The process exit code for a failure: 2 for a usage error, 1 otherwise. */
export function exitCodeOf(e: SitepipeError): number {
  return USAGE_CODES.has(e.code) ? 2 : 1;
}

/** A run stopped from outside (Ctrl-C, a kill); `why` names the signal. */
export function abortedError(why?: string): SitepipeError {
  return new SitepipeError(
    'ABORTED',
    `the run was interrupted${why ? ` (${why})` : ''}`,
    'run it again; finished work is reused',
  );
}

const FULL = new Set(['ENOSPC', 'EDQUOT']);
const DENIED = new Set(['EACCES', 'EPERM', 'EROFS']);

/**
 * A full disk or a refused write as an error a user can act on. A write's ENOSPC carries no
 * path (only open() knows it), so `where` names the directory that is full when it is known.
 */
export function fileSystemError(e: unknown, where?: string): SitepipeError | null {
  const { code, path } = (e ?? {}) as NodeJS.ErrnoException;
  if (!code || !(FULL.has(code) || DENIED.has(code))) return null;
  const at = path ?? where;
  if (FULL.has(code)) {
    return new SitepipeError(
      'DISK_FULL',
      `no space left on the device${at ? ` holding ${at}` : ''} (${code})`,
      'free some space there (df -h shows how much is left), or point --state-dir or $XDG_CACHE_HOME at a disk with room',
      [],
      { cause: e },
    );
  }
  return new SitepipeError(
    'PERMISSION_DENIED',
    `sitepipe may not write ${at ?? 'a file it needs'} (${code})`,
    'check the owner and permissions of that path (or that its file system is not read-only), or choose another --state-dir or $XDG_CACHE_HOME',
    [],
    { cause: e },
  );
}

/** Wraps anything thrown into a SitepipeError so one top-level catch can print it. */
export function toSitepipeError(e: unknown): SitepipeError {
  if (e instanceof SitepipeError) return e;
  if (e instanceof Error && e.name === 'AbortError') return abortedError();
  const disk = fileSystemError(e);
  if (disk) return disk;
  const message = e instanceof Error ? e.message : String(e);
  return new SitepipeError(
    'INTERNAL',
    message,
    'this is a bug in sitepipe; please report it with the output',
    [],
    {
      cause: e,
    },
  );
}

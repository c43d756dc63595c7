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

/** Wraps anything thrown into a SitepipeError so one top-level catch can print it. */
export function toSitepipeError(e: unknown): SitepipeError {
  if (e instanceof SitepipeError) return e;
  if (e instanceof Error && e.name === 'AbortError') return abortedError();
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

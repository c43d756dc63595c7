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

/** Wraps anything thrown into a SitepipeError so one top-level catch can print it. */
export function toSitepipeError(e: unknown): SitepipeError {
  if (e instanceof SitepipeError) return e;
  if (e instanceof Error && e.name === 'AbortError') {
    return new SitepipeError('ABORTED', 'the run was interrupted', 'run it again; finished work is reused');
  }
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

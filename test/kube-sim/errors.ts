/** API errors as the real server reports them: a metav1.Status body with the HTTP code. */
import { comparePaths, type FieldConflict } from './fields.js';
import type { ResourceType } from './resources.js';

/** The manager identifier structured-merge-diff keys ownership by (no time; appliers without apiVersion). */
function managerIdentifier(c: FieldConflict): string {
  return JSON.stringify({
    manager: c.manager,
    operation: c.operation,
    ...(c.operation === 'Update' ? { apiVersion: c.apiVersion } : {}),
    ...(c.subresource ? { subresource: c.subresource } : {}),
  });
}

/** `"kubectl-set" using apps/v1`, `"sitepipe"`, `"kubectl" with subresource "scale" using apps/v1`. */
function printManager(c: FieldConflict): string {
  let out = JSON.stringify(c.manager);
  if (c.subresource) out += ` with subresource ${JSON.stringify(c.subresource)}`;
  if (c.operation === 'Update') out += ` using ${c.apiVersion}`;
  return out;
}

export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message: string;
  reason: string;
  details?: { name?: string; group?: string; kind?: string; uid?: string; causes?: StatusCause[] };
  code: number;
}

export class ApiError extends Error {
  constructor(readonly status: StatusBody) {
    super(status.message);
  }
  get code(): number {
    return this.status.code;
  }
}

function make(code: number, reason: string, message: string, details?: StatusBody['details']): ApiError {
  return new ApiError({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  });
}

/** `deployments.apps`, or `pods` for the core group. */
export function qualifiedResource(rt: ResourceType): string {
  return rt.group ? `${rt.resource}.${rt.group}` : rt.resource;
}

function qualifiedKind(rt: ResourceType): string {
  return rt.group ? `${rt.kind}.${rt.group}` : rt.kind;
}

export const errors = {
  notFound(rt: ResourceType, name: string): ApiError {
    return make(404, 'NotFound', `${qualifiedResource(rt)} "${name}" not found`, {
      name,
      group: rt.group,
      kind: rt.resource,
    });
  },
  namespaceNotFound(name: string): ApiError {
    return make(404, 'NotFound', `namespaces "${name}" not found`, { name, kind: 'namespaces' });
  },
  alreadyExists(rt: ResourceType, name: string): ApiError {
    return make(409, 'AlreadyExists', `${qualifiedResource(rt)} "${name}" already exists`, {
      name,
      group: rt.group,
      kind: rt.resource,
    });
  },
  conflict(rt: ResourceType, name: string, why: string): ApiError {
    return make(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${qualifiedResource(rt)} "${name}": ${why}`,
      {
        name,
        group: rt.group,
        kind: rt.resource,
      },
    );
  },
  /**
   * Server-side apply found fields owned by other managers (force=false), worded as
   * apimachinery's managedfields NewConflictError: an applier is named alone, an updater
   * with the API version it wrote (and its subresource); one conflict on one line, several
   * grouped by manager (managers sorted by their identifier), one `- path` line each.
   */
  applyConflict(rt: ResourceType, name: string, conflicts: FieldConflict[]): ApiError {
    const ordered = [...conflicts].sort((a, b) => comparePaths(a.path, b.path));
    const byManager = new Map<string, { label: string; fields: string[] }>();
    for (const c of ordered) {
      const id = managerIdentifier(c);
      const entry = byManager.get(id) ?? { label: printManager(c), fields: [] };
      entry.fields.push(c.field);
      byManager.set(id, entry);
    }
    const first = ordered[0];
    let message: string;
    if (ordered.length === 1 && first) {
      message = `Apply failed with 1 conflict: conflict with ${printManager(first)}: ${first.field}`;
    } else {
      const lines: string[] = [];
      for (const id of [...byManager.keys()].sort()) {
        const entry = byManager.get(id);
        if (!entry) continue;
        lines.push(`conflicts with ${entry.label}:`, ...entry.fields.map((f) => `- ${f}`));
      }
      message = `Apply failed with ${ordered.length} conflicts: ${lines.join('\n')}`;
    }
    return make(409, 'Conflict', message, {
      name,
      group: rt.group,
      kind: rt.resource,
      causes: ordered.map((c) => ({
        reason: 'FieldManagerConflict',
        message: `conflict with ${printManager(c)}`,
        field: c.field,
      })),
    });
  },
  invalid(rt: ResourceType, name: string, causes: StatusCause[]): ApiError {
    const parts = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
    const joined = parts.length === 1 ? parts[0] : `[${parts.join(', ')}]`;
    return make(422, 'Invalid', `${qualifiedKind(rt)} "${name}" is invalid: ${joined}`, {
      name,
      group: rt.group,
      kind: rt.kind,
      causes,
    });
  },
  badRequest(message: string): ApiError {
    return make(400, 'BadRequest', message);
  },
  forbidden(message: string): ApiError {
    return make(403, 'Forbidden', message);
  },
  unauthorized(): ApiError {
    return make(401, 'Unauthorized', 'Unauthorized');
  },
  methodNotAllowed(): ApiError {
    return make(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
  },
  unsupportedMediaType(contentType: string, accepted: string[]): ApiError {
    return make(
      415,
      'UnsupportedMediaType',
      `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}` +
        (contentType ? ` (got ${contentType})` : ''),
    );
  },
  notFoundPath(): ApiError {
    return make(404, 'NotFound', 'the server could not find the requested resource');
  },
  gone(message: string): ApiError {
    return make(410, 'Expired', message);
  },
  unprocessable(message: string): ApiError {
    return make(422, 'Invalid', message);
  },
  internal(message: string): ApiError {
    return make(500, 'InternalError', message);
  },
  custom(code: number, reason: string, message: string): ApiError {
    return make(code, reason, message);
  },
};

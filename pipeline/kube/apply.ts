import { ApiException, PatchStrategy } from '@kubernetes/client-node';
import { isConflict, type Kube, kubeError } from '../clients/kube.js';
import { SitepipeError } from '../errors.js';
import type { KubeObject } from './manifests-common.js';

export const FIELD_MANAGER = 'sitepipe';

/** One field another manager owns, as a server-side apply conflict names it. */
export interface FieldConflict {
  /** `.spec.replicas`, `.spec.template.spec.containers[name="nginx"].image` */
  field: string;
  manager: string;
}

const idOf = (o: KubeObject) =>
  `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;

/** The conflicts of a 409 from server-side apply (Status.details.causes), or null for another error. */
export function applyConflicts(e: unknown): FieldConflict[] | null {
  if (!(e instanceof ApiException) || !isConflict(e)) return null;
  // StatusCause's Go field Type is `reason` on the wire.
  let status: { details?: { causes?: { reason?: string; message?: string; field?: string }[] } };
  try {
    status = typeof e.body === 'string' ? JSON.parse(e.body) : (e.body as typeof status);
  } catch {
    return null;
  }
  const causes = (status?.details?.causes ?? []).filter((c) => c.reason === 'FieldManagerConflict');
  if (causes.length === 0) return null;
  return causes.map((c) => ({
    field: c.field ?? '',
    manager: /conflict with "([^"]*)"/.exec(c.message ?? '')?.[1] ?? c.message ?? 'another manager',
  }));
}

/** Splits `.a.b[name="x"].c` into steps: a field name, or a list item picked by a key. */
function steps(path: string): ({ field: string } | { key: string; value: string })[] {
  const out: ({ field: string } | { key: string; value: string })[] = [];
  for (const m of path.matchAll(/\.([^.[\]]+)|\[([^=\]]+)=("(?:[^"\\]|\\.)*"|[^\]]*)\]/g)) {
    if (m[1] !== undefined) out.push({ field: m[1] });
    else out.push({ key: m[2] as string, value: m[3]?.startsWith('"') ? JSON.parse(m[3]) : (m[3] ?? '') });
  }
  return out;
}

/** Removes the field at `path` from `object` (so sitepipe no longer claims it); false when not found. */
export function dropField(object: KubeObject, path: string): boolean {
  const parts = steps(path);
  let node: unknown = object;
  for (const [i, step] of parts.entries()) {
    const last = i === parts.length - 1;
    if ('field' in step) {
      if (typeof node !== 'object' || node === null || !(step.field in node)) return false;
      if (last) return delete (node as Record<string, unknown>)[step.field];
      node = (node as Record<string, unknown>)[step.field];
    } else {
      if (!Array.isArray(node)) return false;
      const index = node.findIndex(
        (item) => String((item as Record<string, unknown>)?.[step.key]) === step.value,
      );
      if (index < 0) return false;
      if (last) return node.splice(index, 1).length === 1;
      node = node[index];
    }
  }
  return false;
}

function patch(kube: Kube, obj: KubeObject, opts: { force: boolean; dryRun?: boolean }) {
  return kube.objects.patch(
    obj,
    undefined,
    opts.dryRun ? 'All' : undefined,
    FIELD_MANAGER,
    opts.force,
    PatchStrategy.ServerSideApply,
  );
}

export interface ApplyOptions {
  /** Fields sitepipe takes even from another manager (the image it rolls out). */
  mustOwn: (object: KubeObject, field: string) => boolean;
  warn: (message: string) => void;
}

/**
 * Server-side apply without force, so a change a person made (`kubectl scale`, `edit`,
 * `set image`) is not silently reverted. On a conflict, the fields sitepipe must own are taken
 * with force and a warning naming the other manager; the others are left to their manager
 * (dropped from what sitepipe applies) with a warning that says so.
 */
export async function applyObject(kube: Kube, object: KubeObject, opts: ApplyOptions): Promise<void> {
  const obj = structuredClone(object);
  for (let round = 0; round < 3; round++) {
    try {
      await patch(kube, obj, { force: false });
      return;
    } catch (e) {
      const conflicts = applyConflicts(e);
      if (!conflicts) throw kubeError(e, `apply ${idOf(object)}`);
      const taken = conflicts.filter((c) => opts.mustOwn(object, c.field));
      for (const c of conflicts.filter((c) => !taken.includes(c))) {
        opts.warn(`${idOf(object)}: ${c.field} is managed by "${c.manager}"; sitepipe leaves it as it is`);
        dropField(obj, c.field);
      }
      if (taken.length > 0) {
        for (const c of taken)
          opts.warn(
            `${idOf(object)}: ${c.field} was set by "${c.manager}"; sitepipe takes it back to roll out this release`,
          );
        try {
          await patch(kube, obj, { force: true });
          return;
        } catch (e2) {
          throw kubeError(e2, `apply ${idOf(object)}`);
        }
      }
    }
  }
  throw new SitepipeError(
    'KUBE_APPLY_CONFLICT',
    `${idOf(object)} kept conflicting with other field managers`,
    `kubectl get ${object.kind.toLowerCase()} ${object.metadata.name} --show-managed-fields shows who owns what`,
  );
}

/**
 * Server-side dry run of every object: the API server runs admission, validation and the
 * conflict check without storing anything, so a deploy fails before it changes anything when
 * any object would be refused. Conflicts are not failures here (applyObject resolves them).
 */
export async function dryRunAll(kube: Kube, objects: readonly KubeObject[]): Promise<void> {
  const problems: string[] = [];
  for (const obj of objects) {
    try {
      await patch(kube, obj, { force: false, dryRun: true });
    } catch (e) {
      if (applyConflicts(e)) continue;
      const err = kubeError(e, `apply ${idOf(obj)}`);
      if (err.code === 'KUBE_UNREACHABLE' || err.code === 'KUBE_FORBIDDEN') throw err;
      problems.push(
        `${idOf(obj)}: ${err.message}${err.details.length ? ` (${err.details.join('; ')})` : ''}`,
      );
    }
  }
  if (problems.length === 0) return;
  throw new SitepipeError(
    'KUBE_APPLY_REFUSED',
    `the API server would refuse ${problems.length} of ${objects.length} objects; nothing was changed`,
    'each line names the object and what the server said; `sitepipe manifests` writes them for a look',
    problems,
  );
}

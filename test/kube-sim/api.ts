/**
 * The API semantics on top of the store: create, update, patch, apply, delete with
 * defaulting, validation, generation, optimistic concurrency, status subresources,
 * field ownership and graceful deletion. The HTTP layer and the controllers both write
 * through here, so every write looks the same to a watcher.
 */
import { randomUUID } from 'node:crypto';
import { applyDefaults, type IpAllocator } from './defaults.js';
import { ApiError, errors } from './errors.js';
import { applyConfig, type FieldOwner, type FieldSet, updateOwnership, zeroValue } from './fields.js';
import { jsonPatch, mergePatch, strategicMergePatch } from './patch.js';
import { apiVersionOf, type ResourceRegistry, type ResourceType, resourceKey } from './resources.js';
import {
  labelSelectorMatcher,
  type ObjectFilter,
  parseFieldSelector,
  parseLabelSelector,
} from './selectors.js';
import type { Store } from './store.js';
import type { KubeObject } from './types.js';
import { clone, deepEqual, dropNulls, isObject, randomSuffix, timestamp } from './util.js';
import { validate } from './validation.js';

export const PATCH_TYPES = {
  apply: 'application/apply-patch+yaml',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
} as const;
export type PatchType = (typeof PATCH_TYPES)[keyof typeof PATCH_TYPES];

export interface WriteOptions {
  /** Field manager; defaults to the User-Agent's product name, as the real server does. */
  fieldManager?: string;
  userAgent?: string;
  dryRun?: boolean;
  /**
   * Write the status subresource instead of the main resource; `scale`: a write of the
   * main resource through the scale subresource (its managedFields entry says so).
   */
  subresource?: 'status' | 'scale';
  /** Server-side apply: take ownership of conflicting fields. */
  force?: boolean;
}

export interface DeleteOptions {
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
}

/** What DELETE answers: the object (still terminating, or for CRDs) or a Success status. */
export type DeleteResult =
  | { kind: 'object'; object: KubeObject }
  | { kind: 'status'; object: KubeObject; status: Record<string, unknown> };

class Allocator implements IpAllocator {
  private v4 = 10;
  private v6 = 10;
  clusterIP(family: 'IPv4' | 'IPv6'): string {
    if (family === 'IPv6') return `fd00:10:96::${(this.v6++).toString(16)}`;
    const n = this.v4++;
    return `10.96.${Math.floor(n / 250)}.${n % 250}`;
  }
}

function managerFrom(opts: WriteOptions): string {
  if (opts.fieldManager) return opts.fieldManager;
  const product = opts.userAgent?.split('/')[0]?.trim();
  return product || 'unknown';
}

/** Everything but metadata and status: what a generation bump is about. */
function specPart(obj: KubeObject): Record<string, unknown> {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = obj;
  return rest;
}

function withoutVolatile(obj: KubeObject): KubeObject {
  const out = clone(obj);
  delete out.metadata.resourceVersion;
  for (const e of out.metadata.managedFields ?? []) if (e.time !== undefined) e.time = '';
  return out;
}

export class Api {
  private readonly alloc = new Allocator();

  constructor(
    readonly store: Store,
    readonly resources: ResourceRegistry,
  ) {}

  tryGet(rt: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.store.get(resourceKey(rt), rt.namespaced ? namespace : undefined, name);
  }

  get(rt: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const obj = this.tryGet(rt, namespace, name);
    if (!obj) throw errors.notFound(rt, name);
    return obj;
  }

  filterFor(opts: ListOptions): ObjectFilter {
    const labels = parseLabelSelector(opts.labelSelector);
    const fields = parseFieldSelector(opts.fieldSelector);
    return (o) => labels(o.metadata.labels ?? {}) && fields(o);
  }

  list(rt: ResourceType, namespace: string | undefined, opts: ListOptions = {}): KubeObject[] {
    const filter = this.filterFor(opts);
    return this.store.list(resourceKey(rt), rt.namespaced ? namespace : undefined).filter(filter);
  }

  /** Objects of `rt` in `namespace` whose labels match a LabelSelector object. */
  select(rt: ResourceType, namespace: string, selector: unknown): KubeObject[] {
    const match = labelSelectorMatcher(selector);
    return this.store.list(resourceKey(rt), namespace).filter((o) => match(o.metadata.labels ?? {}));
  }

  private requireNamespace(rt: ResourceType, namespace: string | undefined, name: string): void {
    if (!rt.namespaced) return;
    if (!namespace)
      throw errors.badRequest('the server could not find the requested resource: a namespace is required');
    const ns = this.store.get('/namespaces', undefined, namespace);
    if (!ns) throw errors.namespaceNotFound(namespace);
    if (ns.metadata.deletionTimestamp)
      throw errors.forbidden(
        `${rt.resource} "${name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
      );
  }

  private checkBody(rt: ResourceType, body: unknown, namespace: string | undefined): KubeObject {
    if (!isObject(body)) throw errors.badRequest('the request body must be a JSON object');
    const obj = body as KubeObject;
    if (!isObject(obj.metadata)) obj.metadata = {};
    const expected = apiVersionOf(rt);
    if (obj.apiVersion !== undefined && obj.apiVersion !== expected)
      throw errors.badRequest(
        `the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${expected})`,
      );
    if (obj.kind !== undefined && obj.kind !== rt.kind)
      throw errors.badRequest(
        `the kind in the data (${String(obj.kind)}) does not match the expected kind (${rt.kind})`,
      );
    if (rt.namespaced) {
      if (obj.metadata.namespace && namespace && obj.metadata.namespace !== namespace)
        throw errors.badRequest(
          'the namespace of the provided object does not match the namespace sent on the request',
        );
      if (namespace) obj.metadata.namespace = namespace;
    } else delete obj.metadata.namespace;
    return obj;
  }

  create(
    rt: ResourceType,
    namespace: string | undefined,
    body: unknown,
    opts: WriteOptions = {},
  ): KubeObject {
    const obj = this.checkBody(rt, clone(body), namespace);
    this.requireNamespace(rt, obj.metadata.namespace, obj.metadata.name ?? obj.metadata.generateName ?? '');
    if (!obj.metadata.name && obj.metadata.generateName)
      obj.metadata.name = `${obj.metadata.generateName}${randomSuffix(5)}`;
    if (obj.metadata.name && this.tryGet(rt, obj.metadata.namespace, obj.metadata.name))
      throw errors.alreadyExists(rt, obj.metadata.name);
    return this.commit(rt, undefined, obj, { manager: managerFrom(opts), operation: 'Update' }, opts);
  }

  /** PUT: replaces the object (or its status); a stale metadata.resourceVersion is a 409. */
  update(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    body: unknown,
    opts: WriteOptions = {},
  ): KubeObject {
    const obj = this.checkBody(rt, clone(body), namespace);
    if (obj.metadata.name !== name)
      throw errors.badRequest(
        `the name of the object (${obj.metadata.name ?? ''}) does not match the name on the URL (${name})`,
      );
    const old = this.get(rt, namespace, name);
    const rv = obj.metadata.resourceVersion;
    if (rv && rv !== old.metadata.resourceVersion)
      throw errors.conflict(
        rt,
        name,
        'the object has been modified; please apply your changes to the latest version and try again',
      );
    return this.commit(rt, old, obj, { manager: managerFrom(opts), operation: 'Update' }, opts);
  }

  patch(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    patchType: string,
    body: unknown,
    opts: WriteOptions = {},
  ): { object: KubeObject; created: boolean } {
    if (patchType === PATCH_TYPES.apply) return this.apply(rt, namespace, name, body, opts);
    if (patchType === PATCH_TYPES.strategic && !rt.builtin)
      throw errors.unsupportedMediaType(patchType, [PATCH_TYPES.json, PATCH_TYPES.merge, PATCH_TYPES.apply]);
    const old = this.get(rt, namespace, name);
    let patched: unknown;
    switch (patchType) {
      case PATCH_TYPES.merge:
        patched = mergePatch(old, body);
        break;
      case PATCH_TYPES.strategic:
        if (!rt.builtin)
          throw errors.unsupportedMediaType(patchType, [
            PATCH_TYPES.json,
            PATCH_TYPES.merge,
            PATCH_TYPES.apply,
          ]);
        patched = strategicMergePatch(old, body);
        break;
      case PATCH_TYPES.json:
        patched = jsonPatch(old, body);
        break;
      default:
        throw errors.unsupportedMediaType(patchType, Object.values(PATCH_TYPES));
    }
    const obj = this.checkBody(rt, patched, namespace);
    if (obj.metadata.name !== name) throw errors.badRequest('metadata.name may not be changed by a patch');
    if (obj.metadata.resourceVersion && obj.metadata.resourceVersion !== old.metadata.resourceVersion)
      throw errors.conflict(
        rt,
        name,
        'the object has been modified; please apply your changes to the latest version and try again',
      );
    const object = this.commit(rt, old, obj, { manager: managerFrom(opts), operation: 'Update' }, opts);
    return { object, created: false };
  }

  /** Server-side apply (PATCH application/apply-patch+yaml): create or merge, with ownership. */
  apply(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    body: unknown,
    opts: WriteOptions,
  ): { object: KubeObject; created: boolean } {
    if (!opts.fieldManager)
      throw errors.badRequest(
        'metadata.managedFields.fieldManager: Required value: is required for apply patch',
      );
    const config = this.checkBody(rt, clone(body), namespace);
    if (config.apiVersion === undefined || config.kind === undefined)
      throw errors.badRequest('apiVersion and kind must be set in an apply configuration');
    if (config.metadata.name !== name)
      throw errors.badRequest(
        `the name of the object (${config.metadata.name ?? ''}) does not match the name on the URL (${name})`,
      );
    const old = this.tryGet(rt, namespace, name);
    if (!old) this.requireNamespace(rt, config.metadata.namespace, name);
    const rv = config.metadata.resourceVersion;
    if (rv && rv !== old?.metadata.resourceVersion)
      throw errors.conflict(
        rt,
        name,
        'the object has been modified; please apply your changes to the latest version and try again',
      );
    const scope = opts.subresource === 'status' ? 'status' : 'main';
    const { object, applied } = applyConfig(old, config, opts.fieldManager, scope);
    const owner: FieldOwner = { manager: opts.fieldManager, operation: 'Apply' };
    return { object: this.commit(rt, old, object, owner, opts, applied), created: !old };
  }

  /**
   * The one place objects are written. `next` is the whole proposed object; for a status
   * write only its status (and annotations) count.
   */
  private commit(
    rt: ResourceType,
    old: KubeObject | undefined,
    proposed: KubeObject,
    owner: FieldOwner,
    opts: WriteOptions,
    applied?: FieldSet,
  ): KubeObject {
    const scope = opts.subresource === 'status' ? 'status' : 'main';
    const hasStatusSubresource = rt.subresources.includes('status');
    let next = dropNulls(clone(proposed));
    if (scope === 'status') {
      if (!old) throw errors.notFound(rt, proposed.metadata.name ?? '');
      const base = clone(old);
      base.status = next.status;
      base.metadata.annotations = next.metadata.annotations;
      if (base.metadata.annotations === undefined) delete base.metadata.annotations;
      if (base.status === undefined) delete base.status;
      next = base;
    } else if (hasStatusSubresource) {
      if (old?.status !== undefined) next.status = clone(old.status);
      else delete next.status;
    }
    next.apiVersion = apiVersionOf(rt);
    next.kind = rt.kind;
    const meta = next.metadata;
    if (old) {
      meta.uid = old.metadata.uid;
      meta.creationTimestamp = old.metadata.creationTimestamp;
      meta.name = old.metadata.name;
      if (rt.namespaced) meta.namespace = old.metadata.namespace;
      const keep = meta as Record<string, unknown>;
      for (const k of ['deletionTimestamp', 'deletionGracePeriodSeconds', 'generation']) {
        if (old.metadata[k] !== undefined) keep[k] = old.metadata[k];
        else delete keep[k];
      }
    } else {
      meta.uid = randomUUID();
      meta.creationTimestamp = timestamp();
      delete meta.deletionTimestamp;
      delete meta.deletionGracePeriodSeconds;
      if (rt.generation) meta.generation = 1;
      else delete meta.generation;
      if (rt.resource === 'namespaces') next.status = { phase: 'Active' };
    }
    delete meta.resourceVersion;
    delete meta.selfLink;
    if (scope === 'main') {
      applyDefaults(rt, next, this.alloc, !old);
      const causes = validate(rt, next, old);
      if (causes.length > 0) throw errors.invalid(rt, meta.name ?? '', causes);
      if (
        old &&
        rt.generation &&
        (!deepEqual(specPart(old), specPart(next)) ||
          (rt.annotationsBumpGeneration &&
            !deepEqual(old.metadata.annotations ?? {}, next.metadata.annotations ?? {})))
      )
        meta.generation = (old.metadata.generation ?? 0) + 1;
    }
    const ownership = updateOwnership(
      old,
      next,
      {
        ...owner,
        apiVersion: apiVersionOf(rt),
        ...(opts.subresource ? { subresource: opts.subresource } : {}),
      },
      scope,
      applied,
      opts.force,
      zeroValue(resourceKey(rt), rt.builtin),
    );
    if (ownership.conflicts.length > 0) throw errors.applyConflict(rt, meta.name ?? '', ownership.conflicts);
    meta.managedFields = ownership.managedFields;
    if (meta.managedFields.length === 0) delete meta.managedFields;
    if (old && deepEqual(withoutVolatile(old), withoutVolatile(next))) return old;
    if (opts.dryRun) {
      if (old?.metadata.resourceVersion) meta.resourceVersion = old.metadata.resourceVersion;
      return next;
    }
    // Removing the last finalizer of an object being deleted completes its deletion.
    if (old && meta.deletionTimestamp && (meta.finalizers ?? []).length === 0 && rt.resource !== 'pods') {
      return this.store.remove(resourceKey(rt), meta.namespace, meta.name ?? '') ?? next;
    }
    return this.store.write(resourceKey(rt), next);
  }

  delete(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    opts: DeleteOptions = {},
  ): DeleteResult {
    const old = this.get(rt, namespace, name);
    const pre = opts.preconditions;
    if (pre?.uid && pre.uid !== old.metadata.uid)
      throw errors.conflict(
        rt,
        name,
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid ?? ''}`,
      );
    if (pre?.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion)
      throw errors.conflict(
        rt,
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion ?? ''}`,
      );
    if (opts.dryRun) return { kind: 'object', object: old };
    const key = resourceKey(rt);
    if (opts.propagationPolicy === 'Orphan') this.orphanDependents(old.metadata.uid ?? '');
    const graceful = this.gracePeriod(rt, old, opts);
    const finalizers = old.metadata.finalizers ?? [];
    if (finalizers.length > 0 || graceful > 0 || rt.resource === 'namespaces') {
      const next = clone(old);
      if (!next.metadata.deletionTimestamp) {
        next.metadata.deletionTimestamp = timestamp(Date.now() + graceful * 1000);
        if (rt.resource === 'pods') next.metadata.deletionGracePeriodSeconds = graceful;
        if (rt.resource === 'namespaces')
          next.status = { ...(isObject(next.status) ? next.status : {}), phase: 'Terminating' };
        if (rt.generation) next.metadata.generation = (next.metadata.generation ?? 0) + 1;
      } else if (rt.resource === 'pods' && graceful < (next.metadata.deletionGracePeriodSeconds ?? 0)) {
        next.metadata.deletionGracePeriodSeconds = graceful;
      } else return { kind: 'object', object: old };
      return { kind: 'object', object: this.store.write(key, next) };
    }
    const gone = this.store.remove(key, old.metadata.namespace, name) ?? old;
    if (!rt.builtin || rt.resource === 'pods') return { kind: 'object', object: gone };
    return {
      kind: 'status',
      object: gone,
      status: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Success',
        details: { name, group: rt.group, kind: rt.resource, uid: old.metadata.uid },
      },
    };
  }

  /** Pods on a node wait for the kubelet (their grace period); everything else goes at once. */
  private gracePeriod(rt: ResourceType, obj: KubeObject, opts: DeleteOptions): number {
    if (rt.resource !== 'pods') return 0;
    const spec = isObject(obj.spec) ? obj.spec : {};
    if (typeof spec.nodeName !== 'string') return 0;
    if (opts.gracePeriodSeconds !== undefined) return Math.max(0, opts.gracePeriodSeconds);
    if (obj.metadata.deletionGracePeriodSeconds !== undefined) return obj.metadata.deletionGracePeriodSeconds;
    return typeof spec.terminationGracePeriodSeconds === 'number' ? spec.terminationGracePeriodSeconds : 30;
  }

  /** Removes an object whose deletion is complete (a terminated pod, an emptied namespace). */
  finalizeDeletion(rt: ResourceType, namespace: string | undefined, name: string): void {
    const obj = this.tryGet(rt, namespace, name);
    if (obj?.metadata.deletionTimestamp && (obj.metadata.finalizers ?? []).length === 0)
      this.store.remove(resourceKey(rt), obj.metadata.namespace, name);
  }

  private orphanDependents(uid: string): void {
    for (const rt of this.resources.all) {
      for (const obj of this.store.list(resourceKey(rt))) {
        const refs = obj.metadata.ownerReferences ?? [];
        if (!refs.some((r) => r.uid === uid)) continue;
        const next = clone(obj);
        next.metadata.ownerReferences = refs.filter((r) => r.uid !== uid);
        if (next.metadata.ownerReferences.length === 0) delete next.metadata.ownerReferences;
        this.commit(rt, obj, next, { manager: 'kube-controller-manager', operation: 'Update' }, {});
      }
    }
  }

  deleteCollection(
    rt: ResourceType,
    namespace: string | undefined,
    opts: ListOptions & DeleteOptions,
  ): KubeObject[] {
    const out: KubeObject[] = [];
    for (const obj of this.list(rt, namespace, opts)) {
      try {
        out.push(this.delete(rt, obj.metadata.namespace, obj.metadata.name ?? '', opts).object);
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 404)) throw e;
      }
    }
    return out;
  }

  /** A controller's write: Update of the main resource or status, as manager `manager`. */
  write(rt: ResourceType, next: KubeObject, manager: string, subresource?: 'status'): KubeObject {
    const old = this.tryGet(rt, next.metadata.namespace, next.metadata.name ?? '');
    const owner: FieldOwner = { manager, operation: 'Update' };
    if (!old) {
      this.requireNamespace(rt, next.metadata.namespace, next.metadata.name ?? '');
      return this.commit(rt, undefined, clone(next), owner, {});
    }
    return this.commit(rt, old, clone(next), owner, subresource ? { subresource } : {});
  }
}

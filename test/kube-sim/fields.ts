/**
 * Field ownership (metadata.managedFields) and server-side apply, reduced from
 * sigs.k8s.io/structured-merge-diff to what our resource types need.
 *
 * A field set is a set of paths; a path is a list of elements in fieldsV1 notation:
 * `f:name` (map field), `k:{"name":"web"}` (item of an associative list), `v:"x"` (item of
 * a set list). List semantics come from the field's name (the OpenAPI list-type markers of
 * the types we serve); lists not named here are atomic.
 */
import type { KubeObject, ManagedFieldsEntry } from './types.js';
import { clone, deepEqual, isObject, type JsonObject, stableStringify, timestamp } from './util.js';

/** Associative lists: field name -> key fields. `ports` depends on the item (container or service port). */
const MAP_KEYS: Record<string, string[]> = {
  containers: ['name'],
  initContainers: ['name'],
  ephemeralContainers: ['name'],
  volumes: ['name'],
  env: ['name'],
  volumeMounts: ['mountPath'],
  volumeDevices: ['devicePath'],
  imagePullSecrets: ['name'],
  hostAliases: ['ip'],
  conditions: ['type'],
  ownerReferences: ['uid'],
  listeners: ['name'],
  topologySpreadConstraints: ['topologyKey', 'whenUnsatisfiable'],
  resourceClaims: ['name'],
};
const SET_LISTS = new Set(['finalizers']);
/**
 * Maps that are replaced as a whole (x-kubernetes-map-type: atomic): a Service's selector
 * map and every metav1.LabelSelector (`+structType=atomic`): a workload's or PDB's
 * selector, topologySpreadConstraints[].labelSelector, affinity terms' selectors.
 */
const ATOMIC_MAPS = new Set(['selector', 'labelSelector', 'namespaceSelector']);
/** Key fields with a schema default, as structured-merge-diff fills them in. */
const KEY_DEFAULTS: Record<string, unknown> = { protocol: 'TCP' };

export type ListKind = { type: 'map'; keys: string[] } | { type: 'set' } | { type: 'atomic' };

export function listKind(field: string | undefined, items: unknown[]): ListKind {
  if (field === undefined) return { type: 'atomic' };
  if (field === 'ports') {
    const first = items.find(isObject);
    if (first && 'containerPort' in first) return { type: 'map', keys: ['containerPort', 'protocol'] };
    if (first && 'port' in first) return { type: 'map', keys: ['port', 'protocol'] };
    return { type: 'atomic' };
  }
  const keys = MAP_KEYS[field];
  if (keys && items.every(isObject)) return { type: 'map', keys };
  if (SET_LISTS.has(field)) return { type: 'set' };
  return { type: 'atomic' };
}

export function itemKey(item: unknown, keys: string[]): string {
  const key: JsonObject = {};
  for (const k of keys) {
    const v = isObject(item) ? item[k] : undefined;
    if (v !== undefined) key[k] = v;
    else if (KEY_DEFAULTS[k] !== undefined) key[k] = KEY_DEFAULTS[k];
  }
  return `k:${stableStringify(key)}`;
}

/** A set of paths; each path is stored as the JSON of its element list. */
export type FieldSet = Set<string>;
type Path = string[];
const enc = (p: Path): string => JSON.stringify(p);
const dec = (s: string): Path => JSON.parse(s) as Path;

/** Metadata the server owns: never part of a field set. */
const SYSTEM_METADATA = [
  'name',
  'namespace',
  'generateName',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'managedFields',
  'selfLink',
];

/** The part of an object whose fields are tracked. */
function trackable(obj: KubeObject | undefined, scope: 'main' | 'status'): JsonObject {
  if (!obj) return {};
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind') continue;
    if (k === 'metadata' && isObject(v) && scope === 'main') {
      const meta = { ...v };
      for (const s of SYSTEM_METADATA) delete meta[s];
      if (Object.keys(meta).length > 0) out.metadata = meta;
      continue;
    }
    // status belongs to the status subresource; the status subresource owns only status (and annotations).
    if (scope === 'main' && k === 'status') continue;
    if (scope === 'status' && k !== 'status') continue;
    out[k] = v;
  }
  if (scope === 'status' && isObject(obj.metadata) && isObject(obj.metadata.annotations)) {
    out.metadata = { annotations: obj.metadata.annotations };
  }
  return out;
}

/**
 * Every path in a value. Without `withInner` (an applied configuration, as
 * structured-merge-diff's ToFieldSet has it): leaves, list items and atomic fields, but no
 * map, not even an empty one (`emptyDir: {}` is owned by nobody). With `withInner` (what an
 * Update added, as its Compare has it): every map and list too, empty ones included.
 */
function collect(
  value: unknown,
  path: Path,
  field: string | undefined,
  out: FieldSet,
  withInner: boolean,
): void {
  if (isObject(value) && !(field !== undefined && ATOMIC_MAPS.has(field))) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (path.length > 0 && withInner) out.add(enc(path));
    for (const [k, v] of entries) collect(v, [...path, `f:${k}`], k, out, withInner);
    return;
  }
  if (Array.isArray(value)) {
    const kind = listKind(field, value);
    if (kind.type === 'map') {
      if (withInner) out.add(enc(path));
      for (const item of value) {
        const p = [...path, itemKey(item, kind.keys)];
        out.add(enc(p));
        if (isObject(item))
          for (const [k, v] of Object.entries(item)) collect(v, [...p, `f:${k}`], k, out, withInner);
      }
      return;
    }
    if (kind.type === 'set') {
      if (withInner) out.add(enc(path));
      for (const item of value) out.add(enc([...path, `v:${stableStringify(item)}`]));
      return;
    }
  }
  if (path.length > 0) out.add(enc(path));
}

interface Comparison {
  added: FieldSet;
  modified: FieldSet;
  removed: FieldSet;
}

function compareValues(a: unknown, b: unknown, path: Path, field: string | undefined, out: Comparison): void {
  if (a === undefined && b === undefined) return;
  // A null (a Go nil slice or pointer the type always serializes) is there, only empty.
  if (a === null && (isObject(b) || Array.isArray(b))) a = Array.isArray(b) ? [] : {};
  if (b === null && (isObject(a) || Array.isArray(a))) b = Array.isArray(a) ? [] : {};
  if (a === undefined || b === undefined) {
    collect(a ?? b, path, field, a === undefined ? out.added : out.removed, true);
    return;
  }
  const atomicMap = field !== undefined && ATOMIC_MAPS.has(field);
  if (isObject(a) && isObject(b) && !atomicMap) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)]))
      compareValues(a[k], b[k], [...path, `f:${k}`], k, out);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const kind = listKind(field, b.length > 0 ? b : a);
    if (kind.type === 'map') {
      const ia = new Map(a.map((x) => [itemKey(x, kind.keys), x]));
      const ib = new Map(b.map((x) => [itemKey(x, kind.keys), x]));
      for (const key of new Set([...ia.keys(), ...ib.keys()])) {
        const p = [...path, key];
        const xa = ia.get(key);
        const xb = ib.get(key);
        if (xa === undefined) collect(xb, p, undefined, out.added, true);
        else if (xb === undefined) collect(xa, p, undefined, out.removed, true);
        else compareValues(xa, xb, p, undefined, out);
      }
      return;
    }
    if (kind.type === 'set') {
      const sa = new Set(a.map(stableStringify));
      const sb = new Set(b.map(stableStringify));
      for (const v of sb) if (!sa.has(v)) out.added.add(enc([...path, `v:${v}`]));
      for (const v of sa) if (!sb.has(v)) out.removed.add(enc([...path, `v:${v}`]));
      return;
    }
  }
  if (!deepEqual(a, b)) out.modified.add(enc(path));
}

function compare(a: JsonObject, b: JsonObject): Comparison {
  const out: Comparison = { added: new Set(), modified: new Set(), removed: new Set() };
  compareValues(a, b, [], undefined, out);
  return out;
}

/**
 * What a built-in object's zero value has on the wire: the Go structs that are no pointers
 * (always an object, maybe empty) and the slices without omitempty (null). The real server
 * compares typed objects, so an Update that fills these in owns their contents but never
 * the field itself (no "." entry: `f:spec`, `f:template`, `f:containers` and `f:status` carry
 * none), while a field that was absent before gets one. Custom resources have no zero value.
 */
type Zero = { [field: string]: Zero | null };
const POD_TEMPLATE: Zero = { metadata: {}, spec: { containers: null } };
const ZERO: Record<string, Zero> = {
  '/namespaces': { spec: {}, status: {} },
  '/nodes': { spec: {}, status: { daemonEndpoints: { kubeletEndpoint: {} }, nodeInfo: {} } },
  '/pods': { spec: { containers: null }, status: {} },
  '/services': { spec: {}, status: { loadBalancer: {} } },
  '/events': { involvedObject: {}, source: {} },
  'apps/deployments': {
    spec: { selector: null, template: POD_TEMPLATE, strategy: {} },
    status: {},
  },
  'apps/replicasets': { spec: { selector: null, template: POD_TEMPLATE }, status: {} },
  'networking.k8s.io/ingresses': { spec: {}, status: { loadBalancer: {} } },
  'networking.k8s.io/ingressclasses': { spec: {} },
  'coordination.k8s.io/leases': { spec: {} },
  'policy/poddisruptionbudgets': { spec: {}, status: {} },
  'discovery.k8s.io/endpointslices': { endpoints: null },
};

/** The zero value of a built-in type (by resource key `group/resource`), or undefined for CRDs. */
export function zeroValue(key: string, builtin: boolean): Zero | undefined {
  if (!builtin) return undefined;
  return { metadata: {}, ...(ZERO[key] ?? {}) };
}

/** Fills in what the zero value has and `obj` lacks (a copy; only for comparing). */
function withZero(obj: JsonObject, zero: Zero | undefined, scope: 'main' | 'status'): JsonObject {
  if (!zero) return obj;
  const fill = (o: JsonObject, z: Zero): JsonObject => {
    const out: JsonObject = { ...o };
    for (const [k, v] of Object.entries(z)) {
      if (out[k] === undefined) out[k] = v === null ? null : fill({}, v);
      else if (v !== null && isObject(out[k])) out[k] = fill(out[k] as JsonObject, v);
    }
    return out;
  };
  const inScope: Zero = {};
  for (const [k, v] of Object.entries(zero)) {
    if (scope === 'main' ? k !== 'status' : k === 'status' || k === 'metadata') inScope[k] = v;
  }
  return fill(obj, inScope);
}

/** fieldsV1 JSON (a trie with "." marking a path that is itself a member) <-> field set. */
export function toFieldsV1(set: FieldSet): Record<string, unknown> {
  const root: JsonObject = {};
  for (const s of set) {
    let at = root;
    for (const el of dec(s)) {
      const next = isObject(at[el]) ? (at[el] as JsonObject) : {};
      at[el] = next;
      at = next;
    }
  }
  // Members that have children carry ".": {}.
  for (const s of set) {
    let at: JsonObject = root;
    for (const el of dec(s)) at = at[el] as JsonObject;
    if (Object.keys(at).length > 0 && !('.' in at)) at['.'] = {};
  }
  return root;
}

export function fromFieldsV1(v1: unknown): FieldSet {
  const out: FieldSet = new Set();
  const walk = (node: unknown, path: Path) => {
    if (!isObject(node)) return;
    const keys = Object.keys(node);
    if (path.length > 0 && (keys.length === 0 || keys.includes('.'))) out.add(enc(path));
    for (const k of keys) if (k !== '.') walk(node[k], [...path, k]);
  };
  walk(v1, []);
  return out;
}

/** `.spec.template.spec.containers[name="web"].image`, as conflict messages name a field. */
export function describePath(s: string): string {
  return dec(s)
    .map((el) => {
      const kind = el.slice(0, 2);
      const rest = el.slice(2);
      if (kind === 'f:') return `.${rest}`;
      if (kind === 'v:') return `[=${rest}]`;
      if (kind === 'k:') {
        const key = JSON.parse(rest) as JsonObject;
        return `[${Object.entries(key)
          .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
          .join(',')}]`;
      }
      return el;
    })
    .join('');
}

/** Merges an apply configuration into the live object (structured-merge-diff's Merge). */
export function mergeApplied(live: unknown, config: unknown, field?: string): unknown {
  if (config === undefined) return clone(live);
  const atomicMap = field !== undefined && ATOMIC_MAPS.has(field);
  if (isObject(config) && isObject(live) && !atomicMap) {
    const out: JsonObject = clone(live);
    for (const [k, v] of Object.entries(config)) {
      if (v === null) delete out[k];
      else out[k] = mergeApplied(live[k], v, k);
    }
    return out;
  }
  if (Array.isArray(config) && Array.isArray(live)) {
    const kind = listKind(field, config.length > 0 ? config : live);
    if (kind.type === 'map') {
      const out = live.map((x) => clone(x));
      for (const item of config) {
        const key = itemKey(item, kind.keys);
        const at = out.findIndex((x) => itemKey(x, kind.keys) === key);
        if (at >= 0) out[at] = mergeApplied(out[at], item);
        else out.push(clone(item));
      }
      return out;
    }
    if (kind.type === 'set') {
      const out = live.map((x) => clone(x));
      for (const item of config) if (!out.some((x) => deepEqual(x, item))) out.push(clone(item));
      return out;
    }
  }
  return clone(config);
}

/** Removes one path from an object; returns false when it was not there. */
function removePath(root: JsonObject, path: Path): boolean {
  let at: unknown = root;
  let field: string | undefined;
  for (let i = 0; i < path.length; i++) {
    const el = path[i] ?? '';
    const last = i === path.length - 1;
    if (el.startsWith('f:')) {
      if (!isObject(at)) return false;
      const key = el.slice(2);
      if (last) {
        if (!(key in at)) return false;
        delete at[key];
        return true;
      }
      at = at[key];
      field = key;
    } else {
      if (!Array.isArray(at)) return false;
      const list: unknown[] = at;
      const kind = listKind(field, list);
      const index = el.startsWith('k:')
        ? list.findIndex((x) => kind.type === 'map' && itemKey(x, kind.keys) === el)
        : list.findIndex((x) => `v:${stableStringify(x)}` === el);
      if (index < 0) return false;
      if (last) {
        list.splice(index, 1);
        return true;
      }
      at = list[index];
      field = undefined;
    }
  }
  return false;
}

function isPrefix(prefix: Path, path: Path): boolean {
  return prefix.length <= path.length && prefix.every((el, i) => path[i] === el);
}

export interface FieldOwner {
  manager: string;
  operation: 'Apply' | 'Update';
  subresource?: string;
}

interface OwnedSet extends FieldOwner {
  apiVersion: string;
  time: string;
  set: FieldSet;
}

function readManaged(obj: KubeObject | undefined): OwnedSet[] {
  return (obj?.metadata.managedFields ?? []).map((e) => ({
    manager: e.manager,
    operation: e.operation,
    ...(e.subresource ? { subresource: e.subresource } : {}),
    apiVersion: e.apiVersion,
    time: e.time ?? '',
    set: fromFieldsV1(e.fieldsV1),
  }));
}

const sameOwner = (a: FieldOwner, b: FieldOwner): boolean =>
  a.manager === b.manager && a.operation === b.operation && (a.subresource ?? '') === (b.subresource ?? '');

function writeManaged(sets: OwnedSet[]): ManagedFieldsEntry[] {
  return sets
    .filter((s) => s.set.size > 0)
    .map((s) => ({
      manager: s.manager,
      operation: s.operation,
      apiVersion: s.apiVersion,
      // The real server's scale handler writes its entries back without a time.
      ...(s.subresource === 'scale' ? {} : { time: s.time }),
      fieldsType: 'FieldsV1' as const,
      fieldsV1: toFieldsV1(s.set),
      ...(s.subresource ? { subresource: s.subresource } : {}),
    }));
}

/**
 * The apply half of server-side apply: merges `config` into `live`, then prunes what this
 * manager applied last time but no longer applies, unless another manager owns it.
 * Returns the merged object (system metadata from live) and the config's field set.
 */
export function applyConfig(
  live: KubeObject | undefined,
  config: KubeObject,
  manager: string,
  scope: 'main' | 'status',
): { object: KubeObject; applied: FieldSet } {
  const tracked = trackable(config, scope);
  const applied: FieldSet = new Set();
  collect(tracked, [], undefined, applied, false);
  const base: JsonObject = live
    ? clone(live)
    : { apiVersion: config.apiVersion, kind: config.kind, metadata: {} };
  const merged = mergeApplied(base, tracked) as KubeObject;
  merged.apiVersion = config.apiVersion ?? merged.apiVersion;
  merged.kind = config.kind ?? merged.kind;
  if (!live) {
    merged.metadata.name = config.metadata.name;
    if (config.metadata.namespace) merged.metadata.namespace = config.metadata.namespace;
  }
  const owners = readManaged(live);
  const mine = owners.find((o) =>
    sameOwner(o, { manager, operation: 'Apply', subresource: scopeName(scope) }),
  );
  if (mine) {
    const others = owners.filter((o) => o !== mine);
    const dropped = [...mine.set].filter((p) => !applied.has(p)).map(dec);
    // Deepest first, so that an item's fields go before the item.
    dropped.sort((a, b) => b.length - a.length);
    for (const path of dropped) {
      const ownedElsewhere = others.some((o) => [...o.set].some((p) => isPrefix(path, dec(p))));
      const stillApplied = [...applied].some((p) => isPrefix(path, dec(p)));
      if (!ownedElsewhere && !stillApplied) removePath(merged as JsonObject, path);
    }
  }
  return { object: merged, applied };
}

function scopeName(scope: 'main' | 'status'): string | undefined {
  return scope === 'status' ? 'status' : undefined;
}

/** A field another manager owns, as a conflict names it. */
export interface FieldConflict {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  subresource?: string;
  /** `.spec.replicas` */
  field: string;
  /** The path elements, for ordering as structured-merge-diff iterates a field set. */
  path: string[];
}

/**
 * structured-merge-diff's field set order: at each level the fields ending there come
 * before deeper ones, each group ordered by element (f: < k: < v:).
 */
export function comparePaths(a: readonly string[], b: readonly string[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  if (i === a.length || i === b.length) return a.length - b.length;
  const aLeaf = i === a.length - 1;
  const bLeaf = i === b.length - 1;
  if (aLeaf !== bLeaf) return aLeaf ? -1 : 1;
  const x = a[i] ?? '';
  const y = b[i] ?? '';
  return x < y ? -1 : x > y ? 1 : 0;
}

export interface OwnershipChange {
  managedFields: ManagedFieldsEntry[];
  conflicts: FieldConflict[];
}

/**
 * Records who owns what after a write from `live` to `next`. An Update takes the fields it
 * changed from everyone else; an Apply owns exactly `applied` and conflicts with other owners
 * of fields whose values it changes (reported unless `force`).
 */
export function updateOwnership(
  live: KubeObject | undefined,
  next: KubeObject,
  owner: FieldOwner & { apiVersion: string },
  scope: 'main' | 'status',
  applied?: FieldSet,
  force = false,
  zero?: Zero,
): OwnershipChange {
  const diff = compare(
    withZero(trackable(live, scope), zero, scope),
    withZero(trackable(next, scope), zero, scope),
  );
  const changed = new Set([...diff.added, ...diff.modified]);
  const owners = readManaged(live);
  const conflicts: FieldConflict[] = [];
  for (const o of owners) {
    if (o.manager === owner.manager) continue;
    for (const p of o.set) {
      if (!changed.has(p)) continue;
      if (owner.operation === 'Apply' && !force)
        conflicts.push({
          manager: o.manager,
          operation: o.operation,
          apiVersion: o.apiVersion,
          ...(o.subresource ? { subresource: o.subresource } : {}),
          field: describePath(p),
          path: dec(p),
        });
      o.set.delete(p);
    }
  }
  for (const o of owners) for (const p of diff.removed) o.set.delete(p);
  const now = timestamp();
  let mine = owners.find((o) => sameOwner(o, owner));
  if (!mine) {
    mine = { ...owner, time: now, set: new Set() };
    owners.push(mine);
  }
  const before = new Set(mine.set);
  if (owner.operation === 'Apply') mine.set = new Set(applied ?? []);
  else for (const p of changed) mine.set.add(p);
  for (const p of diff.removed) mine.set.delete(p);
  mine.apiVersion = owner.apiVersion;
  if (!(before.size === mine.set.size && [...before].every((p) => mine.set.has(p))) || changed.size > 0)
    mine.time = now;
  return { managedFields: writeManaged(owners), conflicts };
}

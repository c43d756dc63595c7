/** The three non-apply patch types: JSON merge patch, strategic merge patch, JSON patch. */
import { errors } from './errors.js';
import { clone, deepEqual, isObject, type JsonObject } from './util.js';

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const out: JsonObject = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** patchMergeKey of the built-in types, by field name. Lists not named here are replaced. */
function smpMergeKey(field: string, item: unknown): string | undefined {
  switch (field) {
    case 'containers':
    case 'initContainers':
    case 'ephemeralContainers':
    case 'volumes':
    case 'env':
    case 'imagePullSecrets':
    case 'resourceClaims':
      return 'name';
    case 'volumeMounts':
      return 'mountPath';
    case 'volumeDevices':
      return 'devicePath';
    case 'hostAliases':
      return 'ip';
    case 'conditions':
      return 'type';
    case 'ownerReferences':
      return 'uid';
    case 'ports':
      return isObject(item) && 'containerPort' in item ? 'containerPort' : 'port';
    case 'topologySpreadConstraints':
      return 'topologyKey';
    default:
      return undefined;
  }
}
/** Keys of a strategic merge patch that steer the merge instead of carrying data. */
function isDirectiveKey(k: string): boolean {
  return (
    k === DIRECTIVE ||
    k === RETAIN_KEYS ||
    k.startsWith(ORDER_PREFIX) ||
    k.startsWith(DELETE_PRIMITIVE_PREFIX)
  );
}

/** Primitive lists with patchStrategy merge. */
const MERGED_PRIMITIVE_LISTS = new Set(['finalizers']);

const DIRECTIVE = '$patch';
const ORDER_PREFIX = '$setElementOrder/';
const DELETE_PRIMITIVE_PREFIX = '$deleteFromPrimitiveList/';
const RETAIN_KEYS = '$retainKeys';

function stripDirectives(v: unknown): unknown {
  if (Array.isArray(v))
    return v.filter((x) => !(isObject(x) && x[DIRECTIVE] !== undefined)).map(stripDirectives);
  if (!isObject(v)) return v;
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(v)) {
    if (isDirectiveKey(k)) continue;
    if (x !== null) out[k] = stripDirectives(x);
  }
  return out;
}

function mergeList(original: unknown, patch: unknown[], field: string): unknown[] {
  const replace = patch.find((x) => isObject(x) && x[DIRECTIVE] === 'replace');
  if (replace) return stripDirectives(patch.filter((x) => x !== replace)) as unknown[];
  const orig = Array.isArray(original) ? clone(original) : [];
  const first = patch[0] ?? orig[0];
  const key = smpMergeKey(field, first);
  if (key === undefined || !patch.every(isObject)) {
    if (MERGED_PRIMITIVE_LISTS.has(field)) {
      const out = [...orig];
      for (const x of patch) if (!out.some((y) => deepEqual(x, y))) out.push(x);
      return out;
    }
    return stripDirectives(patch) as unknown[];
  }
  let out = orig;
  for (const item of patch) {
    if (!isObject(item)) continue;
    const at = out.findIndex((x) => isObject(x) && deepEqual(x[key], item[key]));
    if (item[DIRECTIVE] === 'delete') {
      out = out.filter((x) => !(isObject(x) && deepEqual(x[key], item[key])));
      continue;
    }
    if (at >= 0) out[at] = strategicMergePatch(out[at], item);
    else out.push(stripDirectives(item));
  }
  return out;
}

/** Orders `list` as `order` names its items (by merge key or value); the rest keep their place at the end. */
function setOrder(list: unknown[], order: unknown[], field: string): unknown[] {
  const key = smpMergeKey(field, order[0]);
  const id = (x: unknown) => (key !== undefined && isObject(x) ? x[key] : x);
  const ordered: unknown[] = [];
  for (const o of order) {
    const match = list.find((x) => deepEqual(id(x), id(o)));
    if (match !== undefined && !ordered.includes(match)) ordered.push(match);
  }
  return [...ordered, ...list.filter((x) => !ordered.includes(x))];
}

/** Kubernetes strategic merge patch for the built-in types (merge keys by field name). */
export function strategicMergePatch(original: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  if (patch[DIRECTIVE] === 'replace') return stripDirectives(patch);
  if (patch[DIRECTIVE] === 'delete') return undefined;
  let out: JsonObject = isObject(original) ? clone(original) : {};
  const retain = patch[RETAIN_KEYS];
  if (Array.isArray(retain)) {
    const keep = new Set(retain.map(String));
    out = Object.fromEntries(Object.entries(out).filter(([k]) => keep.has(k)));
  }
  for (const [k, v] of Object.entries(patch)) {
    if (isDirectiveKey(k)) continue;
    if (v === null) delete out[k];
    else if (Array.isArray(v)) out[k] = mergeList(out[k], v, k);
    else if (isObject(v)) {
      const merged = strategicMergePatch(out[k], v);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    } else out[k] = v;
  }
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith(DELETE_PRIMITIVE_PREFIX) && Array.isArray(v)) {
      const field = k.slice(DELETE_PRIMITIVE_PREFIX.length);
      const list = out[field];
      if (Array.isArray(list)) out[field] = list.filter((x) => !v.some((d) => deepEqual(d, x)));
    }
    if (k.startsWith(ORDER_PREFIX) && Array.isArray(v)) {
      const field = k.slice(ORDER_PREFIX.length);
      const list = out[field];
      if (Array.isArray(list)) out[field] = setOrder(list, v, field);
    }
  }
  return out;
}

interface JsonPatchOp {
  op: string;
  path: string;
  from?: string;
  value?: unknown;
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw errors.unprocessable(`invalid JSON pointer: ${pointer}`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function resolveParent(doc: unknown, tokens: string[], pointer: string): { parent: unknown; last: string } {
  let at = doc;
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(at)) at = at[Number(t)];
    else if (isObject(at)) at = at[t];
    else at = undefined;
    if (at === undefined) throw errors.unprocessable(`jsonpatch: path ${pointer}: missing parent ${t}`);
  }
  return { parent: at, last: tokens[tokens.length - 1] ?? '' };
}

function getAt(doc: unknown, pointer: string): unknown {
  let at = doc;
  for (const t of parsePointer(pointer)) {
    if (Array.isArray(at)) at = at[Number(t)];
    else if (isObject(at)) at = at[t];
    else return undefined;
  }
  return at;
}

function applyOp(doc: unknown, op: JsonPatchOp): unknown {
  const tokens = parsePointer(op.path);
  if (tokens.length === 0) {
    if (op.op === 'add' || op.op === 'replace') return clone(op.value);
    if (op.op === 'test') {
      if (!deepEqual(doc, op.value)) throw errors.unprocessable('jsonpatch test operation does not apply');
      return doc;
    }
    throw errors.unprocessable(`jsonpatch ${op.op} on the document root is not supported`);
  }
  const { parent, last } = resolveParent(doc, tokens, op.path);
  const missing = () =>
    errors.unprocessable(`jsonpatch ${op.op} operation does not apply: doc is missing path: "${op.path}"`);
  switch (op.op) {
    case 'add': {
      if (Array.isArray(parent)) {
        const index = last === '-' ? parent.length : Number(last);
        if (!Number.isInteger(index) || index < 0 || index > parent.length) throw missing();
        parent.splice(index, 0, clone(op.value));
      } else if (isObject(parent)) parent[last] = clone(op.value);
      else throw missing();
      return doc;
    }
    case 'remove':
    case 'replace': {
      if (Array.isArray(parent)) {
        const index = Number(last);
        if (!Number.isInteger(index) || index < 0 || index >= parent.length) throw missing();
        if (op.op === 'remove') parent.splice(index, 1);
        else parent[index] = clone(op.value);
      } else if (isObject(parent) && last in parent) {
        if (op.op === 'remove') delete parent[last];
        else parent[last] = clone(op.value);
      } else throw missing();
      return doc;
    }
    case 'test':
      if (!deepEqual(getAt(doc, op.path), op.value))
        throw errors.unprocessable(`jsonpatch test operation does not apply: path "${op.path}"`);
      return doc;
    case 'move':
    case 'copy': {
      const from = op.from ?? '';
      const value = getAt(doc, from);
      if (value === undefined)
        throw errors.unprocessable(`jsonpatch ${op.op}: from path "${from}" is missing`);
      let next = doc;
      if (op.op === 'move') next = applyOp(next, { op: 'remove', path: from });
      return applyOp(next, { op: 'add', path: op.path, value: clone(value) });
    }
    default:
      throw errors.unprocessable(`jsonpatch: unknown operation "${op.op}"`);
  }
}

/** RFC 6902 JSON patch. */
export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw errors.badRequest('a JSON patch must be a JSON array of operations');
  let doc = clone(target);
  for (const op of ops) {
    if (!isObject(op) || typeof op.op !== 'string' || typeof op.path !== 'string')
      throw errors.badRequest(`invalid JSON patch operation: ${JSON.stringify(op)}`);
    doc = applyOp(doc, {
      op: op.op,
      path: op.path,
      ...(typeof op.from === 'string' ? { from: op.from } : {}),
      ...('value' in op ? { value: op.value } : {}),
    });
  }
  return doc;
}

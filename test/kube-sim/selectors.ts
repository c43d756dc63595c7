/** Label and field selectors, in their query-string and LabelSelector forms. */
import { errors } from './errors.js';
import type { KubeObject } from './types.js';
import { asArray, asString, isObject } from './util.js';

type Requirement =
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | '!exists' };

export type Matcher = (labels: Record<string, string>) => boolean;

function matches(reqs: Requirement[], labels: Record<string, string>): boolean {
  return reqs.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    const value = labels[r.key];
    switch (r.op) {
      case 'exists':
        return has;
      case '!exists':
        return !has;
      case 'in':
        return has && value !== undefined && r.values.includes(value);
      case 'notin':
        return !has || (value !== undefined && !r.values.includes(value));
    }
    return false;
  });
}

/** Splits on commas that are not inside a (set, of, values). */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

/** Parses `app=web,tier!=db,env in (a,b),!legacy,track`. */
export function parseLabelSelector(text: string | null | undefined): Matcher {
  if (!text) return () => true;
  const reqs: Requirement[] = [];
  for (const part of splitTopLevel(text)) {
    let m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(part);
    if (m?.[1] && m[2]) {
      reqs.push({
        key: m[1],
        op: m[2] as 'in' | 'notin',
        values: (m[3] ?? '')
          .split(',')
          .map((v) => v.trim())
          .filter(Boolean),
      });
      continue;
    }
    m = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(part);
    if (m?.[1] && m[2]) {
      reqs.push({ key: m[1], op: m[2] === '!=' ? 'notin' : 'in', values: [m[3] ?? ''] });
      continue;
    }
    m = /^(!?)([\w./-]+)$/.exec(part);
    if (m?.[2]) {
      reqs.push({ key: m[2], op: m[1] ? '!exists' : 'exists' });
      continue;
    }
    throw errors.badRequest(`unable to parse requirement: ${part}`);
  }
  return (labels) => matches(reqs, labels);
}

/** A metav1.LabelSelector (matchLabels + matchExpressions). An empty selector matches everything. */
export function labelSelectorMatcher(selector: unknown): Matcher {
  if (!isObject(selector)) return () => false;
  const reqs: Requirement[] = [];
  if (isObject(selector.matchLabels)) {
    for (const [key, v] of Object.entries(selector.matchLabels))
      reqs.push({ key, op: 'in', values: [String(v)] });
  }
  for (const e of asArray(selector.matchExpressions)) {
    if (!isObject(e)) continue;
    const key = asString(e.key) ?? '';
    const values = asArray(e.values).map(String);
    switch (e.operator) {
      case 'In':
        reqs.push({ key, op: 'in', values });
        break;
      case 'NotIn':
        reqs.push({ key, op: 'notin', values });
        break;
      case 'Exists':
        reqs.push({ key, op: 'exists' });
        break;
      case 'DoesNotExist':
        reqs.push({ key, op: '!exists' });
        break;
    }
  }
  return (labels) => matches(reqs, labels);
}

/** `app=web,tier=db` from a LabelSelector, as the Scale subresource and kubectl print it. */
export function labelSelectorString(selector: unknown): string {
  if (!isObject(selector)) return '';
  const parts: string[] = [];
  if (isObject(selector.matchLabels))
    for (const [k, v] of Object.entries(selector.matchLabels)) parts.push(`${k}=${String(v)}`);
  for (const e of asArray(selector.matchExpressions)) {
    if (!isObject(e)) continue;
    const values = asArray(e.values).map(String).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    if (e.operator === 'Exists') parts.push(String(e.key));
    if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.join(',');
}

export type ObjectFilter = (obj: KubeObject) => boolean;

function fieldValue(obj: KubeObject, path: string): string {
  let at: unknown = obj;
  for (const key of path.split('.')) at = isObject(at) ? at[key] : undefined;
  if (at === undefined || at === null) return '';
  return typeof at === 'string' ? at : String(at);
}

/** Parses `metadata.name=web,status.phase!=Running` (any dotted path, = == !=). */
export function parseFieldSelector(text: string | null | undefined): ObjectFilter {
  if (!text) return () => true;
  const tests: ((obj: KubeObject) => boolean)[] = [];
  for (const part of splitTopLevel(text)) {
    const m = /^([\w.]+)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (!m?.[1] || !m[2]) throw errors.badRequest(`invalid field selector: ${part}`);
    const [, path, op, value = ''] = m;
    tests.push((obj) => (fieldValue(obj, path) === value) === (op !== '!='));
  }
  return (obj) => tests.every((t) => t(obj));
}

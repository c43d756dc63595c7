/**
 * Validation the real API server does on the types sitepipe writes (a subset: what a
 * wrong manifest most likely trips). Errors come back as 422 Invalid with one cause each.
 */
import type { StatusCause } from './errors.js';
import type { ResourceType } from './resources.js';
import { labelSelectorMatcher } from './selectors.js';
import type { KubeObject } from './types.js';
import { asArray, asStringMap, deepEqual, getPath, isObject } from './util.js';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

const required = (field: string): StatusCause => ({
  reason: 'FieldValueRequired',
  message: 'Required value',
  field,
});

function invalid(field: string, value: unknown, why: string): StatusCause {
  const shown = typeof value === 'string' ? JSON.stringify(value) : goValue(value);
  return { reason: 'FieldValueInvalid', message: `Invalid value: ${shown}: ${why}`, field };
}

/** Roughly how Go's %#v prints the values that appear in messages. */
function goValue(v: unknown): string {
  if (isObject(v) && Object.values(v).every((x) => typeof x === 'string'))
    return `map[string]string{${Object.entries(v)
      .map(([k, x]) => `${JSON.stringify(k)}:${JSON.stringify(x)}`)
      .join(', ')}}`;
  return JSON.stringify(v) ?? 'null';
}

function nameFormat(rt: ResourceType): { re: RegExp; why: string } {
  if (rt.resource === 'namespaces')
    return {
      re: DNS1123_LABEL,
      why: "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
    };
  if (rt.resource === 'services')
    return {
      re: DNS1035_LABEL,
      why: "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
    };
  return {
    re: DNS1123_SUBDOMAIN,
    why: "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
  };
}

function validateMeta(rt: ResourceType, obj: KubeObject, out: StatusCause[]): void {
  const name = obj.metadata.name;
  if (!name) out.push(required('metadata.name'));
  else {
    const { re, why } = nameFormat(rt);
    const max = rt.resource === 'namespaces' || rt.resource === 'services' ? 63 : 253;
    if (!re.test(name) || name.length > max) out.push(invalid('metadata.name', name, why));
  }
  for (const [k, v] of Object.entries(obj.metadata.labels ?? {})) {
    if (!QUALIFIED_NAME.test(k))
      out.push(
        invalid('metadata.labels', k, "name part must consist of alphanumeric characters, '-', '_' or '.'"),
      );
    if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v))
      out.push(
        invalid(
          'metadata.labels',
          v,
          "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        ),
      );
  }
}

function validatePodSpec(spec: unknown, at: string, out: StatusCause[]): void {
  if (!isObject(spec)) {
    out.push(required(at));
    return;
  }
  const containers = asArray(spec.containers);
  if (containers.length === 0) out.push(required(`${at}.containers`));
  const names = new Set<string>();
  for (const [i, c] of containers.entries()) {
    const f = `${at}.containers[${i}]`;
    if (!isObject(c)) continue;
    if (typeof c.name !== 'string' || c.name === '') out.push(required(`${f}.name`));
    else if (!DNS1123_LABEL.test(c.name))
      out.push(
        invalid(
          `${f}.name`,
          c.name,
          "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'",
        ),
      );
    else if (names.has(c.name))
      out.push({
        reason: 'FieldValueDuplicate',
        message: `Duplicate value: ${JSON.stringify(c.name)}`,
        field: `${f}.name`,
      });
    else names.add(c.name);
    if (typeof c.image !== 'string' || c.image.trim() === '') out.push(required(`${f}.image`));
    for (const [j, p] of asArray(c.ports).entries()) {
      const port = isObject(p) ? p.containerPort : undefined;
      if (typeof port !== 'number' || port < 1 || port > 65535)
        out.push(invalid(`${f}.ports[${j}].containerPort`, port, 'must be between 1 and 65535, inclusive'));
    }
  }
}

function intOrPercent(v: unknown, total: number, roundUp: boolean): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^\d+%$/.test(v)) {
    const x = (Number.parseInt(v, 10) * total) / 100;
    return roundUp ? Math.ceil(x) : Math.floor(x);
  }
  return Number.NaN;
}

function validateWorkload(
  obj: KubeObject,
  old: KubeObject | undefined,
  deployment: boolean,
  out: StatusCause[],
): void {
  const spec = obj.spec;
  if (!isObject(spec)) {
    out.push(required('spec'));
    return;
  }
  const selector = spec.selector;
  const hasSelector =
    isObject(selector) &&
    (Object.keys(asStringMap(selector.matchLabels)).length > 0 ||
      asArray(selector.matchExpressions).length > 0);
  if (!hasSelector) out.push({ ...required('spec.selector'), message: 'Required value' });
  const labels = asStringMap(getPath(spec, 'template', 'metadata', 'labels'));
  if (hasSelector && !labelSelectorMatcher(selector)(labels))
    out.push(invalid('spec.template.metadata.labels', labels, '`selector` does not match template `labels`'));
  if (typeof spec.replicas === 'number' && spec.replicas < 0)
    out.push(invalid('spec.replicas', spec.replicas, 'must be greater than or equal to 0'));
  validatePodSpec(getPath(spec, 'template', 'spec'), 'spec.template.spec', out);
  const restart = getPath(spec, 'template', 'spec', 'restartPolicy');
  if (restart !== undefined && restart !== 'Always')
    out.push({
      reason: 'FieldValueNotSupported',
      message: `Unsupported value: ${JSON.stringify(restart)}: supported values: "Always"`,
      field: 'spec.template.spec.restartPolicy',
    });
  if (deployment) {
    const strategy = isObject(spec.strategy) ? spec.strategy : {};
    if (strategy.type === 'Recreate' && strategy.rollingUpdate !== undefined)
      out.push({
        reason: 'FieldValueForbidden',
        message: "Forbidden: may not be specified when strategy `type` is 'Recreate'",
        field: 'spec.strategy.rollingUpdate',
      });
    if (strategy.type === 'RollingUpdate' && isObject(strategy.rollingUpdate)) {
      const surge = intOrPercent(strategy.rollingUpdate.maxSurge, 100, true);
      const unavailable = intOrPercent(strategy.rollingUpdate.maxUnavailable, 100, false);
      if (Number.isNaN(surge))
        out.push(
          invalid(
            'spec.strategy.rollingUpdate.maxSurge',
            strategy.rollingUpdate.maxSurge,
            "must be an integer or percentage (e.g '5%')",
          ),
        );
      if (Number.isNaN(unavailable))
        out.push(
          invalid(
            'spec.strategy.rollingUpdate.maxUnavailable',
            strategy.rollingUpdate.maxUnavailable,
            "must be an integer or percentage (e.g '5%')",
          ),
        );
      if (surge === 0 && unavailable === 0)
        out.push(
          invalid(
            'spec.strategy.rollingUpdate.maxUnavailable',
            strategy.rollingUpdate.maxUnavailable,
            'may not be 0 when `maxSurge` is 0',
          ),
        );
    }
    const deadline = spec.progressDeadlineSeconds;
    const minReady = typeof spec.minReadySeconds === 'number' ? spec.minReadySeconds : 0;
    if (typeof deadline === 'number' && deadline <= minReady)
      out.push(invalid('spec.progressDeadlineSeconds', deadline, 'must be greater than minReadySeconds'));
  }
  if (old && isObject(old.spec) && !deepEqual(old.spec.selector, spec.selector))
    out.push(invalid('spec.selector', spec.selector, 'field is immutable'));
}

function validateService(obj: KubeObject, old: KubeObject | undefined, out: StatusCause[]): void {
  const spec = isObject(obj.spec) ? obj.spec : {};
  const ports = asArray(spec.ports);
  if (spec.type !== 'ExternalName' && spec.clusterIP !== 'None' && ports.length === 0)
    out.push(required('spec.ports'));
  for (const [i, p] of ports.entries()) {
    if (!isObject(p)) continue;
    if (typeof p.port !== 'number' || p.port < 1 || p.port > 65535)
      out.push(invalid(`spec.ports[${i}].port`, p.port, 'must be between 1 and 65535, inclusive'));
    if (ports.length > 1 && (typeof p.name !== 'string' || p.name === ''))
      out.push(required(`spec.ports[${i}].name`));
  }
  const oldIP = getPath(old, 'spec', 'clusterIP');
  if (old && oldIP !== undefined && spec.clusterIP !== undefined && spec.clusterIP !== oldIP)
    out.push(invalid('spec.clusterIPs[0]', spec.clusterIP, 'may not change once set'));
}

function validateIngress(obj: KubeObject, out: StatusCause[]): void {
  for (const [i, rule] of asArray(getPath(obj, 'spec', 'rules')).entries()) {
    for (const [j, path] of asArray(getPath(rule, 'http', 'paths')).entries()) {
      const f = `spec.rules[${i}].http.paths[${j}]`;
      if (!isObject(path)) continue;
      if (path.pathType === undefined)
        out.push({ ...required(`${f}.pathType`), message: 'Required value: pathType must be specified' });
      if (!isObject(path.backend)) out.push(required(`${f}.backend`));
    }
  }
}

/** Returns what is wrong; empty when the object is valid. */
export function validate(rt: ResourceType, obj: KubeObject, old: KubeObject | undefined): StatusCause[] {
  const out: StatusCause[] = [];
  validateMeta(rt, obj, out);
  switch (`${rt.group}/${rt.resource}`) {
    case 'apps/deployments':
      validateWorkload(obj, old, true, out);
      break;
    case 'apps/replicasets':
      validateWorkload(obj, old, false, out);
      break;
    case '/pods':
      validatePodSpec(obj.spec, 'spec', out);
      break;
    case '/services':
      validateService(obj, old, out);
      break;
    case 'networking.k8s.io/ingresses':
      validateIngress(obj, out);
      break;
  }
  return out;
}

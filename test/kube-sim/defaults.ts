/**
 * Defaulting, as the real API server fills in fields on every write. Only the defaults of
 * the types sitepipe touches; an unlisted field stays as sent.
 */
import type { ResourceType } from './resources.js';
import type { KubeObject } from './types.js';
import { asArray, isObject, type JsonObject } from './util.js';

function setDefault(obj: JsonObject, key: string, value: unknown): void {
  if (obj[key] === undefined) obj[key] = value;
}

function defaultProbe(probe: unknown): void {
  if (!isObject(probe)) return;
  setDefault(probe, 'timeoutSeconds', 1);
  setDefault(probe, 'periodSeconds', 10);
  setDefault(probe, 'successThreshold', 1);
  setDefault(probe, 'failureThreshold', 3);
  if (isObject(probe.httpGet)) setDefault(probe.httpGet, 'scheme', 'HTTP');
}

function imagePullPolicy(image: unknown): string {
  if (typeof image !== 'string') return 'IfNotPresent';
  const name = image.split('@')[0] ?? image;
  const lastSlash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  const tag = colon > lastSlash ? name.slice(colon + 1) : '';
  return image.includes('@') ? 'IfNotPresent' : tag === '' || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultContainer(c: unknown): void {
  if (!isObject(c)) return;
  setDefault(c, 'terminationMessagePath', '/dev/termination-log');
  setDefault(c, 'terminationMessagePolicy', 'File');
  setDefault(c, 'imagePullPolicy', imagePullPolicy(c.image));
  setDefault(c, 'resources', {});
  for (const p of asArray(c.ports)) if (isObject(p)) setDefault(p, 'protocol', 'TCP');
  for (const env of asArray(c.env)) {
    if (isObject(env) && isObject(env.valueFrom) && isObject(env.valueFrom.fieldRef))
      setDefault(env.valueFrom.fieldRef, 'apiVersion', 'v1');
  }
  defaultProbe(c.readinessProbe);
  defaultProbe(c.livenessProbe);
  defaultProbe(c.startupProbe);
}

export function defaultPodSpec(spec: unknown): void {
  if (!isObject(spec)) return;
  setDefault(spec, 'restartPolicy', 'Always');
  setDefault(spec, 'terminationGracePeriodSeconds', 30);
  setDefault(spec, 'dnsPolicy', 'ClusterFirst');
  setDefault(spec, 'securityContext', {});
  setDefault(spec, 'schedulerName', 'default-scheduler');
  for (const c of asArray(spec.containers)) defaultContainer(c);
  for (const c of asArray(spec.initContainers)) defaultContainer(c);
}

function defaultWorkload(spec: JsonObject, deployment: boolean): void {
  setDefault(spec, 'replicas', 1);
  if (deployment) {
    setDefault(spec, 'revisionHistoryLimit', 10);
    setDefault(spec, 'progressDeadlineSeconds', 600);
    const strategy = isObject(spec.strategy) ? spec.strategy : {};
    spec.strategy = strategy;
    setDefault(strategy, 'type', 'RollingUpdate');
    if (strategy.type === 'RollingUpdate') {
      const ru = isObject(strategy.rollingUpdate) ? strategy.rollingUpdate : {};
      strategy.rollingUpdate = ru;
      setDefault(ru, 'maxUnavailable', '25%');
      setDefault(ru, 'maxSurge', '25%');
    }
  }
  if (isObject(spec.template)) defaultPodSpec(spec.template.spec);
}

/** An address from the service CIDR. Data only: nothing listens there; use the sim's proxy ports. */
export interface IpAllocator {
  clusterIP(family: 'IPv4' | 'IPv6'): string;
}

function defaultService(spec: JsonObject, alloc: IpAllocator, creating: boolean): void {
  setDefault(spec, 'type', 'ClusterIP');
  setDefault(spec, 'sessionAffinity', 'None');
  setDefault(spec, 'internalTrafficPolicy', 'Cluster');
  if (spec.type === 'LoadBalancer' || spec.type === 'NodePort')
    setDefault(spec, 'externalTrafficPolicy', 'Cluster');
  if (spec.type === 'LoadBalancer') setDefault(spec, 'allocateLoadBalancerNodePorts', true);
  for (const [i, p] of asArray(spec.ports).entries()) {
    if (!isObject(p)) continue;
    setDefault(p, 'protocol', 'TCP');
    setDefault(p, 'targetPort', p.port);
    if ((spec.type === 'LoadBalancer' || spec.type === 'NodePort') && p.nodePort === undefined)
      p.nodePort = 30000 + ((Number(p.port) * 7 + i * 13) % 2768);
  }
  if (spec.type === 'ExternalName') return;
  setDefault(spec, 'ipFamilyPolicy', 'SingleStack');
  const dual = spec.ipFamilyPolicy === 'PreferDualStack' || spec.ipFamilyPolicy === 'RequireDualStack';
  setDefault(spec, 'ipFamilies', dual ? ['IPv4', 'IPv6'] : ['IPv4']);
  if (creating && spec.clusterIP === undefined) {
    const families = asArray(spec.ipFamilies).map(String) as ('IPv4' | 'IPv6')[];
    const ips = families.map((f) => alloc.clusterIP(f));
    spec.clusterIP = ips[0];
    spec.clusterIPs = ips;
  } else if (spec.clusterIP !== undefined) setDefault(spec, 'clusterIPs', [spec.clusterIP]);
}

/** Fills in defaults in place. `creating` is true on the write that creates the object. */
export function applyDefaults(
  rt: ResourceType,
  obj: KubeObject,
  alloc: IpAllocator,
  creating: boolean,
): void {
  const spec = isObject(obj.spec) ? obj.spec : undefined;
  switch (`${rt.group}/${rt.resource}`) {
    case 'apps/deployments':
      if (spec) defaultWorkload(spec, true);
      break;
    case 'apps/replicasets':
      if (spec) defaultWorkload(spec, false);
      break;
    case '/pods':
      if (spec) {
        defaultPodSpec(spec);
        setDefault(spec, 'enableServiceLinks', true);
        setDefault(spec, 'preemptionPolicy', 'PreemptLowerPriority');
        setDefault(spec, 'priority', 0);
      }
      break;
    case '/services':
      if (spec) defaultService(spec, alloc, creating);
      break;
    case '/namespaces': {
      obj.metadata.labels = {
        ...obj.metadata.labels,
        'kubernetes.io/metadata.name': obj.metadata.name ?? '',
      };
      const s = spec ?? {};
      obj.spec = s;
      setDefault(s, 'finalizers', ['kubernetes']);
      break;
    }
    case '/secrets': {
      setDefault(obj, 'type', 'Opaque');
      // stringData is write-only: folded into data, base64-encoded.
      if (isObject(obj.stringData)) {
        const data = isObject(obj.data) ? obj.data : {};
        for (const [k, v] of Object.entries(obj.stringData))
          data[k] = Buffer.from(String(v)).toString('base64');
        obj.data = data;
        delete obj.stringData;
      }
      break;
    }
  }
}

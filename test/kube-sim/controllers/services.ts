/**
 * Services: Endpoints objects from the pods a Service selects (ready and not-ready
 * addresses), a LoadBalancer address, and, with real containers, one loopback TCP proxy
 * per Service port (see runtime/proxy.ts) announced in an annotation on the Service.
 */
import { TcpProxy } from '../runtime/proxy.js';
import type { KubeObject } from '../types.js';
import {
  asArray,
  asNumber,
  asString,
  asStringMap,
  deepEqual,
  getPath,
  isObject,
  type JsonObject,
  randomSuffix,
  stableStringify,
} from '../util.js';
import { type ControllerContext, NODE_NAME, SIM_PREFIX } from './context.js';
import type { Kubelet } from './kubelet.js';
import { isPodReady } from './replicaset.js';

/** The label that ties an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
const SLICE_CONTROLLER = 'endpointslice-controller.k8s.io';

/** `proxy.kube-sim.sitepipe.dev/<service port>: 127.0.0.1:<proxy port>` on the Service. */
export const PROXY_ANNOTATION_PREFIX = `proxy.${SIM_PREFIX}/`;

function selectorOf(svc: KubeObject): Record<string, string> | undefined {
  const sel = getPath(svc, 'spec', 'selector');
  if (!isObject(sel) || Object.keys(sel).length === 0) return undefined;
  return asStringMap(sel);
}

const matches = (sel: Record<string, string>) => (labels: Record<string, string>) =>
  Object.entries(sel).every(([k, v]) => labels[k] === v);

/** A Service port's targetPort on a pod: a number, or a named container port. */
function targetPort(pod: KubeObject, servicePort: unknown): number {
  const target = getPath(servicePort, 'targetPort') ?? getPath(servicePort, 'port');
  if (typeof target === 'number') return target;
  for (const c of asArray(getPath(pod, 'spec', 'containers')))
    for (const p of asArray(getPath(c, 'ports')))
      if (getPath(p, 'name') === target) return asNumber(getPath(p, 'containerPort')) ?? 0;
  return Number(target) || 0;
}

export class ServiceController {
  private readonly proxies = new Map<string, TcpProxy>();
  private readonly starting = new Set<string>();

  constructor(
    private readonly ctx: ControllerContext,
    private readonly kubelet: Kubelet,
    private readonly realContainers: boolean,
  ) {}

  reconcile(): void {
    const live = new Set<string>();
    for (const svc of this.ctx.api.list(this.ctx.types.services, undefined)) {
      this.ctx.tryWrite(() => this.syncEndpoints(svc));
      this.ctx.tryWrite(() => this.syncEndpointSlices(svc));
      this.ctx.tryWrite(() => this.syncLoadBalancer(svc));
      if (this.realContainers && selectorOf(svc)) {
        for (const port of asArray(getPath(svc, 'spec', 'ports'))) {
          const key = `${svc.metadata.uid}/${getPath(port, 'port')}`;
          live.add(key);
          if (!this.proxies.has(key) && !this.starting.has(key))
            this.startProxy(svc, port, key).catch((e: unknown) =>
              this.ctx.log(`proxy for ${key}: ${String(e)}`),
            );
        }
      }
    }
    for (const [key, proxy] of this.proxies) {
      if (live.has(key)) continue;
      this.proxies.delete(key);
      proxy.close().catch(() => undefined);
    }
  }

  /** The proxy port of a Service port (the first port when none is given). */
  proxyPort(svc: KubeObject, port?: number): number | undefined {
    const ports = asArray(getPath(svc, 'spec', 'ports'));
    const p = port ?? asNumber(getPath(ports[0], 'port'));
    return this.proxies.get(`${svc.metadata.uid}/${p}`)?.port;
  }

  async close(): Promise<void> {
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
    this.proxies.clear();
  }

  private async startProxy(svc: KubeObject, port: unknown, key: string): Promise<void> {
    this.starting.add(key);
    const ns = svc.metadata.namespace ?? 'default';
    const name = svc.metadata.name ?? '';
    try {
      const proxy = await TcpProxy.start(() => {
        const current = this.ctx.api.tryGet(this.ctx.types.services, ns, name);
        const sel = current && selectorOf(current);
        if (!sel) return [];
        return this.kubelet
          .backends(ns, matches(sel))
          .filter((b) => b.ready && !b.terminating && b.hostPort !== undefined)
          .map((b) => b.hostPort as number);
      });
      this.proxies.set(key, proxy);
      this.ctx.tryWrite(() => {
        const current = this.ctx.api.tryGet(this.ctx.types.services, ns, name);
        if (!current || current.metadata.uid !== svc.metadata.uid) return;
        current.metadata.annotations = {
          ...(current.metadata.annotations ?? {}),
          [`${PROXY_ANNOTATION_PREFIX}${getPath(port, 'port')}`]: `127.0.0.1:${proxy.port}`,
        };
        this.ctx.api.write(this.ctx.types.services, current, 'kube-sim');
      });
    } finally {
      this.starting.delete(key);
      this.ctx.trigger();
    }
  }

  private syncEndpoints(svc: KubeObject): void {
    const sel = selectorOf(svc);
    if (!sel) return;
    const ns = svc.metadata.namespace ?? 'default';
    const pods = this.ctx.api
      .list(this.ctx.types.pods, ns)
      .filter(
        (p) =>
          matches(sel)(p.metadata.labels ?? {}) &&
          !p.metadata.deletionTimestamp &&
          getPath(p, 'status', 'podIP'),
      );
    const ports = asArray(getPath(svc, 'spec', 'ports'));
    const address = (p: KubeObject) => ({
      ip: asString(getPath(p, 'status', 'podIP')) ?? '127.0.0.1',
      nodeName: NODE_NAME,
      targetRef: { kind: 'Pod', namespace: ns, name: p.metadata.name, uid: p.metadata.uid },
    });
    const subsetPorts = (p: KubeObject | undefined, hostPort?: number) =>
      ports.map((sp) => ({
        ...(asString(getPath(sp, 'name')) ? { name: asString(getPath(sp, 'name')) } : {}),
        port: hostPort ?? (p ? targetPort(p, sp) : 0),
        protocol: asString(getPath(sp, 'protocol')) ?? 'TCP',
      }));
    let subsets: JsonObject[];
    if (this.realContainers) {
      subsets = pods.flatMap((p) => {
        const hostPort = this.kubelet.hostPort(ns, p.metadata.name ?? '');
        if (hostPort === undefined) return [];
        const key = isPodReady(p) ? 'addresses' : 'notReadyAddresses';
        return [{ [key]: [address(p)], ports: subsetPorts(p, hostPort) }];
      });
    } else {
      const ready = pods.filter(isPodReady).map(address);
      const notReady = pods.filter((p) => !isPodReady(p)).map(address);
      subsets =
        pods.length === 0
          ? []
          : [
              {
                ...(ready.length ? { addresses: ready } : {}),
                ...(notReady.length ? { notReadyAddresses: notReady } : {}),
                ports: subsetPorts(pods[0]),
              },
            ];
    }
    const existing = this.ctx.api.tryGet(this.ctx.types.endpoints, ns, svc.metadata.name ?? '');
    const next: KubeObject = {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: {
        ...(existing?.metadata ?? {}),
        name: svc.metadata.name,
        namespace: ns,
        ...(svc.metadata.labels ? { labels: svc.metadata.labels } : {}),
      },
      ...(subsets.length ? { subsets } : {}),
    };
    if (
      existing &&
      deepEqual(existing.subsets, next.subsets) &&
      deepEqual(existing.metadata.labels, next.metadata.labels)
    )
      return;
    this.ctx.api.write(this.ctx.types.endpoints, next, 'endpoint-controller');
  }

  /**
   * The EndpointSlice controller: slices labelled kubernetes.io/service-name, owned by the
   * Service, one per distinct set of resolved ports (with real containers every pod listens
   * on its own port), endpoints with ready/serving/terminating conditions; a Service with no
   * pods keeps one empty placeholder slice.
   */
  private syncEndpointSlices(svc: KubeObject): void {
    const sel = selectorOf(svc);
    if (!sel || svc.metadata.deletionTimestamp) return;
    const { api, types } = this.ctx;
    const ns = svc.metadata.namespace ?? 'default';
    const name = svc.metadata.name ?? '';
    const servicePorts = asArray(getPath(svc, 'spec', 'ports'));
    const groups = new Map<string, { ports: JsonObject[]; endpoints: JsonObject[] }>();
    const pods = api
      .list(types.pods, ns)
      .filter((p) => matches(sel)(p.metadata.labels ?? {}) && getPath(p, 'status', 'podIP'));
    for (const p of pods) {
      const hostPort = this.realContainers ? this.kubelet.hostPort(ns, p.metadata.name ?? '') : undefined;
      if (this.realContainers && hostPort === undefined) continue;
      const ports = servicePorts.map((sp) => ({
        name: asString(getPath(sp, 'name')) ?? '',
        port: hostPort ?? targetPort(p, sp),
        protocol: asString(getPath(sp, 'protocol')) ?? 'TCP',
      }));
      const key = stableStringify(ports);
      const group = groups.get(key) ?? { ports, endpoints: [] };
      const ready = isPodReady(p);
      const terminating = p.metadata.deletionTimestamp !== undefined;
      group.endpoints.push({
        addresses: [asString(getPath(p, 'status', 'podIP')) ?? '127.0.0.1'],
        conditions: { ready: ready && !terminating, serving: ready, terminating },
        nodeName: NODE_NAME,
        targetRef: { kind: 'Pod', namespace: ns, name: p.metadata.name, uid: p.metadata.uid },
      });
      groups.set(key, group);
    }
    if (groups.size === 0) groups.set('[]', { ports: [], endpoints: [] });
    const existing = api
      .list(types.endpointslices, ns, {
        labelSelector: `${SERVICE_NAME_LABEL}=${name},${MANAGED_BY_LABEL}=${SLICE_CONTROLLER}`,
      })
      .filter((es) => es.metadata.ownerReferences?.some((r) => r.uid === svc.metadata.uid));
    const portsKey = (es: KubeObject) =>
      stableStringify(
        asArray(es.ports).map((p) => ({
          name: asString(getPath(p, 'name')) ?? '',
          port: getPath(p, 'port'),
          protocol: asString(getPath(p, 'protocol')) ?? 'TCP',
        })),
      );
    const unused = new Set(existing);
    for (const [key, group] of groups) {
      const current = existing.find((es) => unused.has(es) && portsKey(es) === key);
      if (current) unused.delete(current);
      const labels = {
        ...(svc.metadata.labels ?? {}),
        [SERVICE_NAME_LABEL]: name,
        [MANAGED_BY_LABEL]: SLICE_CONTROLLER,
      };
      const next: KubeObject = {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          ...(current?.metadata ?? {
            name: `${name}-${randomSuffix(5)}`,
            generateName: `${name}-`,
            namespace: ns,
          }),
          labels,
          ownerReferences: [
            {
              apiVersion: 'v1',
              kind: 'Service',
              name,
              uid: svc.metadata.uid ?? '',
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        addressType: 'IPv4',
        endpoints: group.endpoints,
        ...(group.ports.length ? { ports: group.ports } : {}),
      };
      if (
        current &&
        deepEqual(current.endpoints ?? [], next.endpoints) &&
        deepEqual(current.metadata.labels, labels)
      )
        continue;
      api.write(types.endpointslices, next, 'endpointslice-controller');
    }
    for (const es of unused)
      this.ctx.tryWrite(() => api.delete(types.endpointslices, ns, es.metadata.name ?? ''));
  }

  private syncLoadBalancer(svc: KubeObject): void {
    if (getPath(svc, 'spec', 'type') !== 'LoadBalancer') return;
    const want = { loadBalancer: { ingress: [{ ip: '127.0.0.1', ipMode: 'VIP' }] } };
    if (deepEqual(svc.status, want)) return;
    this.ctx.api.write(this.ctx.types.services, { ...svc, status: want }, 'service-controller', 'status');
  }
}

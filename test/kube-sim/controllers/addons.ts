/**
 * Stand-ins for the controllers behind the add-on kinds, reduced to the status a deploy
 * step waits for: cert-manager (Issuer/ClusterIssuer Ready, Certificate Ready + its TLS
 * Secret), GKE ManagedCertificate (Active), Ingress and Gateway addresses, HTTPRoute
 * acceptance. Nothing here talks to the network; addresses are loopback unless mapped.
 */
import type { ResourceType } from '../resources.js';
import type { Condition, KubeObject } from '../types.js';
import { asArray, asString, deepEqual, getPath, isObject, type JsonObject, timestamp } from '../util.js';
import { type ControllerContext, getCondition } from './context.js';

const GATEWAY_CONTROLLER = 'kube-sim.sitepipe.dev/gateway-controller';
const STATIC_IP_ANNOTATION = 'kubernetes.io/ingress.global-static-ip-name';
const DAY_MS = 86_400_000;

/** Keeps lastTransitionTime of conditions whose status did not change. */
function withTimes(existing: unknown, wanted: Condition[]): Condition[] {
  return wanted.map((c) => {
    const prev = getCondition(existing, c.type);
    return {
      ...c,
      lastTransitionTime: prev && prev.status === c.status ? prev.lastTransitionTime : timestamp(),
    };
  });
}

function cond(type: string, ok: boolean, reason: string, message: string, generation?: number): Condition {
  return {
    type,
    status: ok ? 'True' : 'False',
    reason,
    message,
    ...(generation ? { observedGeneration: generation } : {}),
  };
}

export interface AddonOptions {
  /** Simulated seconds from a Certificate's (re)spec to its issuance. */
  certificateSeconds: number;
  /** Address of a GKE static IP name (Ingress annotation / Gateway NamedAddress); 127.0.0.1 otherwise. */
  staticIps: Record<string, string>;
}

export class AddonController {
  /** When the current generation of each certificate was first seen (ms), by uid. */
  private readonly seen = new Map<string, { generation: number; at: number }>();

  constructor(
    private readonly ctx: ControllerContext,
    private readonly opts: AddonOptions,
  ) {}

  private type(key: string): ResourceType | undefined {
    return this.ctx.api.resources.byKey(key);
  }

  private each(key: string, fn: (rt: ResourceType, o: KubeObject) => void): void {
    const rt = this.type(key);
    if (!rt) return;
    for (const o of this.ctx.api.list(rt, undefined))
      if (!o.metadata.deletionTimestamp) this.ctx.tryWrite(() => fn(rt, o));
  }

  private setStatus(rt: ResourceType, o: KubeObject, status: JsonObject, manager: string): void {
    if (deepEqual(o.status, status)) return;
    this.ctx.api.write(rt, { ...o, status }, manager, 'status');
  }

  reconcile(): void {
    for (const key of ['cert-manager.io/issuers', 'cert-manager.io/clusterissuers'])
      this.each(key, (rt, o) => this.issuer(rt, o));
    this.each('cert-manager.io/certificates', (rt, o) => this.certificate(rt, o));
    this.each('networking.gke.io/managedcertificates', (rt, o) => this.managedCertificate(rt, o));
    this.each('networking.k8s.io/ingresses', (rt, o) => this.ingress(rt, o));
    this.each('gateway.networking.k8s.io/gateways', (rt, o) => this.gateway(rt, o));
    this.each('gateway.networking.k8s.io/httproutes', (rt, o) => this.httpRoute(rt, o));
  }

  private issuer(rt: ResourceType, o: KubeObject): void {
    const acme = getPath(o, 'spec', 'acme');
    const ready = isObject(acme)
      ? cond(
          'Ready',
          true,
          'ACMEAccountRegistered',
          'The ACME account was registered with the ACME server',
          o.metadata.generation,
        )
      : cond('Ready', true, 'IsReady', 'Signing CA verified', o.metadata.generation);
    const status: JsonObject = { conditions: withTimes(getPath(o, 'status', 'conditions'), [ready]) };
    if (isObject(acme))
      status.acme = {
        uri: `${asString(acme.server) ?? 'https://acme.invalid/directory'}#kube-sim-account`,
        ...(asString(acme.email) ? { lastRegisteredEmail: acme.email } : {}),
      };
    this.setStatus(rt, o, status, 'cert-manager-clusterissuers');
  }

  /** Seconds-scaled wait, per generation, before a certificate counts as issued. */
  private due(o: KubeObject): boolean {
    const uid = o.metadata.uid ?? '';
    const generation = o.metadata.generation ?? 0;
    const seen = this.seen.get(uid);
    if (!seen || seen.generation !== generation) {
      this.seen.set(uid, { generation, at: Date.now() });
      return this.opts.certificateSeconds <= 0;
    }
    return Date.now() - seen.at >= this.ctx.ms(this.opts.certificateSeconds);
  }

  private certificate(rt: ResourceType, o: KubeObject): void {
    const ns = o.metadata.namespace;
    const generation = o.metadata.generation;
    const issuerKind = asString(getPath(o, 'spec', 'issuerRef', 'kind')) ?? 'Issuer';
    const issuerName = asString(getPath(o, 'spec', 'issuerRef', 'name')) ?? '';
    const issuerType = this.type(
      issuerKind === 'ClusterIssuer' ? 'cert-manager.io/clusterissuers' : 'cert-manager.io/issuers',
    );
    const issuer = issuerType && this.ctx.api.tryGet(issuerType, ns, issuerName);
    const behavior = this.ctx.controls.certificates;
    const existing = getPath(o, 'status', 'conditions');
    const pending = () =>
      withTimes(existing, [
        cond('Ready', false, 'DoesNotExist', 'Issuing certificate as Secret does not exist', generation),
        cond('Issuing', true, 'DoesNotExist', 'Issuing certificate as Secret does not exist', generation),
      ]);
    if (!issuer || behavior === 'pending' || !this.due(o)) {
      this.setStatus(rt, o, { conditions: pending() }, 'cert-manager-certificates-trigger');
      return;
    }
    if (behavior === 'fail') {
      const failure = {
        conditions: withTimes(existing, [
          cond('Ready', false, 'DoesNotExist', 'Issuing certificate as Secret does not exist', generation),
          cond(
            'Issuing',
            false,
            'Failed',
            'The certificate request has failed to complete and will be retried: Failed to wait for order resource to become ready: order is in "errored" state (kube-sim: failure set by a test)',
            generation,
          ),
        ]),
        failedIssuanceAttempts: 1,
        lastFailureTime: asString(getPath(o, 'status', 'lastFailureTime')) ?? timestamp(),
      };
      this.setStatus(rt, o, failure, 'cert-manager-certificates-issuing');
      return;
    }
    const secretName = asString(getPath(o, 'spec', 'secretName'));
    if (secretName && !this.ctx.api.tryGet(this.ctx.types.secrets, ns, secretName)) {
      const fake = (s: string) =>
        Buffer.from(`-----BEGIN ${s}-----\nkube-sim placeholder\n-----END ${s}-----\n`).toString('base64');
      this.ctx.api.write(
        this.ctx.types.secrets,
        {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: {
            name: secretName,
            namespace: ns,
            annotations: {
              'cert-manager.io/certificate-name': o.metadata.name ?? '',
              'cert-manager.io/issuer-name': issuerName,
              'cert-manager.io/issuer-kind': issuerKind,
              'cert-manager.io/alt-names': asArray(getPath(o, 'spec', 'dnsNames')).join(','),
            },
          },
          type: 'kubernetes.io/tls',
          data: { 'tls.crt': fake('CERTIFICATE'), 'tls.key': fake('PRIVATE KEY') },
        },
        'cert-manager-certificates-issuing',
      );
    }
    const previous = isObject(o.status) ? o.status : {};
    const notBefore = asString(previous.notBefore) ?? timestamp();
    const start = Date.parse(notBefore);
    this.setStatus(
      rt,
      o,
      {
        conditions: withTimes(existing, [
          cond('Ready', true, 'Ready', 'Certificate is up to date and has not expired', generation),
        ]),
        notBefore,
        notAfter: timestamp(start + 90 * DAY_MS),
        renewalTime: timestamp(start + 60 * DAY_MS),
        revision: typeof previous.revision === 'number' ? previous.revision : 1,
      },
      'cert-manager-certificates-issuing',
    );
  }

  private managedCertificate(rt: ResourceType, o: KubeObject): void {
    const behavior = this.ctx.controls.certificates;
    const state =
      behavior === 'fail'
        ? 'FailedNotVisible'
        : behavior === 'pending' || !this.due(o)
          ? 'Provisioning'
          : 'Active';
    const status: JsonObject = {
      certificateName: `mcrt-${o.metadata.uid ?? ''}`,
      certificateStatus: state === 'FailedNotVisible' ? 'Provisioning' : state,
      domainStatus: asArray(getPath(o, 'spec', 'domains')).map((domain) => ({ domain, status: state })),
      ...(state === 'Active' ? { expireTime: timestamp(Date.now() + 90 * DAY_MS) } : {}),
    };
    const old = isObject(o.status) ? o.status : {};
    if (state === 'Active' && typeof old.expireTime === 'string') status.expireTime = old.expireTime;
    this.setStatus(rt, o, status, 'managed-certificate-controller');
  }

  private address(name: string | undefined): string {
    return (name && this.opts.staticIps[name]) || '127.0.0.1';
  }

  private ingress(rt: ResourceType, o: KubeObject): void {
    const ip = this.address(o.metadata.annotations?.[STATIC_IP_ANNOTATION]);
    this.setStatus(rt, o, { loadBalancer: { ingress: [{ ip }] } }, 'glbc');
  }

  private gateway(rt: ResourceType, o: KubeObject): void {
    const generation = o.metadata.generation;
    const requested = asArray(getPath(o, 'spec', 'addresses'));
    const addresses = requested.length
      ? requested.map((a) => {
          const value = asString(getPath(a, 'value')) ?? '';
          return getPath(a, 'type') === 'NamedAddress'
            ? { type: 'IPAddress', value: this.address(value) }
            : { type: asString(getPath(a, 'type')) ?? 'IPAddress', value };
        })
      : [{ type: 'IPAddress', value: '127.0.0.1' }];
    const routes = this.type('gateway.networking.k8s.io/httproutes');
    const attached = (listener: string) =>
      routes
        ? this.ctx.api
            .list(routes, undefined)
            .filter((r) =>
              asArray(getPath(r, 'spec', 'parentRefs')).some(
                (p) =>
                  getPath(p, 'name') === o.metadata.name &&
                  (asString(getPath(p, 'namespace')) ?? r.metadata.namespace) === o.metadata.namespace &&
                  (getPath(p, 'sectionName') === undefined || getPath(p, 'sectionName') === listener),
              ),
            ).length
        : 0;
    const old = getPath(o, 'status');
    const status = {
      addresses,
      conditions: withTimes(getPath(old, 'conditions'), [
        cond('Accepted', true, 'Accepted', 'Resource accepted', generation),
        cond('Programmed', true, 'Programmed', 'Resource programmed', generation),
      ]),
      listeners: asArray(getPath(o, 'spec', 'listeners')).map((l) => {
        const name = asString(getPath(l, 'name')) ?? '';
        const prev = asArray(getPath(old, 'listeners')).find((x) => getPath(x, 'name') === name);
        return {
          name,
          attachedRoutes: attached(name),
          supportedKinds: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }],
          conditions: withTimes(getPath(prev, 'conditions'), [
            cond('Accepted', true, 'Accepted', 'Listener accepted', generation),
            cond('Programmed', true, 'Programmed', 'Listener programmed', generation),
            cond('ResolvedRefs', true, 'ResolvedRefs', 'References resolved', generation),
          ]),
        };
      }),
    };
    this.setStatus(rt, o, status, 'gateway-controller');
  }

  private httpRoute(rt: ResourceType, o: KubeObject): void {
    const generation = o.metadata.generation;
    const ns = o.metadata.namespace;
    const backendsExist = asArray(getPath(o, 'spec', 'rules'))
      .flatMap((r) => asArray(getPath(r, 'backendRefs')))
      .every((b) => {
        const kind = asString(getPath(b, 'kind')) ?? 'Service';
        if (kind !== 'Service') return true;
        return (
          this.ctx.api.tryGet(
            this.ctx.types.services,
            asString(getPath(b, 'namespace')) ?? ns,
            asString(getPath(b, 'name')) ?? '',
          ) !== undefined
        );
      });
    const prevParents = asArray(getPath(o, 'status', 'parents'));
    const parents = asArray(getPath(o, 'spec', 'parentRefs')).map((parentRef) => {
      const prev = prevParents.find((p) => deepEqual(getPath(p, 'parentRef'), parentRef));
      return {
        parentRef,
        controllerName: GATEWAY_CONTROLLER,
        conditions: withTimes(getPath(prev, 'conditions'), [
          cond('Accepted', true, 'Accepted', 'Route was valid', generation),
          backendsExist
            ? cond('ResolvedRefs', true, 'ResolvedRefs', 'All references resolved', generation)
            : cond(
                'ResolvedRefs',
                false,
                'BackendNotFound',
                'A backendRef names a Service that does not exist',
                generation,
              ),
        ]),
      };
    });
    this.setStatus(rt, o, { parents }, 'gateway-controller');
  }
}

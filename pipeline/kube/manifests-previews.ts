import type { ICertificate } from '@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate';
import type { IHTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import type { IReferenceGrant } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1beta1/ReferenceGrant';
import type { IBackendConfig } from '@kubernetes-models/gke/cloud.google.com/v1/BackendConfig';
import type { IHealthCheckPolicy } from '@kubernetes-models/gke/networking.gke.io/v1/HealthCheckPolicy';
import type { IFrontendConfig } from '@kubernetes-models/gke/networking.gke.io/v1beta1/FrontendConfig';
import type { IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { previewSlug } from '../branches.js';
import type { Config } from '../config.js';
import { HEALTH_PATH } from '../nginx.js';
import { type DeployConfig, previewsNamespace } from './config.js';
import {
  GKE,
  HEALTH_CHECK,
  type KubeObject,
  namesFor,
  PORT_NAME,
  plain,
  requireDeploy,
  SERVICE_PORT,
} from './manifests-common.js';
import { clusterIssuers } from './manifests-tls.js';
import { deployment, namespace, service } from './manifests-workload.js';

/** Marks every preview object with the site it previews (deploy.name); `sitepipe previews` lists by it. */
export const PREVIEW_LABEL = 'sitepipe.io/preview-of';
export const PREVIEW_ANNOTATION = {
  branch: 'sitepipe.io/branch',
  url: 'sitepipe.io/url',
} as const;
/** Search engines keep away from previews; the frontends add it to every response. */
export const NOINDEX = { name: 'X-Robots-Tag', value: 'noindex' } as const;
/** The Gateway listener that carries *.<previews.domain>. */
export const PREVIEWS_LISTENER = 'previews';

type Previews = NonNullable<DeployConfig['previews']>;

export function requirePreviews(deploy: DeployConfig): Previews {
  if (deploy.previews) return deploy.previews;
  throw new Error('requirePreviews: the deploy section has no previews'); // callers check first
}

/** The objects every preview of a site shares, named once. */
export function sharedPreviewNames(deploy: DeployConfig) {
  const p = requirePreviews(deploy);
  return {
    namespace: previewsNamespace(deploy),
    domain: p.domain,
    wildcard: `*.${p.domain}`,
    certificate: `${deploy.name}-previews`,
    tlsSecret: `${deploy.name}-previews-tls`,
    /** two-ingress: the BackendConfig (health check, noindex) and FrontendConfig (redirect) every preview uses. */
    backendConfig: `${deploy.name}-previews`,
    labels: { 'app.kubernetes.io/managed-by': 'sitepipe', [PREVIEW_LABEL]: deploy.name },
  };
}

/** The names of one branch's preview: its objects are all named by the branch's slug. */
export function previewNames(deploy: DeployConfig, branch: string) {
  const shared = sharedPreviewNames(deploy);
  const slug = previewSlug(branch);
  const n = namesFor({ ...deploy, name: slug, namespace: shared.namespace });
  const host = `${slug}.${shared.domain}`;
  return {
    ...n,
    shared,
    branch,
    slug,
    host,
    url: `https://${host}/`,
    labels: { ...n.labels, [PREVIEW_LABEL]: deploy.name },
  };
}

export type PreviewNames = ReturnType<typeof previewNames>;

/** The deploy section as a preview sees it: one small replica, its own namespace and name. */
function previewDeploy(deploy: DeployConfig, p: PreviewNames): DeployConfig {
  const { resources } = requirePreviews(deploy);
  return {
    ...deploy,
    name: p.slug,
    namespace: p.namespace,
    replicas: 1,
    resources: { cpu: resources.cpu, memory: resources.memory, memoryLimit: resources.memoryLimit },
  };
}

/** The wildcard certificate every preview is served with (DNS-01: Let's Encrypt's only way to a wildcard). */
function wildcardCertificate(deploy: DeployConfig): KubeObject {
  const s = sharedPreviewNames(deploy);
  const prod = namesFor(deploy);
  return plain<ICertificate>({
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    metadata: { name: s.certificate, namespace: s.namespace, labels: s.labels },
    spec: {
      secretName: s.tlsSecret,
      secretTemplate: { labels: s.labels },
      issuerRef: { group: 'cert-manager.io', kind: 'ClusterIssuer', name: prod.issuer(deploy.tls.acme) },
      dnsNames: [s.wildcard],
      privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
    },
  });
}

/** Gateway form: the production Gateway reads the wildcard Secret across namespaces, which Gateway API allows only by grant. */
function secretGrant(deploy: DeployConfig): KubeObject {
  const s = sharedPreviewNames(deploy);
  return plain<IReferenceGrant>({
    apiVersion: 'gateway.networking.k8s.io/v1beta1',
    kind: 'ReferenceGrant',
    metadata: { name: `${deploy.name}-gateway-reads-previews-tls`, namespace: s.namespace, labels: s.labels },
    spec: {
      from: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: deploy.namespace }],
      to: [{ group: '', kind: 'Secret', name: s.tlsSecret }],
    },
  });
}

function ingressShared(config: Config, deploy: DeployConfig): KubeObject[] {
  const s = sharedPreviewNames(deploy);
  const objects: KubeObject[] = [
    plain<IBackendConfig>({
      apiVersion: 'cloud.google.com/v1',
      kind: 'BackendConfig',
      metadata: { name: s.backendConfig, namespace: s.namespace, labels: s.labels },
      spec: {
        healthCheck: { type: 'HTTP', requestPath: HEALTH_PATH, port: config.image.port, ...HEALTH_CHECK },
        // GKE's load balancer adds it to every response (BackendConfig customResponseHeaders).
        customResponseHeaders: { headers: [`${NOINDEX.name}: ${NOINDEX.value}`] },
      } as IBackendConfig['spec'],
    }),
  ];
  if (deploy.frontends.httpsRedirect) {
    objects.push(
      plain<IFrontendConfig>({
        apiVersion: 'networking.gke.io/v1beta1',
        kind: 'FrontendConfig',
        metadata: { name: s.backendConfig, namespace: s.namespace, labels: s.labels },
        spec: { redirectToHttps: { enabled: true, responseCodeName: 'MOVED_PERMANENTLY_DEFAULT' } },
      }),
    );
  }
  return objects;
}

/** Gateway form: an HTTPRoute on the production Gateway's previews listener, adding noindex. */
function previewRoute(deploy: DeployConfig, p: PreviewNames, port: number): KubeObject[] {
  return [
    plain<IHealthCheckPolicy>({
      apiVersion: 'networking.gke.io/v1',
      kind: 'HealthCheckPolicy',
      metadata: { name: p.slug, namespace: p.namespace, labels: p.labels },
      spec: {
        default: {
          ...HEALTH_CHECK,
          config: {
            type: 'HTTP',
            httpHealthCheck: { portSpecification: 'USE_FIXED_PORT', port, requestPath: HEALTH_PATH },
          },
        },
        targetRef: { group: '', kind: 'Service', name: p.slug },
      },
    }),
    plain<IHTTPRoute>({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: p.slug, namespace: p.namespace, labels: p.labels },
      spec: {
        parentRefs: [
          {
            group: 'gateway.networking.k8s.io',
            kind: 'Gateway',
            name: namesFor(deploy).gateway,
            namespace: deploy.namespace,
            sectionName: PREVIEWS_LISTENER,
          },
        ],
        hostnames: [p.host],
        rules: [
          {
            matches: [{ path: { type: 'PathPrefix', value: '/' } }],
            filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { add: [{ ...NOINDEX }] } }],
            backendRefs: [{ name: p.slug, port: SERVICE_PORT }],
          },
        ],
      },
    }),
  ];
}

/**
 * Two-ingress form: one Ingress per preview, IPv4 only and without a reserved address (GKE
 * gives each Ingress a load balancer of its own, so a wildcard DNS record cannot cover them;
 * docs/kubernetes.md says so and recommends the Gateway form for previews).
 */
function previewIngress(deploy: DeployConfig, p: PreviewNames): KubeObject {
  const s = p.shared;
  return plain<IIngress>({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name: p.slug,
      namespace: p.namespace,
      labels: p.labels,
      annotations: {
        [GKE.ingressClass]: 'gce',
        ...(deploy.frontends.httpsRedirect ? { [GKE.frontendConfig]: s.backendConfig } : {}),
      },
    },
    spec: {
      tls: [{ hosts: [p.host], secretName: s.tlsSecret }],
      rules: [
        {
          host: p.host,
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: p.slug, port: { name: PORT_NAME } } },
              },
            ],
          },
        },
      ],
    },
  });
}

/**
 * A branch's preview, in apply order: the previews Namespace, the ClusterIssuers (the same
 * objects production applies), the shared wildcard Certificate and what the frontends share,
 * then the preview's Deployment, Service and route. Production's own objects are not among them.
 */
export function previewManifests(config: Config, branch: string, image: string): KubeObject[] {
  const deploy = requireDeploy(config);
  const p = previewNames(deploy, branch);
  const d = previewDeploy(deploy, p);
  const gateway = deploy.frontends.mode === 'gateway';
  const ns = namespace(p, d);
  // No HTTP-01 solver pods run here (the wildcard is DNS-01), so the namespace can enforce what the pods meet.
  const enforce = ns.metadata.labels?.['pod-security.kubernetes.io/warn'] ?? 'baseline';
  ns.metadata.labels = {
    ...ns.metadata.labels,
    'pod-security.kubernetes.io/enforce': enforce,
    [PREVIEW_LABEL]: deploy.name,
  };
  const dep = deployment(p, config, d, image);
  dep.metadata.annotations = { [PREVIEW_ANNOTATION.branch]: branch, [PREVIEW_ANNOTATION.url]: p.url };
  const objects: KubeObject[] = [
    ns,
    ...clusterIssuers(namesFor(deploy), deploy),
    wildcardCertificate(deploy),
    ...(gateway ? [secretGrant(deploy)] : ingressShared(config, deploy)),
    dep,
    service(
      p,
      gateway
        ? {}
        : {
            [GKE.neg]: JSON.stringify({ ingress: true }),
            [GKE.backendConfig]: JSON.stringify({ default: p.shared.backendConfig }),
          },
    ),
    ...(gateway ? previewRoute(deploy, p, config.image.port) : [previewIngress(deploy, p)]),
  ];
  return objects.map((o) => structuredClone(o));
}

/** The kinds one preview owns (not the shared objects), to list and delete by its labels. */
export function previewOwnedKinds(deploy: DeployConfig): { apiVersion: string; kind: string }[] {
  return [
    { apiVersion: 'apps/v1', kind: 'Deployment' },
    { apiVersion: 'v1', kind: 'Service' },
    ...(deploy.frontends.mode === 'gateway'
      ? [
          { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute' },
          { apiVersion: 'networking.gke.io/v1', kind: 'HealthCheckPolicy' },
        ]
      : [{ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' }]),
  ];
}

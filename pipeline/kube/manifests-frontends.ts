import type { IGateway } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/Gateway';
import type { IHTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import type { IBackendConfig } from '@kubernetes-models/gke/cloud.google.com/v1/BackendConfig';
import type { IHealthCheckPolicy } from '@kubernetes-models/gke/networking.gke.io/v1/HealthCheckPolicy';
import type { IFrontendConfig } from '@kubernetes-models/gke/networking.gke.io/v1beta1/FrontendConfig';
import type { IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import type { Config } from '../config.js';
import { HEALTH_PATH } from '../nginx.js';
import type { DeployConfig } from './config.js';
import {
  GATEWAY_CLASS,
  GKE,
  HEALTH_CHECK,
  type IpFamily,
  type KubeObject,
  type Names,
  PORT_NAME,
  plain,
  SERVICE_PORT,
} from './manifests-common.js';
import { PREVIEWS_LISTENER, sharedPreviewNames } from './manifests-previews.js';
import { DRAIN_SECONDS } from './manifests-workload.js';

/** What the Service needs for the chosen frontends: container-native (NEG) load balancing, the health check. */
export function serviceAnnotations(n: Names, deploy: DeployConfig): Record<string, string> {
  if (deploy.frontends.mode === 'gateway') return {}; // Gateways always use NEGs; the policy targets the Service.
  return {
    [GKE.neg]: JSON.stringify({ ingress: true }),
    [GKE.backendConfig]: JSON.stringify({ default: n.app }),
  };
}

/**
 * two-ingress: a GKE Ingress takes exactly one static IP (ingress-gce #87), so IPv4 and IPv6 are
 * two Ingresses with the same rules. Both name the same certificate source (the one Secret of the
 * one Certificate, or the one ManagedCertificate), and neither holds a copy: a renewal changes
 * the source, and each Ingress's controller re-reads it.
 */
export function twoIngressFrontends(n: Names, config: Config, deploy: DeployConfig): KubeObject[] {
  const { frontends, tls, hosts } = deploy;
  const objects: KubeObject[] = [
    plain<IBackendConfig>({
      apiVersion: 'cloud.google.com/v1',
      kind: 'BackendConfig',
      metadata: { name: n.app, namespace: n.namespace, labels: n.labels },
      spec: {
        healthCheck: { type: 'HTTP', requestPath: HEALTH_PATH, port: config.image.port, ...HEALTH_CHECK },
        connectionDraining: { drainingTimeoutSec: DRAIN_SECONDS },
      },
    }),
  ];
  if (frontends.httpsRedirect) {
    objects.push(
      plain<IFrontendConfig>({
        apiVersion: 'networking.gke.io/v1beta1',
        kind: 'FrontendConfig',
        metadata: { name: n.app, namespace: n.namespace, labels: n.labels },
        spec: { redirectToHttps: { enabled: true, responseCodeName: 'MOVED_PERMANENTLY_DEFAULT' } },
      }),
    );
  }
  const addresses: Record<IpFamily, string> = {
    ipv4: frontends.ipv4AddressName,
    ipv6: frontends.ipv6AddressName,
  };
  for (const family of ['ipv4', 'ipv6'] as const) {
    const annotations: Record<string, string> = {
      [GKE.ingressClass]: 'gce',
      [GKE.staticIp]: addresses[family],
    };
    if (frontends.httpsRedirect) annotations[GKE.frontendConfig] = n.app;
    if (tls.provider === 'managed-certificate') annotations[GKE.managedCertificates] = n.certificate;
    objects.push(
      plain<IIngress>({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        metadata: { name: n.ingress(family), namespace: n.namespace, labels: n.labels, annotations },
        spec: {
          ...(tls.provider === 'cert-manager'
            ? { tls: [{ hosts: [...hosts], secretName: n.tlsSecret }] }
            : {}),
          rules: hosts.map((host) => ({
            host,
            http: {
              paths: [
                {
                  path: '/',
                  pathType: 'Prefix',
                  backend: { service: { name: n.app, port: { name: PORT_NAME } } },
                },
              ],
            },
          })),
        },
      }),
    );
  }
  return objects;
}

/**
 * gateway: one Gateway holds both static addresses, so both are forwarding rules of one load
 * balancer with one HTTPS proxy and one certificate: nothing exists that could keep an old one.
 */
export function gatewayFrontends(n: Names, config: Config, deploy: DeployConfig): KubeObject[] {
  const { frontends, tls, hosts } = deploy;
  const gatewayRef = (sectionName?: string) => ({
    group: 'gateway.networking.k8s.io',
    kind: 'Gateway',
    name: n.gateway,
    ...(sectionName ? { sectionName } : {}),
  });
  const objects: KubeObject[] = [
    plain<IHealthCheckPolicy>({
      apiVersion: 'networking.gke.io/v1',
      kind: 'HealthCheckPolicy',
      metadata: { name: n.app, namespace: n.namespace, labels: n.labels },
      spec: {
        default: {
          ...HEALTH_CHECK,
          config: {
            type: 'HTTP',
            httpHealthCheck: {
              portSpecification: 'USE_FIXED_PORT',
              port: config.image.port,
              requestPath: HEALTH_PATH,
            },
          },
        },
        targetRef: { group: '', kind: 'Service', name: n.app },
      },
    }),
    plain<IGateway>({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: n.gateway, namespace: n.namespace, labels: n.labels },
      spec: {
        gatewayClassName: GATEWAY_CLASS,
        addresses: [
          { type: 'NamedAddress', value: frontends.ipv4AddressName },
          { type: 'NamedAddress', value: frontends.ipv6AddressName },
        ],
        listeners: [
          { name: 'http', protocol: 'HTTP', port: 80 },
          {
            name: 'https',
            protocol: 'HTTPS',
            port: 443,
            tls:
              tls.provider === 'cert-manager'
                ? { mode: 'Terminate', certificateRefs: [{ group: '', kind: 'Secret', name: n.tlsSecret }] }
                : { mode: 'Terminate', options: { [GKE.preSharedCerts]: tls.sslCertificateName } },
          },
          ...(deploy.previews ? [previewsListener(deploy)] : []),
        ],
      },
    }),
    plain<IHTTPRoute>({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: n.route, namespace: n.namespace, labels: n.labels },
      spec: {
        // With the redirect, the site is served on HTTPS only; otherwise on both listeners.
        parentRefs: [frontends.httpsRedirect ? gatewayRef('https') : gatewayRef()],
        hostnames: [...hosts],
        rules: [
          {
            matches: [{ path: { type: 'PathPrefix', value: '/' } }],
            backendRefs: [{ name: n.app, port: SERVICE_PORT }],
          },
        ],
      },
    }),
  ];
  if (frontends.httpsRedirect) {
    // cert-manager's challenge route matches its exact path, which takes precedence over this prefix.
    objects.push(
      plain<IHTTPRoute>({
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: n.redirectRoute, namespace: n.namespace, labels: n.labels },
        spec: {
          parentRefs: [gatewayRef('http')],
          hostnames: deploy.previews ? [...hosts, sharedPreviewNames(deploy).wildcard] : [...hosts],
          rules: [
            {
              matches: [{ path: { type: 'PathPrefix', value: '/' } }],
              filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', statusCode: 301 } }],
            },
          ],
        },
      }),
    );
  }
  return objects;
}

/** The HTTPS listener for *.<previews.domain>: the wildcard Secret, and routes from the previews namespace only. */
function previewsListener(deploy: DeployConfig) {
  const s = sharedPreviewNames(deploy);
  return {
    name: PREVIEWS_LISTENER,
    protocol: 'HTTPS',
    port: 443,
    hostname: s.wildcard,
    tls: {
      mode: 'Terminate' as const,
      certificateRefs: [{ group: '', kind: 'Secret', name: s.tlsSecret, namespace: s.namespace }],
    },
    allowedRoutes: {
      namespaces: {
        from: 'Selector' as const,
        selector: { matchLabels: { 'kubernetes.io/metadata.name': s.namespace } },
      },
    },
  };
}

import type { ICertificate } from '@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate';
import type { IClusterIssuer } from '@kubernetes-models/cert-manager/cert-manager.io/v1/ClusterIssuer';
import type { IManagedCertificate } from '@kubernetes-models/gke/networking.gke.io/v1/ManagedCertificate';
import type { DeployConfig } from './config.js';
import {
  ACME_SERVERS,
  type AcmeEnvironment,
  type KubeObject,
  type Names,
  plain,
} from './manifests-common.js';

type Solver = NonNullable<NonNullable<IClusterIssuer['spec']['acme']>['solvers']>[number];

/**
 * How cert-manager proves control of the hosts.
 * - dns01: a TXT record in Cloud DNS; no frontend is involved, so it works the same in both modes.
 * - http01, gateway mode: cert-manager attaches its challenge HTTPRoute to the Gateway's HTTP
 *   listener, which answers on both addresses, so Let's Encrypt (IPv6 first) and cert-manager's
 *   own in-cluster self-check (whatever family the cluster has) both reach it.
 * - http01, two-ingress mode: cert-manager adds the challenge path to one existing Ingress (by
 *   name; a new Ingress would get a new, unpublished IP on GKE). Let's Encrypt connects over
 *   IPv6 when a host has an AAAA record, so that Ingress is the IPv6 one by default.
 */
export function solverFor(n: Names, deploy: DeployConfig): Solver {
  const { tls, frontends, hosts } = deploy;
  // The issuers carry this site's solver, so they only answer for this site's names.
  const selector = { dnsNames: [...hosts] };
  if (tls.challenge === 'dns01' && tls.cloudDNS) return { selector, dns01: cloudDnsSolver(tls.cloudDNS) };
  if (frontends.mode === 'gateway') {
    return {
      selector,
      http01: {
        gatewayHTTPRoute: {
          parentRefs: [
            {
              group: 'gateway.networking.k8s.io',
              kind: 'Gateway',
              name: n.gateway,
              namespace: n.namespace,
              sectionName: 'http',
            },
          ],
        },
      },
    };
  }
  return { selector, http01: { ingress: { name: n.ingress(tls.http01Frontend) } } };
}

type CloudDNS = NonNullable<DeployConfig['tls']['cloudDNS']>;

function cloudDnsSolver({
  project,
  hostedZoneName,
  serviceAccountSecret,
}: CloudDNS): NonNullable<Solver['dns01']> {
  return {
    cloudDNS: {
      project,
      ...(hostedZoneName ? { hostedZoneName } : {}),
      ...(serviceAccountSecret
        ? { serviceAccountSecretRef: { name: serviceAccountSecret.name, key: serviceAccountSecret.key } }
        : {}),
    },
  };
}

/** With previews, the wildcard for *.<previews.domain> through Cloud DNS (previews require tls.cloudDNS). */
function previewsSolver(deploy: DeployConfig): Solver[] {
  const cloudDNS = deploy.tls.cloudDNS;
  if (!deploy.previews || !cloudDNS) return [];
  return [{ selector: { dnsNames: [`*.${deploy.previews.domain}`] }, dns01: cloudDnsSolver(cloudDNS) }];
}

/** Let's Encrypt staging and production, both with this site's solver; the Certificate picks one. */
export function clusterIssuers(n: Names, deploy: DeployConfig): KubeObject[] {
  return (['staging', 'production'] as const).map((env: AcmeEnvironment) =>
    plain<IClusterIssuer>({
      apiVersion: 'cert-manager.io/v1',
      kind: 'ClusterIssuer',
      metadata: { name: n.issuer(env), labels: n.labels },
      spec: {
        acme: {
          server: ACME_SERVERS[env],
          ...(deploy.tls.email ? { email: deploy.tls.email } : {}),
          privateKeySecretRef: { name: `${n.issuer(env)}-account-key` },
          solvers: [solverFor(n, deploy), ...previewsSolver(deploy)],
        },
      },
    }),
  );
}

/**
 * The one Certificate: one Secret, read by every frontend. No Ingress or Gateway carries a
 * cert-manager annotation, so ingress-shim never makes a second Certificate for the same Secret.
 */
export function certificate(n: Names, deploy: DeployConfig): KubeObject {
  return plain<ICertificate>({
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    metadata: {
      name: n.certificate,
      namespace: n.namespace,
      labels: n.labels,
      // A self-signed stand-in fills the Secret until the first issuance, so the frontends
      // (GKE needs the Secret to build an HTTPS frontend at all) come up and can carry the challenge.
      annotations: { 'cert-manager.io/issue-temporary-certificate': 'true' },
    },
    spec: {
      secretName: n.tlsSecret,
      secretTemplate: { labels: n.labels },
      issuerRef: { group: 'cert-manager.io', kind: 'ClusterIssuer', name: n.issuer(deploy.tls.acme) },
      dnsNames: [...deploy.hosts],
      privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
    },
  });
}

/** GKE's Google-managed certificate: one certificate resource that every Ingress of the site names. */
export function managedCertificate(n: Names, deploy: DeployConfig): KubeObject {
  return plain<IManagedCertificate>({
    apiVersion: 'networking.gke.io/v1',
    kind: 'ManagedCertificate',
    metadata: { name: n.certificate, namespace: n.namespace, labels: n.labels },
    spec: { domains: [...deploy.hosts] },
  });
}

import type { V1APIResourceList } from '@kubernetes/client-node';
import { isNotFound, type Kube, kubeError } from '../clients/kube.js';
import { SitepipeError } from '../errors.js';

/** The oldest Kubernetes sitepipe deploys to: policy/v1, batch/v1 CronJob and Pod Security admission labels. */
export const OLDEST_KUBERNETES = { major: 1, minor: 25 };

/** What to install when a group is not served. */
const PROVIDERS: Record<string, string> = {
  'cert-manager.io': 'cert-manager (https://cert-manager.io/docs/installation/)',
  'gateway.networking.k8s.io':
    'the Gateway API (on GKE: gcloud container clusters update CLUSTER --gateway-api=standard)',
  'networking.gke.io': 'a GKE cluster (GKE serves these kinds itself)',
  'cloud.google.com': 'a GKE cluster (GKE serves these kinds itself)',
};

type Kind = { apiVersion: string; kind: string };

async function resourcesOf(kube: Kube, apiVersion: string): Promise<V1APIResourceList | null> {
  const slash = apiVersion.indexOf('/');
  try {
    if (slash < 0) return await kube.core.getAPIResources();
    return await kube.custom.getAPIResources({
      group: apiVersion.slice(0, slash),
      version: apiVersion.slice(slash + 1),
    });
  } catch (e) {
    if (isNotFound(e)) return null; // the group or version is not served at all
    throw kubeError(e, `read the API discovery of ${apiVersion}`);
  }
}

/**
 * Checks, before anything is written, that the server is new enough and serves every kind at
 * the version the deploy writes, and names what to install otherwise: a missing CRD would
 * otherwise surface mid-apply as a bare 404, after the Deployment had already changed.
 */
export async function checkServedKinds(kube: Kube, kinds: readonly Kind[]): Promise<void> {
  const version = await kube.version.getCode().catch((e: unknown) => {
    throw kubeError(e, 'read the server version', kube.config.getCurrentCluster()?.server);
  });
  const major = Number.parseInt(version.major, 10);
  const minor = Number.parseInt(version.minor, 10); // "27+" on GKE
  if (
    major < OLDEST_KUBERNETES.major ||
    (major === OLDEST_KUBERNETES.major && minor < OLDEST_KUBERNETES.minor)
  ) {
    throw new SitepipeError(
      'KUBE_TOO_OLD',
      `the cluster runs Kubernetes ${version.gitVersion}; sitepipe deploys to ${OLDEST_KUBERNETES.major}.${OLDEST_KUBERNETES.minor} or newer`,
      'upgrade the cluster (GKE: gcloud container clusters upgrade CLUSTER --master)',
    );
  }
  const byVersion = new Map<string, Set<string>>();
  for (const { apiVersion, kind } of kinds)
    byVersion.set(apiVersion, (byVersion.get(apiVersion) ?? new Set()).add(kind));
  const missing: string[] = [];
  const install = new Set<string>();
  for (const [apiVersion, wanted] of byVersion) {
    const served = new Set((await resourcesOf(kube, apiVersion))?.resources.map((r) => r.kind) ?? []);
    for (const kind of wanted) {
      if (served.has(kind)) continue;
      missing.push(`${kind} (${apiVersion})`);
      const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
      if (PROVIDERS[group]) install.add(PROVIDERS[group] as string);
    }
  }
  if (missing.length === 0) return;
  throw new SitepipeError(
    'KUBE_KINDS_MISSING',
    `the cluster does not serve ${missing.length === 1 ? 'a kind' : `${missing.length} kinds`} the deploy writes: ${missing.join(', ')}; nothing was changed`,
    install.size > 0
      ? `install ${[...install].join('; ')}, or change the deploy section so it does not need them (docs/kubernetes.md)`
      : `the server is older than the API versions sitepipe writes; sitepipe needs Kubernetes ${OLDEST_KUBERNETES.major}.${OLDEST_KUBERNETES.minor} or newer`,
    missing,
  );
}

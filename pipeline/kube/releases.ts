import { isConflict, isNotFound, type Kube, kubeError } from '../clients/kube.js';

/** One roll of the site, as `sitepipe releases` lists it. */
export interface Release {
  image: string;
  digest: string;
  commit: string | null;
  branch: string | null;
  tag: string | null;
  /** ISO time the roll finished. */
  at: string;
  /** Who rolled it: user@host, or the CI build. */
  by: string;
  action: 'deploy' | 'pin' | 'rollback';
  /** live: it became the serving version; rolled-back: it failed and the previous one was restored. */
  outcome: 'live' | 'rolled-back' | 'failed';
}

const KEY = 'releases.json';
/** Enough history to pin back weeks of pushes; the ConfigMap stays far below its 1 MiB limit. */
const KEEP = 100;

export function releasesName(name: string): string {
  return `${name}-sitepipe-releases`;
}

export async function readReleases(kube: Kube, namespace: string, name: string): Promise<Release[]> {
  try {
    const cm = await kube.core.readNamespacedConfigMap({ name: releasesName(name), namespace });
    return JSON.parse(cm.data?.[KEY] ?? '[]') as Release[];
  } catch (e) {
    if (isNotFound(e)) return [];
    throw kubeError(e, `read the release history ${namespace}/${releasesName(name)}`);
  }
}

/** Prepends a release (newest first), retrying on a concurrent write. */
export async function recordRelease(
  kube: Kube,
  namespace: string,
  name: string,
  release: Release,
): Promise<void> {
  const cmName = releasesName(name);
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const existing = await kube.core.readNamespacedConfigMap({ name: cmName, namespace }).catch((e) => {
        if (isNotFound(e)) return null;
        throw e;
      });
      const history = [release, ...(JSON.parse(existing?.data?.[KEY] ?? '[]') as Release[])].slice(0, KEEP);
      const body = {
        metadata: {
          name: cmName,
          namespace,
          labels: { 'app.kubernetes.io/name': name, 'app.kubernetes.io/managed-by': 'sitepipe' },
          ...(existing?.metadata?.resourceVersion
            ? { resourceVersion: existing.metadata.resourceVersion }
            : {}),
        },
        data: { [KEY]: JSON.stringify(history, null, 1) },
      };
      if (existing) await kube.core.replaceNamespacedConfigMap({ name: cmName, namespace, body });
      else await kube.core.createNamespacedConfigMap({ namespace, body });
      return;
    } catch (e) {
      if (!isConflict(e)) throw kubeError(e, `record the release in ${namespace}/${cmName}`);
    }
  }
}

/** The live release before the current one, with a different image: what `rollback` goes to. */
export function previousRelease(history: readonly Release[]): Release | null {
  const live = history.filter((r) => r.outcome === 'live');
  const [current] = live;
  return live.find((r) => r.digest !== current?.digest) ?? null;
}

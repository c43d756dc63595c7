import type { V1Deployment } from '@kubernetes/client-node';
import { pickPreview } from '../branches.js';
import { connectKube, isNotFound, type Kube, kubeError } from '../clients/kube.js';
import type { DeployInputs } from '../deploy-target.js';
import type { DeployResult } from '../records.js';
import type { RunContext } from '../step.js';
import { previewsNamespace } from './config.js';
import { withDeployLock } from './lock.js';
import { requireDeploy } from './manifests-common.js';
import {
  PREVIEW_ANNOTATION,
  PREVIEW_LABEL,
  previewManifests,
  previewNames,
  previewOwnedKinds,
} from './manifests-previews.js';
import { readReleases, releasesName } from './releases.js';
import { ANNOTATION, type RollSite, rollTo } from './roll.js';

/** One branch's preview as the cluster has it. */
export interface Preview {
  branch: string;
  /** The object names (the branch's slug). */
  name: string;
  namespace: string;
  url: string;
  commit: string | null;
  image: string | null;
  /** When it last went live (its history), else when it was created. */
  deployedAt: string | null;
}

function previewSite(ctx: RunContext, branch: string): RollSite {
  const p = previewNames(requireDeploy(ctx.config), branch);
  return {
    namespace: p.namespace,
    name: p.slug,
    objects: async (image) => previewManifests(ctx.config, branch, image),
  };
}

/** Rolls the branch's preview to the pushed digest (creating it the first time), as production rolls. */
export async function deployPreview(
  ctx: RunContext,
  { source, tag, push }: DeployInputs,
): Promise<DeployResult> {
  const branch = source.branch;
  if (!branch) throw new Error('deployPreview needs a branch'); // the deploy step only calls it with one
  const p = previewNames(requireDeploy(ctx.config), branch);
  const { release, previousImage } = await rollTo(
    ctx,
    {
      repository: push.repository,
      digest: push.digest,
      commit: source.commit,
      branch,
      tag: tag.commitTag,
      action: 'deploy',
    },
    previewSite(ctx, branch),
  );
  ctx.log.info(`preview of ${branch}: ${p.url}`);
  return {
    commit: source.commit,
    deployed: true,
    target: 'kubernetes',
    image: release.image,
    previousImage,
    release: tag.commitTag,
    servers: [],
    skipped: null,
    preview: { branch, name: p.slug, namespace: p.namespace, url: p.url },
  };
}

function previewOf(dep: V1Deployment, history: { at: string }[]): Preview | null {
  const ann = dep.metadata?.annotations ?? {};
  const branch = ann[PREVIEW_ANNOTATION.branch];
  if (!branch || !dep.metadata?.name) return null;
  const template = dep.spec?.template?.metadata?.annotations ?? {};
  const created = dep.metadata.creationTimestamp;
  return {
    branch,
    name: dep.metadata.name,
    namespace: dep.metadata.namespace ?? '',
    url: ann[PREVIEW_ANNOTATION.url] ?? '',
    commit: template[ANNOTATION.commit] ?? null,
    image: dep.spec?.template?.spec?.containers?.[0]?.image ?? null,
    deployedAt: history[0]?.at ?? (created ? new Date(created).toISOString() : null),
  };
}

/** The site's previews, newest deploy first. */
export async function listPreviews(ctx: RunContext): Promise<Preview[]> {
  const deploy = requireDeploy(ctx.config);
  const kube = connectKube(ctx.env, deploy.context);
  const namespace = previewsNamespace(deploy);
  const list = await kube.apps
    .listNamespacedDeployment({ namespace, labelSelector: `${PREVIEW_LABEL}=${deploy.name}` })
    .catch((e: unknown) => {
      if (isNotFound(e)) return { items: [] };
      throw kubeError(e, `list the previews in ${namespace}`);
    });
  const previews: Preview[] = [];
  for (const dep of list.items) {
    const history = await readReleases(kube, namespace, dep.metadata?.name ?? '');
    const preview = previewOf(dep, history);
    if (preview) previews.push(preview);
  }
  return previews.sort((a, b) => (b.deployedAt ?? '').localeCompare(a.deployedAt ?? ''));
}

async function deleteIfThere(kube: Kube, apiVersion: string, kind: string, namespace: string, name: string) {
  try {
    await kube.objects.delete({ apiVersion, kind, metadata: { name, namespace } });
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw kubeError(e, `delete ${kind} ${namespace}/${name}`);
  }
}

/**
 * Removes one preview: its Deployment, Service, route and history. Holds the preview's deploy
 * Lease meanwhile, so a deploy of the same branch either finishes first or starts afresh after.
 * The shared objects (namespace, wildcard certificate) stay for the other previews.
 */
export async function deletePreview(ctx: RunContext, preview: Preview): Promise<string[]> {
  const deploy = requireDeploy(ctx.config);
  const kube = connectKube(ctx.env, deploy.context);
  const { namespace, name } = preview;
  const owned = [
    ...previewOwnedKinds(deploy),
    { apiVersion: 'v1', kind: 'ConfigMap', name: releasesName(name) },
  ];
  if (ctx.dryRun) return owned.map((o) => `${o.kind} ${namespace}/${'name' in o ? o.name : name}`);
  const deleted: string[] = [];
  await withDeployLock(
    kube,
    {
      namespace,
      name,
      waitMs: deploy.lockTimeoutSeconds * 1000,
      signal: ctx.signal,
      log: (m) => ctx.log.info(m),
    },
    async () => {
      for (const o of owned) {
        const objectName = 'name' in o ? o.name : name;
        if (await deleteIfThere(kube, o.apiVersion, o.kind, namespace, objectName))
          deleted.push(`${o.kind} ${namespace}/${objectName}`);
      }
    },
  );
  return deleted;
}

/** The preview of `branch` in the cluster's previews namespace. */
export function findPreview(previews: readonly Preview[], branch: string, ctx: RunContext): Preview {
  const deploy = requireDeploy(ctx.config);
  return pickPreview(previews, branch, previewNames(deploy, branch).slug, {
    site: deploy.name,
    where: `in ${previewsNamespace(deploy)}`,
  });
}

/** Previews to prune: the branch is gone from the remote, or the last deploy is older than maxAgeMs. */
export function prunable(
  previews: readonly Preview[],
  remoteBranches: ReadonlySet<string>,
  maxAgeMs: number | null,
  now = Date.now(),
): { preview: Preview; why: string }[] {
  const found: { preview: Preview; why: string }[] = [];
  for (const preview of previews) {
    if (!remoteBranches.has(preview.branch))
      found.push({ preview, why: 'its branch is gone from the remote' });
    else if (maxAgeMs !== null && preview.deployedAt && now - Date.parse(preview.deployedAt) > maxAgeMs)
      found.push({ preview, why: `last deployed ${preview.deployedAt}` });
  }
  return found;
}

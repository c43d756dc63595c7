import { hostname, userInfo } from 'node:os';
import type { V1Deployment } from '@kubernetes/client-node';
import { connectKube, isNotFound, type Kube, kubeError } from '../clients/kube.js';
import { SitepipeError } from '../errors.js';
import type { RunContext } from '../step.js';
import { type ApplyOptions, applyObject, dryRunAll } from './apply.js';
import { withDeployLock } from './lock.js';
import type { KubeObject } from './manifests.js';
import { requireDeploy } from './manifests-common.js';
import { type Release, recordRelease } from './releases.js';
import { rolloutState } from './rollout-status.js';

export { FIELD_MANAGER } from './apply.js';
/** Template annotations that say which commit a pod serves; kubectl and `releases` read them. */
export const ANNOTATION = {
  commit: 'sitepipe.io/commit',
  branch: 'sitepipe.io/branch',
  tag: 'sitepipe.io/tag',
  changeCause: 'kubernetes.io/change-cause',
} as const;

const POLL_MS = 1_000;

export interface RollTarget {
  repository: string;
  digest: string;
  commit: string | null;
  branch: string | null;
  tag: string | null;
  action: Release['action'];
}

/** What rollTo rolls: production (the config's deploy section) or one branch's preview. */
export interface RollSite {
  namespace: string;
  /** The Deployment; its Lease and release history are named after it. */
  name: string;
  /** Every object, in apply order, the first being the Namespace, with the Deployment at `image`. */
  objects(image: string): Promise<KubeObject[]>;
}

/** Production: the objects of `sitepipe manifests`. */
export function productionSite(ctx: RunContext): RollSite {
  const { namespace, name } = requireDeploy(ctx.config);
  return {
    namespace,
    name,
    async objects(image) {
      // Loaded on use: the schema models behind validation take a few hundred ms to import.
      const { buildManifests } = await import('./manifests.js');
      return buildManifests(ctx.config, { image });
    },
  };
}

export interface RollResult {
  release: Release;
  previousImage: string | null;
}

export function actor(env: NodeJS.ProcessEnv): string {
  if (env.SITEPIPE_ACTOR) return env.SITEPIPE_ACTOR;
  if (env.BUILD_ID && env.PROJECT_ID) return `cloudbuild/${env.PROJECT_ID}/${env.BUILD_ID}`;
  return `${env.USER ?? userInfo().username}@${hostname()}`;
}

/** The Deployment object of the manifests, with the target's image and annotations. */
function deploymentFor(objects: KubeObject[], target: RollTarget): KubeObject {
  const dep = objects.find((o) => o.kind === 'Deployment');
  if (!dep) throw new Error('the manifests have no Deployment');
  const d = dep as unknown as V1Deployment;
  const short = target.commit?.slice(0, 12) ?? target.digest.slice(0, 19);
  d.metadata = {
    ...d.metadata,
    annotations: {
      ...d.metadata?.annotations,
      [ANNOTATION.changeCause]: `sitepipe ${target.action} ${target.tag ?? short}`,
    },
  };
  const template = d.spec?.template;
  if (template) {
    template.metadata = {
      ...template.metadata,
      annotations: {
        ...template.metadata?.annotations,
        ...(target.commit ? { [ANNOTATION.commit]: target.commit } : {}),
        ...(target.branch ? { [ANNOTATION.branch]: target.branch } : {}),
        ...(target.tag ? { [ANNOTATION.tag]: target.tag } : {}),
      },
    };
  }
  return dep;
}

async function readDeployment(kube: Kube, namespace: string, name: string): Promise<V1Deployment | null> {
  try {
    return await kube.apps.readNamespacedDeployment({ name, namespace });
  } catch (e) {
    if (isNotFound(e)) return null;
    throw kubeError(e, `read deployment ${namespace}/${name}`);
  }
}

/** What the Deployment runs now, to roll back to: its image and the pod annotations that go with it. */
function currentTarget(dep: V1Deployment | null): RollTarget | null {
  const image = dep?.spec?.template?.spec?.containers?.[0]?.image;
  const at = image?.lastIndexOf('@sha256:') ?? -1;
  if (!image || at < 0) return null;
  const ann = dep?.spec?.template?.metadata?.annotations ?? {};
  return {
    repository: image.slice(0, at),
    digest: image.slice(at + 1),
    commit: ann[ANNOTATION.commit] ?? null,
    branch: ann[ANNOTATION.branch] ?? null,
    tag: ann[ANNOTATION.tag] ?? null,
    action: 'rollback',
  };
}

/** Waits for the rollout the way kubectl rollout status reads it, logging each change of state. */
async function waitForRollout(
  kube: Kube,
  namespace: string,
  name: string,
  timeoutMs: number,
  ctx: RunContext,
): Promise<{ ok: true } | { ok: false; why: string }> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    ctx.signal.throwIfAborted();
    const dep = await readDeployment(kube, namespace, name);
    const state = rolloutState(dep ?? {});
    if (state.message !== last) ctx.log.info(`rollout: ${state.message}`);
    last = state.message;
    if (state.phase === 'complete') return { ok: true };
    if (state.phase === 'failed') return { ok: false, why: `${state.reason}: ${state.message}` };
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return { ok: false, why: `no complete rollout within ${Math.round(timeoutMs / 1000)}s` };
}

/** The one field sitepipe takes back from anyone: the image of the release it rolls out. */
const ownsImage: ApplyOptions['mustOwn'] = (object, field) =>
  object.kind === 'Deployment' && /^\.spec\.template\.spec\.containers\[[^\]]*\]\.image$/.test(field);

async function namespaceExists(kube: Kube, name: string): Promise<boolean> {
  try {
    await kube.core.readNamespace({ name });
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw kubeError(e, `read namespace ${name}`);
  }
}

/**
 * Rolls the site (production unless told) to `target`, all or nothing. Under the deploy Lease:
 * a server-side dry run of every object (nothing is written when any would be refused), then
 * server-side apply (field manager sitepipe, without force: see applyObject) with the
 * Deployment at repository@digest, then the wait. When the rollout or an apply after the
 * Deployment fails, the previous image is applied again and waited for, and the deploy fails
 * saying so. A deploy that changes nothing adds no release to the history.
 */
export async function rollTo(
  ctx: RunContext,
  target: RollTarget,
  site: RollSite = productionSite(ctx),
): Promise<RollResult> {
  const deploy = requireDeploy(ctx.config);
  const { namespace, name } = site;
  const kube = connectKube(ctx.env, deploy.context);
  const image = `${target.repository}@${target.digest}`;
  const { validateManifests } = await import('./manifests.js');
  const objects = await site.objects(image);
  validateManifests(objects);
  const timeoutMs = (deploy.progressDeadlineSeconds + 60) * 1000;
  const applyOptions: ApplyOptions = { mustOwn: ownsImage, warn: (m) => ctx.log.warn(m) };
  // The Lease lives in the namespace: only a first deploy writes anything before taking it.
  const [ns] = objects;
  const firstDeploy = !(await namespaceExists(kube, namespace));
  if (firstDeploy && ns) await applyObject(kube, ns, applyOptions);

  return withDeployLock(
    kube,
    {
      namespace,
      name,
      waitMs: deploy.lockTimeoutSeconds * 1000,
      signal: ctx.signal,
      log: (m) => ctx.log.info(m),
    },
    async () => {
      const before = await readDeployment(kube, namespace, name);
      const previous = currentTarget(before);
      const wanted = objects
        .slice(firstDeploy ? 1 : 0)
        .map((o) => (o.kind === 'Deployment' ? deploymentFor(objects, target) : o));
      await dryRunAll(kube, wanted);
      const release = (outcome: Release['outcome'], t: RollTarget): Release => ({
        image: `${t.repository}@${t.digest}`,
        digest: t.digest,
        commit: t.commit,
        branch: t.branch,
        tag: t.tag,
        at: new Date().toISOString(),
        by: actor(ctx.env),
        action: t.action,
        outcome,
      });
      const previousImage = previous ? `${previous.repository}@${previous.digest}` : null;
      const canRollBack = previous !== null && previous.digest !== target.digest;
      /** Puts the previous image back and waits for it; whether that completed. */
      const rollBack = async (): Promise<boolean> => {
        if (!previous || !canRollBack) return false;
        ctx.log.warn(`rolling back to ${previousImage}`);
        const back = await site.objects(previousImage as string);
        await applyObject(kube, deploymentFor(back, previous), applyOptions);
        return (await waitForRollout(kube, namespace, name, timeoutMs, ctx)).ok;
      };

      let deploymentApplied = false;
      for (const obj of wanted) {
        try {
          await applyObject(kube, obj, applyOptions);
        } catch (e) {
          if (!deploymentApplied) throw e;
          const restored = await rollBack();
          await recordRelease(kube, namespace, name, release('failed', target));
          const err = e as SitepipeError;
          throw new SitepipeError(
            err.code ?? 'KUBE_ERROR',
            `${err.message}; ${canRollBack ? (restored ? `rolled back to ${previousImage}` : `the rollback to ${previousImage} did not complete`) : 'there is no earlier version to roll back to'}`,
            err.hint ?? 'see the details',
            err.details ?? [],
          );
        }
        if (obj.kind === 'Deployment') deploymentApplied = true;
      }
      const after = await readDeployment(kube, namespace, name);
      const unchanged =
        previous?.digest === target.digest &&
        before?.metadata?.resourceVersion !== undefined &&
        before.metadata.resourceVersion === after?.metadata?.resourceVersion;
      ctx.log.info(
        unchanged
          ? `${namespace}/${name} already runs ${image}; waiting for it to be ready`
          : `rolling ${namespace}/${name} to ${image}`,
      );
      const result = await waitForRollout(kube, namespace, name, timeoutMs, ctx);
      if (result.ok) {
        const done = release('live', target);
        // Nothing changed: the history already has this release.
        if (!unchanged) await recordRelease(kube, namespace, name, done);
        return { release: done, previousImage };
      }
      if (!canRollBack) {
        await recordRelease(kube, namespace, name, release('failed', target));
        throw new SitepipeError(
          'ROLLOUT_FAILED',
          `the rollout of ${image} failed (${result.why}) and there is no earlier version to roll back to`,
          `kubectl -n ${namespace} describe deploy/${name} and its pods show why the new pods are not ready`,
        );
      }
      ctx.log.warn(`rollout failed (${result.why})`);
      const restored = await rollBack();
      await recordRelease(kube, namespace, name, release('rolled-back', target));
      throw new SitepipeError(
        'ROLLOUT_FAILED',
        `the rollout of ${image} failed (${result.why}); ${
          restored ? 'rolled back to' : 'the rollback did not complete either, to'
        } ${previousImage}${previous?.commit ? ` (commit ${previous.commit.slice(0, 12)})` : ''}`,
        restored
          ? 'the previous version is serving; kubectl describe on the failed ReplicaSet shows why its pods were not ready'
          : `check the cluster now: kubectl -n ${namespace} rollout status deploy/${name}`,
      );
    },
  );
}

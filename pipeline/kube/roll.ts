import { hostname, userInfo } from 'node:os';
import { PatchStrategy, type V1Deployment } from '@kubernetes/client-node';
import { connectKube, isNotFound, type Kube, kubeError } from '../clients/kube.js';
import { SitepipeError } from '../errors.js';
import type { RunContext } from '../step.js';
import { withDeployLock } from './lock.js';
import type { KubeObject } from './manifests.js';
import { requireDeploy } from './manifests-common.js';
import { type Release, recordRelease } from './releases.js';
import { rolloutState } from './rollout-status.js';

export const FIELD_MANAGER = 'sitepipe';
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

async function apply(kube: Kube, obj: KubeObject): Promise<void> {
  try {
    await kube.objects.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
  } catch (e) {
    throw kubeError(e, `apply ${obj.kind} ${obj.metadata.namespace ?? ''}/${obj.metadata.name}`);
  }
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

/**
 * Rolls the site (production unless told) to `target`: server-side apply of every manifest (field manager sitepipe)
 * with the Deployment at repository@digest, then waits. On failure it applies the previous
 * image again, waits for that, and fails saying so. Holds the deploy Lease throughout.
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
  const [ns] = objects;
  if (ns) await apply(kube, ns);

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
      const previous = currentTarget(await readDeployment(kube, namespace, name));
      for (const obj of objects.slice(1))
        await apply(kube, obj.kind === 'Deployment' ? deploymentFor(objects, target) : obj);
      ctx.log.info(`rolling ${namespace}/${name} to ${image}`);
      const result = await waitForRollout(kube, namespace, name, timeoutMs, ctx);
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
      if (result.ok) {
        const done = release('live', target);
        await recordRelease(kube, namespace, name, done);
        return {
          release: done,
          previousImage: previous ? `${previous.repository}@${previous.digest}` : null,
        };
      }
      if (!previous || previous.digest === target.digest) {
        await recordRelease(kube, namespace, name, release('failed', target));
        throw new SitepipeError(
          'ROLLOUT_FAILED',
          `the rollout of ${image} failed (${result.why}) and there is no earlier version to roll back to`,
          `kubectl -n ${namespace} describe deploy/${name} and its pods show why the new pods are not ready`,
        );
      }
      ctx.log.warn(
        `rollout failed (${result.why}); rolling back to ${previous.repository}@${previous.digest}`,
      );
      const back = await site.objects(`${previous.repository}@${previous.digest}`);
      await apply(kube, deploymentFor(back, previous));
      const restored = await waitForRollout(kube, namespace, name, timeoutMs, ctx);
      await recordRelease(kube, namespace, name, release('rolled-back', target));
      throw new SitepipeError(
        'ROLLOUT_FAILED',
        `the rollout of ${image} failed (${result.why}); ${
          restored.ok ? 'rolled back to' : 'the rollback did not complete either, to'
        } ${previous.repository}@${previous.digest}${previous.commit ? ` (commit ${previous.commit.slice(0, 12)})` : ''}`,
        restored.ok
          ? 'the previous version is serving; kubectl describe on the failed ReplicaSet shows why its pods were not ready'
          : `check the cluster now: kubectl -n ${namespace} rollout status deploy/${name}`,
      );
    },
  );
}

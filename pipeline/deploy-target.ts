import type { Release } from './kube/releases.js';
import type { RollTarget } from './kube/roll.js';
import type { DeployResult, Outputs } from './records.js';
import type { RunContext } from './step.js';

/** What the deploy step hands a target: the outputs of the steps it needs. */
export type DeployInputs = Pick<Outputs, 'source' | 'tag' | 'push' | 'render'>;

/**
 * Where the site runs: a Kubernetes Deployment or releases on hosts behind Caddy. `deploy`,
 * `pin`, `rollback` and `releases` drive either through this one interface. `T` is what a
 * target rolls to (an image digest, a release directory), plain data that --dry-run prints.
 */
export interface DeployTarget<T = unknown> {
  readonly kind: 'kubernetes' | 'host';
  /** Read-only checks before anything runs (the cluster answers, the servers are reachable). */
  preflight(): Promise<void>;
  deploy(inputs: DeployInputs): Promise<DeployResult>;
  /** A commit (full or short) or tag to what the target can roll to; changes nothing, PIN_NOT_FOUND when there is none. */
  resolve(ref: string): Promise<T>;
  /** The live release before the current one; NOTHING_TO_ROLL_BACK when there is none. */
  previous(): Promise<T>;
  /** Rolls to `to` (pin, rollback). Under --dry-run says what it would do and returns null. */
  roll(to: T): Promise<Release | null>;
  describe(to: T): string;
  /** The history, newest first. */
  history(): Promise<Release[]>;
  /** The table heading of Release.digest: an image digest, or a release name. */
  readonly digestHeading: string;
}

/** Any well-formed image reference: the preflight only reads which kinds the objects have. */
const placeholderDigest = (ctx: RunContext) => `${ctx.config.image.repository}@sha256:${'0'.repeat(64)}`;

/** The Kubernetes target: today's rollout (kube/roll.ts) and ConfigMap history (kube/releases.ts), unchanged. */
async function kubernetesTarget(ctx: RunContext): Promise<DeployTarget<RollTarget>> {
  const [{ rollTo }, { requireDeploy }, { SitepipeError }] = await Promise.all([
    import('./kube/roll.js'),
    import('./kube/manifests-common.js'),
    import('./errors.js'),
  ]);
  const d = requireDeploy(ctx.config);
  const kubeHistory = async () => {
    const [{ connectKube }, { readReleases }] = await Promise.all([
      import('./clients/kube.js'),
      import('./kube/releases.js'),
    ]);
    return readReleases(connectKube(ctx.env, d.context), d.namespace, d.name);
  };
  const describe = (t: RollTarget) =>
    `${t.repository}@${t.digest}${t.commit ? ` (commit ${t.commit.slice(0, 12)}${t.branch ? ` on ${t.branch}` : ''})` : ''}`;
  return {
    kind: 'kubernetes',
    digestHeading: 'DIGEST',
    async preflight() {
      const [{ connectKube }, { checkServedKinds }, { buildManifests }, { previewManifests }] =
        await Promise.all([
          import('./clients/kube.js'),
          import('./kube/discovery.js'),
          import('./kube/manifests.js'),
          import('./kube/manifests-previews.js'),
        ]);
      // Every kind production or a preview writes, whichever this run turns out to deploy.
      const objects = [
        ...buildManifests(ctx.config),
        ...(d.previews ? previewManifests(ctx.config, 'preflight', placeholderDigest(ctx)) : []),
      ];
      await checkServedKinds(connectKube(ctx.env, d.context), objects);
    },
    async deploy({ source, tag, push }) {
      const { release, previousImage } = await rollTo(ctx, {
        repository: push.repository,
        digest: push.digest,
        commit: source.commit,
        branch: source.branch,
        tag: tag.commitTag,
        action: 'deploy',
      });
      return {
        commit: source.commit,
        deployed: true,
        target: 'kubernetes',
        image: release.image,
        previousImage,
        release: tag.commitTag,
        servers: [],
        skipped: null,
        preview: null,
      };
    },
    async resolve(ref) {
      const { resolveRelease } = await import('./commands/deploy.js');
      return resolveRelease(ctx, ref);
    },
    async previous() {
      const { previousRelease } = await import('./kube/releases.js');
      const previous = previousRelease(await kubeHistory());
      if (!previous) {
        throw new SitepipeError(
          'NOTHING_TO_ROLL_BACK',
          `${d.namespace}/${d.name} has no earlier live release with a different image`,
          '`sitepipe releases` shows the history; `sitepipe pin <commit>` rolls to any pushed commit',
        );
      }
      const at = previous.image.lastIndexOf('@');
      return { ...previous, repository: previous.image.slice(0, at), action: 'rollback' };
    },
    async roll(to) {
      if (ctx.dryRun) return null;
      return (await rollTo(ctx, to)).release;
    },
    describe,
    history: kubeHistory,
  };
}

/** The target the config names (deploy.target; kubernetes by default). Loaded on use: each pulls in its own client. */
export async function openTarget(ctx: RunContext): Promise<DeployTarget> {
  if (ctx.config.deploy?.target === 'host') {
    const { hostTarget } = await import('./host/target.js');
    return hostTarget(ctx) as DeployTarget;
  }
  return (await kubernetesTarget(ctx)) as DeployTarget;
}

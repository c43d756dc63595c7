import { defineStep } from '../pipeline/step.js';

// The Kubernetes client takes most of a second to import: loaded only when a deploy happens.
const kubeClient = () => import('../pipeline/clients/kube.js');

/** Rolls the Kubernetes Deployment to the pushed digest; skipped when the config has no deploy: section. */
export const deploy = defineStep({
  name: 'deploy',
  needs: ['source', 'tag', 'push'],
  mutates: true,
  description: 'roll the Kubernetes Deployment to the pushed digest',
  async preflight(ctx) {
    const d = ctx.config.deploy;
    if (!d) return;
    const { connectKube, kubeError } = await kubeClient();
    const kube = connectKube(ctx.env, d.context);
    await kube.version.getCode().catch((e: unknown) => {
      throw kubeError(e, 'read the server version', kube.config.getCurrentCluster()?.server);
    });
  },
  plan: (ctx, { push }) =>
    ctx.config.deploy
      ? `roll ${ctx.config.deploy.namespace}/${ctx.config.deploy.name} to ${push ? `${push.repository}@${push.digest}` : 'the pushed digest'}`
      : 'skip: no deploy: section in the config',
  async run(ctx, { source, tag, push }) {
    if (!ctx.config.deploy) {
      ctx.log.info('no deploy: section in the config; nothing to roll');
      return { commit: source.commit, deployed: false, image: null, previousImage: null };
    }
    const { rollTo } = await import('../pipeline/kube/roll.js');
    const { release, previousImage } = await rollTo(ctx, {
      repository: push.repository,
      digest: push.digest,
      commit: source.commit,
      branch: source.branch,
      tag: tag.commitTag,
      action: 'deploy',
    });
    return { commit: source.commit, deployed: true, image: release.image, previousImage };
  },
  summarize: (d) => (d.deployed ? `live: ${d.image}` : 'skipped (no deploy: section)'),
});

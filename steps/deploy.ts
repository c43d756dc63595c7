import { openTarget } from '../pipeline/deploy-target.js';
import { defineStep } from '../pipeline/step.js';

/**
 * Deploys the release to the config's target (deploy.target): rolls the Kubernetes Deployment
 * to the pushed digest, or publishes the rendered tree to the hosts. Skipped when the config
 * has no deploy: section. It needs render for the host target (the tree it sends) and push for
 * both: a host publishes only a commit whose image passed smoke.
 */
export const deploy = defineStep({
  name: 'deploy',
  needs: ['source', 'tag', 'push', 'render'],
  mutates: true,
  description: 'roll the Kubernetes Deployment to the pushed digest, or publish the site to the hosts',
  async preflight(ctx) {
    if (!ctx.config.deploy) return;
    await (await openTarget(ctx)).preflight();
  },
  plan: (ctx, inputs) => {
    const d = ctx.config.deploy;
    if (!d) return 'skip: no deploy: section in the config';
    if (d.target === 'host') {
      const names = d.host?.servers.map((s) => s.ssh).join(', ') ?? '';
      return `publish ${inputs.tag?.commitTag ?? 'the rendered site'} to ${names}, switch current and reload Caddy`;
    }
    return `roll ${d.namespace}/${d.name} to ${inputs.push ? `${inputs.push.repository}@${inputs.push.digest}` : 'the pushed digest'}`;
  },
  async run(ctx, inputs) {
    if (!ctx.config.deploy) {
      ctx.log.info('no deploy: section in the config; nothing to roll');
      return {
        commit: inputs.source.commit,
        deployed: false,
        target: 'kubernetes',
        image: null,
        previousImage: null,
        release: null,
        servers: [],
      };
    }
    return (await openTarget(ctx)).deploy(inputs);
  },
  summarize: (d) =>
    !d.deployed
      ? 'skipped (no deploy: section)'
      : d.target === 'host'
        ? `live: ${d.release} on ${d.servers.length} server(s)`
        : `live: ${d.image}`,
});

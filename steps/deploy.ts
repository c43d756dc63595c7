import { isProductionBranch } from '../pipeline/branches.js';
import { openTarget } from '../pipeline/deploy-target.js';
import type { DeployConfig } from '../pipeline/kube/config.js';
import type { DeployResult } from '../pipeline/records.js';
import { defineStep, type RunContext } from '../pipeline/step.js';

/** What a run on `branch` deploys: production, that branch's preview, or nothing. */
type Destination =
  | { kind: 'production' }
  | { kind: 'preview'; branch: string }
  | { kind: 'none'; why: string };

function destination(d: DeployConfig, branch: string | null): Destination {
  const globs = d.production.branches;
  if (isProductionBranch(globs, branch)) return { kind: 'production' };
  if (branch !== null && d.previews) return { kind: 'preview', branch };
  const list = globs.join(', ');
  return {
    kind: 'none',
    why:
      branch === null
        ? `the checkout is on no branch (detached), and only deploy.production.branches (${list}) reach production; nothing was deployed (set BRANCH_NAME to the branch being built)`
        : `${branch} is not a production branch (deploy.production.branches: ${list}); nothing was deployed (deploy.previews gives every other branch a site of its own)`,
  };
}

/** The branch as the source step will read it, for the checks that run before any step. */
async function branchBeforeSource(ctx: RunContext): Promise<string | null> {
  const { head } = await import('../pipeline/clients/git.js');
  const info = await head(ctx.siteDir, ctx.signal).catch(() => null);
  return info?.branch ?? ctx.env.BRANCH_NAME ?? null;
}

const nothing = (commit: string, skipped: string, target: DeployResult['target']): DeployResult => ({
  commit,
  deployed: false,
  target,
  image: null,
  previousImage: null,
  release: null,
  skipped,
  preview: null,
  servers: [],
});

/**
 * Deploys the release to the config's target (deploy.target): rolls the Kubernetes Deployment
 * to the pushed digest, or publishes the rendered tree to the hosts. Only production branches
 * reach production; another branch gets its preview (deploy.previews) or nothing. Skipped when
 * the config has no deploy: section. It needs render for the host target (the tree it sends)
 * and push for both: a host publishes only a commit whose image passed smoke.
 */
export const deploy = defineStep({
  name: 'deploy',
  needs: ['source', 'tag', 'push', 'render'],
  mutates: true,
  description: 'roll the Kubernetes Deployment to the pushed digest, or publish the site to the hosts',
  async preflight(ctx) {
    const d = ctx.config.deploy;
    if (!d || destination(d, await branchBeforeSource(ctx)).kind === 'none') return;
    await (await openTarget(ctx)).preflight();
  },
  plan: (ctx, inputs) => {
    const d = ctx.config.deploy;
    if (!d) return 'skip: no deploy: section in the config';
    const to = inputs.source ? destination(d, inputs.source.branch) : { kind: 'production' as const };
    if (to.kind === 'none') return `skip: ${to.why}`;
    if (to.kind === 'preview')
      return d.target === 'host'
        ? `publish ${inputs.tag?.commitTag ?? 'the rendered site'} as the preview of ${to.branch} under ${d.previews?.domain}`
        : `roll the preview of ${to.branch} to ${inputs.push ? inputs.push.digest : 'the pushed digest'}`;
    if (d.target === 'host') {
      const names = d.host?.servers.map((s) => s.ssh).join(', ') ?? '';
      return `publish ${inputs.tag?.commitTag ?? 'the rendered site'} to ${names}, switch current and reload Caddy`;
    }
    return `roll ${d.namespace}/${d.name} to ${inputs.push ? `${inputs.push.repository}@${inputs.push.digest}` : 'the pushed digest'}`;
  },
  async run(ctx, inputs) {
    const d = ctx.config.deploy;
    if (!d) {
      ctx.log.info('no deploy: section in the config; nothing to roll');
      return nothing(inputs.source.commit, 'no deploy: section in the config', 'kubernetes');
    }
    const to = destination(d, inputs.source.branch);
    if (to.kind === 'none') {
      ctx.log.info(to.why);
      return nothing(inputs.source.commit, to.why, d.target);
    }
    if (to.kind === 'preview') {
      const { deployPreview } =
        d.target === 'host'
          ? await import('../pipeline/host/previews.js')
          : await import('../pipeline/kube/previews.js');
      return deployPreview(ctx, inputs);
    }
    return (await openTarget(ctx)).deploy(inputs);
  },
  summarize: (d) =>
    !d.deployed
      ? `skipped (${d.skipped ?? 'nothing to deploy'})`
      : d.preview
        ? `preview of ${d.preview.branch}: ${d.preview.url}`
        : d.target === 'host'
          ? `live: ${d.release} on ${d.servers.length} server(s)`
          : `live: ${d.image}`,
});

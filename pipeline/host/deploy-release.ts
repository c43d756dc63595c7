import type { DeployInputs } from '../deploy-target.js';
import type { DeployResult } from '../records.js';
import type { RunContext } from '../step.js';
import type { HostDeploy } from './layout.js';
import { publish } from './publish.js';

/** The deploy step's publish of the rendered tree to `hd` (production, or a preview's HostDeploy). */
export async function deployRelease(
  ctx: RunContext,
  hd: HostDeploy,
  { source, tag, render }: DeployInputs,
): Promise<DeployResult> {
  const { release, servers } = await publish(ctx, hd, {
    tag: tag.commitTag,
    commit: source.commit,
    branch: source.branch,
    action: 'deploy',
    upload: {
      dir: render.outputDir,
      basePath: render.basePath,
      files: render.files,
      bytes: render.bytes,
    },
  });
  return {
    commit: source.commit,
    deployed: !ctx.dryRun,
    target: 'host',
    image: null,
    previousImage: null,
    release: release.tag,
    skipped: null,
    preview: null,
    servers: servers.map((s) => ({
      server: s.server,
      serving: s.serving,
      previous: s.previous,
      bytesSent: s.upload?.bytesSent ?? null,
      filesSent: s.upload?.filesSent ?? null,
    })),
  };
}

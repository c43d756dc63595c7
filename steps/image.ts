import { buildWithDocker } from '../pipeline/builders/docker.js';
import { buildWithOci } from '../pipeline/builders/oci.js';
import { requireDocker } from '../pipeline/clients/docker.js';
import { formatBytes } from '../pipeline/output.js';
import type { BuiltImage } from '../pipeline/records.js';
import { defineStep } from '../pipeline/step.js';

/**
 * Builds the nginx image. oci (default): site layers appended to the base through the
 * registry API, blobs and manifest uploaded by digest, nothing tagged. docker: the
 * multi-stage Dockerfile.template on the Docker engine.
 */
export const image = defineStep({
  name: 'image',
  needs: ['source', 'tag', 'hugo', 'pygments'],
  // oci: signs in, resolves the base and reads git history while Hugo renders. docker: renders
  // again inside the build, so it need not wait at all.
  awaits: ['render'],
  mutates: true,
  description: 'build the nginx image',
  async preflight(ctx) {
    if (ctx.config.image.builder !== 'docker') return;
    await requireDocker(
      ctx.env,
      'image.builder: docker builds on a Docker engine: start dockerd (or set DOCKER_HOST), or set image.builder: oci, which builds without one (smoke still needs one unless smoke.enabled: false)',
    );
  },
  plan: (ctx, { tag }) =>
    ctx.config.image.builder === 'docker'
      ? `build ${tag?.repository}:${tag?.commitTag} from Dockerfile.template on ${ctx.config.image.base} with docker`
      : `upload the site as layers on ${ctx.config.image.base} to ${tag?.repository} (by digest, untagged)`,
  run: (ctx, inputs, pending) =>
    ctx.config.image.builder === 'docker'
      ? buildWithDocker(ctx, inputs)
      : buildWithOci(ctx, inputs, pending.render),
  summarize: (img) =>
    img.digest
      ? `${img.digest.slice(0, 19)} on ${img.baseImage}, ${uploaded(img)}`
      : `${img.localRef.slice(0, 19)} on ${img.baseImage}`,
});

/** What the build sent: the bytes that went up, and which layers (a delta, or full site layers). */
function uploaded(img: BuiltImage): string {
  if (img.uploadedBytes === 0) return 'nothing uploaded (the registry had every blob)';
  const layers =
    img.layers === 'delta' ? ' (a delta layer)' : img.layers ? ` (${img.layers} site layers)` : '';
  return `uploaded ${formatBytes(img.uploadedBytes)}${layers}`;
}

import { buildWithDocker } from '../pipeline/builders/docker.js';
import { buildWithOci } from '../pipeline/builders/oci.js';
import { connectDocker, pingDocker } from '../pipeline/clients/docker.js';
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
    if (ctx.config.image.builder === 'docker') await pingDocker(await connectDocker(ctx.env));
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
      ? `${img.digest.slice(0, 19)} on ${img.baseImage}, ${(img.uploadedBytes / 1e6).toFixed(2)} MB uploaded`
      : `${img.localRef.slice(0, 19)} on ${img.baseImage}`,
});

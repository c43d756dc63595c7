import { connectDocker, pushTag } from '../pipeline/clients/docker.js';
import { SitepipeError } from '../pipeline/errors.js';
import { parseRepository } from '../pipeline/reference.js';
import { openRegistry } from '../pipeline/registries.js';
import { defineStep } from '../pipeline/step.js';

/**
 * Sets the tags, commit tag first. oci: the manifest is in the registry by digest already,
 * so each tag is one manifest PUT. docker: the engine pushes (every blob before the manifest).
 * Either way the registry must then serve one digest for every tag.
 */
export const push = defineStep({
  name: 'push',
  needs: ['tag', 'image', 'smoke'],
  mutates: true,
  description: 'set the image tags in the registry',
  async preflight(ctx) {
    const ref = parseRepository(ctx.config.image.repository);
    await (await openRegistry(ctx, ref.registry)).client.checkPushAccess(ref.path);
  },
  plan: (_ctx, { tag }) => `push ${tag?.tags.map((t) => `${tag.repository}:${t}`).join(', ')}`,
  async run(ctx, { tag, image }) {
    const ref = parseRepository(ctx.config.image.repository);
    const { client, creds } = await openRegistry(ctx, ref.registry);
    if (image.builder === 'oci' && image.digest) {
      const manifest = await client.getManifest(ref.path, image.digest);
      if (!manifest) {
        throw new SitepipeError(
          'IMAGE_MISSING',
          `${tag.repository}@${image.digest} is no longer in the registry`,
          'run the image step again (sitepipe run image smoke push)',
        );
      }
      for (const t of tag.tags) await client.putManifest(ref.path, t, manifest.mediaType, manifest.body);
    } else {
      const docker = await connectDocker(ctx.env);
      for (const t of tag.tags) await pushTag(docker, tag.repository, t, ref.registry, creds, ctx.signal);
    }
    const digests = new Set<string | null>();
    for (const t of tag.tags) digests.add(await client.tagDigest(ref.path, t));
    const [digest] = digests;
    if (!digest || digests.size !== 1 || (image.digest && digest !== image.digest)) {
      throw new SitepipeError(
        'PUSH_INCONSISTENT',
        `the tags ${tag.tags.join(', ')} do not all point to the built image (${[...digests].join(', ')})`,
        'another push to the same tags may have raced this one; run again',
      );
    }
    for (const t of tag.tags) ctx.log.info(`${tag.repository}:${t} -> ${digest}`);
    return { repository: tag.repository, tags: tag.tags, digest };
  },
  summarize: (p) => `${p.repository}@${p.digest}`,
});

import { type Credentials, resolveCredentials } from '../pipeline/clients/credentials.js';
import { connectDocker, pushTag } from '../pipeline/clients/docker.js';
import { RegistryClient } from '../pipeline/clients/registry.js';
import { SitepipeError } from '../pipeline/errors.js';
import { parseRepository } from '../pipeline/reference.js';
import { defineStep, type RunContext } from '../pipeline/step.js';

async function credentialsFor(ctx: RunContext, registry: string): Promise<Credentials | null> {
  const creds = await resolveCredentials(ctx.config, registry, ctx.env, ctx.signal);
  if (creds) ctx.log.secret(creds.password);
  return creds;
}

/** Pushes every tag (commit tag first) and checks the registry serves one digest for all. */
export const push = defineStep({
  name: 'push',
  needs: ['tag', 'image', 'smoke'],
  mutates: true,
  description: 'push the image and its tags to the registry',
  async preflight(ctx) {
    const ref = parseRepository(ctx.config.image.repository);
    const creds = await credentialsFor(ctx, ref.registry);
    await new RegistryClient(ref.registry, creds, ctx.signal).checkPushAccess(ref.path);
  },
  plan: (_ctx, { tag }) => `push ${tag?.tags.map((t) => `${tag.repository}:${t}`).join(', ')}`,
  async run(ctx, { tag }) {
    const ref = parseRepository(ctx.config.image.repository);
    const creds = await credentialsFor(ctx, ref.registry);
    const docker = connectDocker(ctx.env);
    const digests = new Set<string>();
    for (const t of tag.tags) {
      digests.add(await pushTag(docker, tag.repository, t, ref.registry, creds, ctx.signal));
      ctx.log.info(`pushed ${tag.repository}:${t}`);
    }
    const registry = new RegistryClient(ref.registry, creds, ctx.signal);
    for (const t of tag.tags) {
      const served = await registry.tagDigest(ref.path, t);
      if (served) digests.add(served);
    }
    const [digest] = digests;
    if (!digest || digests.size !== 1) {
      throw new SitepipeError(
        'PUSH_INCONSISTENT',
        `the tags of one image point to different digests: ${[...digests].join(', ')}`,
        'another push to the same tags may have raced this one; run again',
      );
    }
    return { repository: tag.repository, tags: tag.tags, digest };
  },
  summarize: (p) => `${p.repository}@${p.digest}`,
});

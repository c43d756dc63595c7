import type Docker from 'dockerode';
import type { Credentials } from '../pipeline/clients/credentials.js';
import { connectDocker, pushTag } from '../pipeline/clients/docker.js';
import type { FetchedManifest, ImageManifest, RegistryClient } from '../pipeline/clients/registry.js';
import { SitepipeError } from '../pipeline/errors.js';
import type { BuiltImage, SmokeResult, TagPlan } from '../pipeline/records.js';
import { parseRepository } from '../pipeline/reference.js';
import { openRegistry } from '../pipeline/registries.js';
import { defineStep, type RunContext } from '../pipeline/step.js';
import { BRANCH, type Candidate, CREATED, judgeTag, settleBranchTag } from '../pipeline/tag-guard.js';

/** Tags move only onto the image smoke ran; a record of another image (an earlier run's) is refused. */
function checkTested(image: BuiltImage, smoke: SmokeResult, log: RunContext['log']): void {
  if (smoke.image !== image.localRef) {
    throw new SitepipeError(
      'IMAGE_UNTESTED',
      `the image ${image.localRef} was not smoke-tested (the smoke record is of ${smoke.image})`,
      'run smoke on this image first: sitepipe run smoke push',
    );
  }
  if (!smoke.tested) log.warn('smoke.enabled is false: tagging an image nobody ran');
}

/**
 * Docker path: the engine pushes the commit tag, from exactly the image id smoke ran (a local
 * name like repo:branch could have been moved by another build on the same engine since). The
 * registry must then hold that very image: its config digest is the engine's image id.
 */
async function pushFromEngine(
  ctx: RunContext,
  client: RegistryClient,
  creds: Credentials | null,
  tag: TagPlan,
  image: BuiltImage,
): Promise<FetchedManifest> {
  const ref = parseRepository(tag.repository);
  const docker: Docker = await connectDocker(ctx.env);
  for (let attempt = 1; ; attempt++) {
    await docker
      .getImage(image.localRef)
      .tag({ repo: tag.repository, tag: tag.commitTag })
      .catch((e: { statusCode?: number }) => {
        if (e.statusCode !== 404) throw e;
        throw new SitepipeError(
          'IMAGE_MISSING',
          `the Docker engine no longer has the image smoke ran (${image.localRef})`,
          'build and test it again: sitepipe run image smoke push',
        );
      });
    const digest = await pushTag(docker, tag.repository, tag.commitTag, ref.registry, creds, ctx.signal);
    const manifest = await client.getManifest(ref.path, digest);
    const config = manifest && (JSON.parse(manifest.body.toString('utf8')) as ImageManifest).config.digest;
    if (manifest && config === image.localRef) return manifest;
    if (attempt === 3) {
      throw new SitepipeError(
        'PUSH_RACED',
        `the engine pushed ${config ?? 'nothing'} as ${tag.repository}:${tag.commitTag}, not the tested image ${image.localRef}`,
        'another build on the same Docker engine tags the same name at the same time; run push again once it is done',
      );
    }
  }
}

/** A failure after some tags were set says which: "nothing was tagged" would be wrong then. */
function partlyTagged(e: unknown, tag: TagPlan, set: readonly string[]): unknown {
  if (!(e instanceof SitepipeError) || set.length === 0) return e;
  const names = (tags: readonly string[]) => tags.map((t) => `${tag.repository}:${t}`).join(', ');
  const rest = tag.tags.filter((t) => !set.includes(t));
  return new SitepipeError(
    e.code,
    `${e.message}; ${names(set)} ${set.length === 1 ? 'was' : 'were'} set already, ${names(rest)} not`,
    `${e.hint.replace('nothing was tagged, so ', '')}; running push again sets the tags still missing`,
    e.details,
    { cause: e },
  );
}

/**
 * Sets the tags, commit tag first, each only where it may go (tag-guard.ts): a commit tag only
 * onto its own commit, a branch tag never backwards. oci: the manifest is in the registry by
 * digest already, so each tag is one manifest PUT. docker: the engine pushes the commit tag,
 * and the other tags are PUTs of the same manifest. Either way the registry must then serve
 * the tested digest for every tag set.
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
  async run(ctx, { tag, image, smoke }) {
    checkTested(image, smoke, ctx.log);
    const ref = parseRepository(ctx.config.image.repository);
    const { client, creds } = await openRegistry(ctx, ref.registry);
    const candidate: Candidate = {
      commit: image.commit,
      created: image.labels[CREATED],
      branch: image.labels[BRANCH],
    };
    const judge = (t: string, digest: string | null) =>
      judgeTag({
        client,
        path: ref.path,
        tag: t,
        kind: t === tag.commitTag ? 'commit' : 'branch',
        candidate,
        digest,
        cwd: ctx.siteDir,
      });

    let manifest: FetchedManifest | null;
    if (image.builder === 'oci' && image.digest) {
      manifest = await client.getManifest(ref.path, image.digest);
      if (!manifest) {
        throw new SitepipeError(
          'IMAGE_MISSING',
          `${tag.repository}@${image.digest} is no longer in the registry`,
          'run the image step again (sitepipe run image smoke push)',
        );
      }
    } else {
      // The engine learns the digest only as it pushes; a taken commit tag is refused before.
      await judge(tag.commitTag, null);
      manifest = await pushFromEngine(ctx, client, creds, tag, image);
    }
    const { digest } = manifest;
    const put = async (t: string) => {
      await client.putManifest(ref.path, t, manifest.mediaType, manifest.body);
    };

    const set: string[] = [];
    try {
      await setTags();
    } catch (e) {
      throw partlyTagged(e, tag, set);
    }
    async function setTags() {
      for (const t of tag.tags) {
        const verdict = await judge(t, digest);
        if (!verdict.move) {
          ctx.log.warn(`${tag.repository}:${t} not moved: ${verdict.why}`);
          continue;
        }
        if (!(image.builder === 'docker' && t === tag.commitTag)) await put(t);
        const kept =
          t === tag.commitTag ||
          (await settleBranchTag({
            client,
            path: ref.path,
            tag: t,
            candidate,
            digest,
            cwd: ctx.siteDir,
            put: () => put(t),
            warn: (m) => ctx.log.warn(m),
          }));
        if (kept) set.push(t);
      }
    }
    const wrong: string[] = [];
    for (const t of set) {
      const now = await client.tagDigest(ref.path, t);
      if (now !== digest) wrong.push(`${t} -> ${now}`);
    }
    if (wrong.length > 0 || (image.digest && digest !== image.digest)) {
      throw new SitepipeError(
        'PUSH_INCONSISTENT',
        `the tags do not all point to the tested image ${digest}: ${wrong.join(', ')}`,
        'another push to the same tags may have raced this one; run push again',
      );
    }
    for (const t of set) ctx.log.info(`${tag.repository}:${t} -> ${digest}`);
    return { commit: image.commit, repository: tag.repository, tags: set, digest };
  },
  summarize: (p) => `${p.repository}@${p.digest}`,
});

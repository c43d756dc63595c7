import { chmod, copyFile, cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { create as createTar } from 'tar';
import { buildImage, connectDocker } from '../clients/docker.js';
import { imageLabels } from '../labels.js';
import { listenConf, serverConf } from '../nginx.js';
import { packageRoot } from '../paths.js';
import type { BuiltImage, HugoInstall, PygmentsInstall, SourceInfo, TagPlan } from '../records.js';
import type { RunContext } from '../step.js';

/** Site entries that never belong in the build context. */
const EXCLUDED = new Set(['.git', 'node_modules', 'public', '.sitepipe', '.hugo_build.lock']);

/** Lays out Dockerfile, hugo, site/ and nginx/ in a fresh build context directory. */
async function writeContext(ctx: RunContext, hugoPath: string): Promise<string> {
  // Outside the site: the state dir usually sits inside it, and the site is copied in.
  const dir = await mkdtemp(join(tmpdir(), 'sitepipe-context-'));
  await mkdir(join(dir, 'nginx'));
  await copyFile(join(packageRoot(), 'Dockerfile.template'), join(dir, 'Dockerfile'));
  await copyFile(hugoPath, join(dir, 'hugo'));
  await chmod(join(dir, 'hugo'), 0o755);
  const stateRel = relative(ctx.siteDir, ctx.stateDir);
  await cp(ctx.siteDir, join(dir, 'site'), {
    recursive: true,
    filter: (src) => {
      const rel = relative(ctx.siteDir, src);
      return !EXCLUDED.has(basename(src)) && rel !== stateRel && !rel.startsWith('resources/_gen');
    },
  });
  await writeFile(join(dir, 'nginx', 'default.conf'), serverConf());
  await writeFile(join(dir, 'nginx', 'listen.conf'), listenConf(ctx.config.image.port));
  return dir;
}

/** The Docker path: Dockerfile.template as a multi-stage build on the Docker engine. */
export async function buildWithDocker(
  ctx: RunContext,
  inputs: { source: SourceInfo; tag: TagPlan; hugo: HugoInstall; pygments: PygmentsInstall },
): Promise<BuiltImage> {
  const { source, tag, hugo, pygments } = inputs;
  const docker = connectDocker(ctx.env);
  const { base, builderBase } = ctx.config.image;
  const contextDir = await writeContext(ctx, hugo.path);
  const labels = imageLabels(source, tag, base);
  const buildArgs: Record<string, string> = {
    BUILDER_IMAGE: builderBase,
    BASE_IMAGE: base,
    HUGO_VERSION: hugo.version,
    HUGO_BASEURL: ctx.config.site.baseURL ?? '',
    PYGMENTS_VERSION: pygments.enabled ? (pygments.version ?? '') : '',
    PYGMENTS_STYLE: pygments.enabled ? pygments.style : '',
    PYGMENTS_STYLESHEET: pygments.stylesheet ?? '',
  };
  let id: string;
  try {
    const context = createTar({ cwd: contextDir, portable: true }, ['.']) as unknown as NodeJS.ReadableStream;
    id = await buildImage(docker, {
      context,
      tag: `${tag.repository}:${tag.commitTag}`,
      buildArgs,
      labels,
      signal: ctx.signal,
      onLine: (line) => {
        if (/^Step \d+\/\d+ : RUN/.test(line)) ctx.log.info(line.slice(0, 120));
      },
    });
  } finally {
    await rm(contextDir, { recursive: true, force: true });
  }
  // Tags in the engine are local names; the registry's tags move only in the push step.
  for (const t of tag.tags) await docker.getImage(id).tag({ repo: tag.repository, tag: t });
  return {
    builder: 'docker',
    localRef: id,
    digest: null,
    baseImage: base,
    baseDigest: null,
    labels,
    uploadedBytes: 0,
  };
}

import { chmod, copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { create as createTar } from 'tar';
import { siteBaseOptions, siteBasePath } from '../base-path.js';
import { buildImage, connectDocker } from '../clients/docker.js';
import type { Config } from '../config.js';
import { SitepipeError } from '../errors.js';
import { shellWords } from '../hugo-options.js';
import { imageLabels } from '../labels.js';
import { ownedPrefix, removeDeadTempEntries } from '../leftovers.js';
import { checkBasePath, listenConf, SITE_ROOT, serverConf } from '../nginx.js';
import { packageRoot } from '../paths.js';
import type { BuiltImage, HugoInstall, PygmentsInstall, SourceInfo, TagPlan } from '../records.js';
import type { RunContext } from '../step.js';
import { releaseHeaderValue } from '../verify/release-header.js';

/** Site entries that never belong in the build context. */
const EXCLUDED = new Set(['.git', 'node_modules', 'public', '.sitepipe', '.hugo_build.lock']);

/**
 * Every value Dockerfile.template takes as a build arg (none named HUGO_*: Hugo would read it
 * as config). `basePath` is the URL path the site lives under (siteBasePath). hugo.args and
 * hugo.env go as shell words that the RUN step evals back into the exact strings: a build arg
 * is one string, and one baked into a Dockerfile (Cloud Build's docker-context) holds no newline.
 */
export function dockerBuildArgs(
  config: Config,
  hugo: HugoInstall,
  pygments: PygmentsInstall,
  basePath: string,
): Record<string, string> {
  return {
    SITEPIPE_BUILDER_IMAGE: config.image.builderBase,
    SITEPIPE_BASE_IMAGE: config.image.base,
    SITEPIPE_HUGO_VERSION: hugo.version,
    SITEPIPE_BASEURL: config.site.baseURL ?? '',
    SITEPIPE_HUGO_ENVIRONMENT: config.hugo.environment,
    SITEPIPE_HUGO_ARGS: shellWords(config.hugo.args),
    SITEPIPE_HUGO_ENV: shellWords(Object.entries(config.hugo.env).map(([k, v]) => `${k}=${v}`)),
    SITEPIPE_PYGMENTS_STYLESHEET:
      pygments.enabled && pygments.css !== null ? (pygments.stylesheet ?? '') : '',
    SITEPIPE_PORT: String(config.image.port),
    SITEPIPE_SITE_ROOT: SITE_ROOT,
    SITEPIPE_BASE_PATH: checkBasePath(basePath),
  };
}

const CONTEXT_PREFIX = 'sitepipe-context-';

/**
 * A fresh temp dir for the build context, named for this process, after removing those of
 * runs that were killed (a copy of the whole site each).
 */
export async function makeContextDir(): Promise<string> {
  await removeDeadTempEntries(CONTEXT_PREFIX);
  return mkdtemp(join(tmpdir(), ownedPrefix(CONTEXT_PREFIX)));
}

/** Lays out the build context in `dir`: Dockerfile, the resolved hugo, site/, nginx/ and pygments.css. */
export async function writeBuildContext(
  dir: string,
  opts: {
    siteDir: string;
    stateDir: string;
    hugoPath: string;
    port: number;
    basePath: string;
    dockerfile: string;
    pygments: PygmentsInstall;
    /** The Sitepipe-Release header's value, or null for none. */
    release: string | null;
  },
): Promise<void> {
  const { siteDir } = opts;
  await mkdir(join(dir, 'nginx'), { recursive: true });
  await writeFile(join(dir, 'Dockerfile'), opts.dockerfile);
  await writeFile(join(dir, 'pygments.css'), opts.pygments.enabled ? (opts.pygments.css ?? '') : '');
  await copyFile(opts.hugoPath, join(dir, 'hugo'));
  await chmod(join(dir, 'hugo'), 0o755);
  // Entry by entry: the state dir (and maybe `dir`) sit inside the site, and a copy of a
  // directory into itself is refused even when a filter would leave the target out.
  const skip = new Set([relative(siteDir, opts.stateDir), relative(siteDir, dir)]);
  const keep = (src: string) => {
    const rel = relative(siteDir, src);
    return !EXCLUDED.has(basename(src)) && !skip.has(rel) && !rel.startsWith('resources/_gen');
  };
  await mkdir(join(dir, 'site'));
  for (const entry of await readdir(siteDir)) {
    const src = join(siteDir, entry);
    // A link stays the link the site has (cp would make a relative one absolute, to a host
    // path that does not exist in the build, and Hugo then quietly skips the static files).
    if (keep(src)) {
      await cp(src, join(dir, 'site', entry), { recursive: true, filter: keep, verbatimSymlinks: true });
    }
  }
  await writeFile(join(dir, 'nginx', 'default.conf'), serverConf(opts.basePath, opts.release));
  await writeFile(join(dir, 'nginx', 'listen.conf'), listenConf(opts.port));
}

/** Dockerfile.template from the package; an empty one, or one with no FROM, is refused before a build. */
export async function dockerfileTemplate(path = join(packageRoot(), 'Dockerfile.template')): Promise<string> {
  const text = await readFile(path, 'utf8');
  const problem =
    text.trim() === '' ? 'is empty' : /^\s*FROM\s/im.test(text) ? null : 'has no FROM instruction';
  if (problem) {
    throw new SitepipeError(
      'DOCKERFILE_TEMPLATE_INVALID',
      `${path} ${problem}`,
      'restore Dockerfile.template from the sitepipe package (reinstall sitepipe), or fix it',
    );
  }
  return text;
}

/** The Docker path: Dockerfile.template as a multi-stage build on the Docker engine. */
export async function buildWithDocker(
  ctx: RunContext,
  inputs: { source: SourceInfo; tag: TagPlan; hugo: HugoInstall; pygments: PygmentsInstall },
): Promise<BuiltImage> {
  const { source, tag, hugo, pygments } = inputs;
  const docker = await connectDocker(ctx.env);
  const { base } = ctx.config.image;
  const labels = imageLabels(source, tag, base);
  // The build renders the site itself, so the base path comes from the same config it renders.
  const basePath = await siteBasePath({
    ...siteBaseOptions(ctx.config),
    hugoPath: hugo.path,
    siteDir: ctx.siteDir,
    signal: ctx.signal,
  });
  const buildArgs = dockerBuildArgs(ctx.config, hugo, pygments, basePath);
  const contextDir = await makeContextDir();
  let id: string;
  try {
    await writeBuildContext(contextDir, {
      siteDir: ctx.siteDir,
      stateDir: ctx.stateDir,
      hugoPath: hugo.path,
      port: ctx.config.image.port,
      basePath,
      dockerfile: await dockerfileTemplate(),
      pygments,
      release: releaseHeaderValue(ctx.config, tag.commitTag),
    });
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
    commit: source.commit,
    builder: 'docker',
    localRef: id,
    digest: null,
    baseImage: base,
    baseDigest: null,
    labels,
    uploadedBytes: 0,
  };
}

import { chmod, copyFile, cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import type Docker from 'dockerode';
import type { Config } from '../config.js';
import { SitepipeError } from '../errors.js';
import { imageLabels } from '../labels.js';
import { listenConf, serverConf } from '../nginx.js';
import { packageRoot } from '../paths.js';
import type { BuiltImage } from '../records.js';
import { readRecord, writeRecord } from '../state.js';

/**
 * The Docker path with the standard Docker builder (cloudbuild.imageStep: docker-builder):
 * `sitepipe cloudbuild docker-context` lays out the same build context the image step sends to
 * the engine (Dockerfile.template, the resolved hugo, site/, nginx/), with every build argument
 * and label written into the Dockerfile, so that gcr.io/cloud-builders/docker can build it with
 * a plain `docker build DIR`; `sitepipe cloudbuild docker-image REF` then tags the result like
 * the image step does and writes the image record that smoke and push read.
 */

/** Site entries that never belong in the build context (as the image step leaves them out). */
const EXCLUDED = new Set(['.git', 'node_modules', 'public', '.sitepipe', '.hugo_build.lock']);

/** A Dockerfile string literal (double-quoted, JSON escapes are Dockerfile escapes). */
function quote(value: string): string {
  return JSON.stringify(value);
}

/** Gives each `ARG NAME` of the Dockerfile the value `args` holds for it, and appends the labels. */
export function bakeDockerfile(
  template: string,
  args: Record<string, string>,
  labels: Record<string, string>,
): string {
  const baked = template
    .split('\n')
    .map((line) => {
      const name = /^ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=.*)?$/.exec(line.trim())?.[1];
      return name !== undefined && name in args ? `ARG ${name}=${quote(args[name] ?? '')}` : line;
    })
    .join('\n');
  const labelLines = Object.entries(labels).map(([k, v]) => `LABEL ${quote(k)}=${quote(v)}`);
  return `${baked.replace(/\n*$/, '\n')}${labelLines.join('\n')}\n`;
}

export interface DockerContextOptions {
  config: Config;
  siteDir: string;
  stateDir: string;
  /** Where the context goes (emptied first). */
  out: string;
}

/** Writes the build context for the records in the state dir; returns the labels it set. */
export async function writeDockerContext(opts: DockerContextOptions): Promise<Record<string, string>> {
  const { config, siteDir, stateDir, out } = opts;
  if (config.image.builder !== 'docker') {
    throw new SitepipeError(
      'CLOUDBUILD_IMAGE_STEP',
      `image.builder is ${config.image.builder}; the Docker builder step builds only the Docker path`,
      'set image.builder: docker, or cloudbuild.imageStep: sitepipe',
    );
  }
  const [source, tag, hugo, pygments] = await Promise.all([
    readRecord(stateDir, 'source'),
    readRecord(stateDir, 'tag'),
    readRecord(stateDir, 'hugo'),
    readRecord(stateDir, 'pygments'),
  ]);
  const { base, builderBase, port } = config.image;
  const labels = imageLabels(source, tag, base);
  const args: Record<string, string> = {
    BUILDER_IMAGE: builderBase,
    BASE_IMAGE: base,
    HUGO_VERSION: hugo.version,
    HUGO_BASEURL: config.site.baseURL ?? '',
    PYGMENTS_VERSION: pygments.enabled ? (pygments.version ?? '') : '',
    PYGMENTS_STYLE: pygments.enabled ? pygments.style : '',
    PYGMENTS_STYLESHEET: pygments.stylesheet ?? '',
  };
  await rm(out, { recursive: true, force: true });
  await mkdir(join(out, 'nginx'), { recursive: true });
  const template = await readFile(join(packageRoot(), 'Dockerfile.template'), 'utf8');
  await writeFile(join(out, 'Dockerfile'), bakeDockerfile(template, args, labels));
  await copyFile(hugo.path, join(out, 'hugo'));
  await chmod(join(out, 'hugo'), 0o755);
  // Entry by entry: the context usually sits in the state dir, inside the site, and a copy of a
  // directory into itself is refused even when a filter would leave the target out.
  const skip = new Set([relative(siteDir, stateDir), relative(siteDir, out)]);
  const keep = (src: string) => {
    const rel = relative(siteDir, src);
    return !EXCLUDED.has(basename(src)) && !skip.has(rel) && !rel.startsWith('resources/_gen');
  };
  await mkdir(join(out, 'site'));
  for (const entry of await readdir(siteDir)) {
    const src = join(siteDir, entry);
    if (keep(src)) await cp(src, join(out, 'site', entry), { recursive: true, filter: keep });
  }
  await writeFile(join(out, 'nginx', 'default.conf'), serverConf());
  await writeFile(join(out, 'nginx', 'listen.conf'), listenConf(port));
  return labels;
}

/** Tags the image the Docker builder built as the tag step planned, and records it for smoke and push. */
export async function adoptDockerImage(opts: {
  config: Config;
  stateDir: string;
  ref: string;
  docker: Docker;
}): Promise<BuiltImage> {
  const tag = await readRecord(opts.stateDir, 'tag');
  let info: Docker.ImageInspectInfo;
  try {
    info = await opts.docker.getImage(opts.ref).inspect();
  } catch {
    throw new SitepipeError(
      'CLOUDBUILD_IMAGE_MISSING',
      `the engine has no image ${opts.ref}`,
      'the Docker builder step before this one builds it; check its output',
    );
  }
  for (const t of tag.tags) await opts.docker.getImage(info.Id).tag({ repo: tag.repository, tag: t });
  // The build's own name was only a handle; the image keeps the tags just set.
  await opts.docker
    .getImage(opts.ref)
    .remove({ noprune: true })
    .catch(() => undefined);
  const image: BuiltImage = {
    builder: 'docker',
    localRef: info.Id,
    digest: null,
    baseImage: opts.config.image.base,
    baseDigest: null,
    labels: info.Config.Labels ?? {},
    uploadedBytes: 0,
  };
  await writeRecord(opts.stateDir, 'image', image);
  return image;
}

import { mkdir, rm } from 'node:fs/promises';
import type Docker from 'dockerode';
import { siteBaseOptions, siteBasePath } from '../base-path.js';
import { dockerBuildArgs, dockerfileTemplate, writeBuildContext } from '../builders/docker.js';
import type { Config } from '../config.js';
import { SitepipeError } from '../errors.js';
import { imageLabels } from '../labels.js';
import type { BuiltImage } from '../records.js';
import { readRecord, writeRecord } from '../state.js';
import { releaseHeaderValue } from '../verify/release-header.js';

/**
 * The Docker path with the standard Docker builder (cloudbuild.imageStep: docker-builder):
 * `sitepipe cloudbuild docker-context` lays out the same build context the image step sends to
 * the engine (Dockerfile.template, the resolved hugo, site/, nginx/), with every build argument
 * and label written into the Dockerfile, so that gcr.io/cloud-builders/docker can build it with
 * a plain `docker build DIR`; `sitepipe cloudbuild docker-image REF` then tags the result like
 * the image step does and writes the image record that smoke and push read.
 */

/**
 * A Dockerfile string literal: double-quoted, where `\\` and `\"` are escapes as in JSON, and
 * `$` must be escaped too (an ARG's value is expanded). A newline or tab cannot be written (JSON's
 * \\n is Docker's n): config validation refuses them in the values that reach here.
 */
export function quote(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    throw new SitepipeError(
      'CLOUDBUILD_GENERATE_FAILED',
      `a Dockerfile build arg cannot hold a control character (a line break?): ${JSON.stringify(value)}`,
      'remove it from the config value',
    );
  }
  return JSON.stringify(value).replaceAll('$', '\\$');
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
  const labels = imageLabels(source, tag, config.image.base);
  const basePath = await siteBasePath({ ...siteBaseOptions(config), hugoPath: hugo.path, siteDir });
  const dockerfile = bakeDockerfile(
    await dockerfileTemplate(),
    dockerBuildArgs(config, hugo, pygments, basePath),
    labels,
  );
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  await writeBuildContext(out, {
    siteDir,
    stateDir,
    hugoPath: hugo.path,
    port: config.image.port,
    basePath,
    dockerfile,
    pygments,
    release: releaseHeaderValue(config, tag.commitTag),
  });
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
    commit: tag.commit,
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

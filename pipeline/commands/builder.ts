import { cp, mkdir, readFile, realpath, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { create as createTar } from 'tar';
import { makeContextDir } from '../builders/docker.js';
import { resolveCredentials } from '../clients/credentials.js';
import { buildImage, connectDocker, pingDocker, pushTag } from '../clients/docker.js';
import { type CloudbuildConfig, cloudbuildSettings } from '../cloudbuild/config.js';
import { defaultBuilder } from '../cloudbuild/generate.js';
import { DEFAULT_CONFIG_FILE, loadConfig } from '../config.js';
import { SitepipeError } from '../errors.js';
import { packageRoot } from '../paths.js';
import { parseImageRef, repositoryName } from '../reference.js';
import { withReporter } from './context.js';

/**
 * `sitepipe builder build|push [REF]`: the image the generated cloudbuild.yaml runs its steps in,
 * built from this installation's Dockerfile.builder, package.json and dist/ on the Docker engine.
 */

/** How the image gets its production dependencies. */
export type DepsMode = 'install' | 'copy';

export interface BuilderOptions {
  /** The image reference; default: cloudbuild.builder, else Artifact Registry (builderReference). */
  ref?: string;
  config: string;
  /** install: npm installs them in the image, for its platform. copy: this installation's, offline. */
  deps?: DepsMode;
  /** Dockerfile.builder's NODE_IMAGE (default node:20-bookworm-slim). */
  nodeImage?: string;
  /** The sitepipe package to build (default: this one). */
  root?: string;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

/** Cloud Build runs its steps on linux/amd64 machines. */
const PLATFORM = { os: 'linux', arch: 'amd64' };

/** The builder's reference from the cloudbuild section: cloudbuild.builder, else Artifact Registry. */
export function builderReference(cb: CloudbuildConfig, version: string): string {
  const named =
    cb.builder && cb.projectId ? cb.builder.replace(/\$\{?PROJECT_ID\}?/g, cb.projectId) : cb.builder;
  if (named?.includes('$')) {
    throw new SitepipeError(
      'BUILDER_REF_UNKNOWN',
      `cloudbuild.builder (${cb.builder}) has substitutions only Cloud Build can fill in`,
      'name the image: sitepipe builder build REF (or set cloudbuild.projectId for $PROJECT_ID)',
    );
  }
  if (named) return named;
  const missing = [!cb.projectId && 'cloudbuild.projectId', !cb.location && 'cloudbuild.location'];
  if (!cb.projectId || !cb.location) {
    throw new SitepipeError(
      'BUILDER_REF_UNKNOWN',
      `the builder image's default reference needs ${missing.filter(Boolean).join(' and ')}`,
      'set them (e.g. projectId: my-project, location: europe-west1), or name the image: sitepipe builder build REF',
    );
  }
  return defaultBuilder(cb, version, cb.projectId);
}

/** The reference to build or push: the one given, else builderReference; it must carry a tag. */
async function resolveRef(opts: BuilderOptions, version: string): Promise<string> {
  const ref =
    opts.ref ?? builderReference(cloudbuildSettings((await loadConfig(opts.config)).config), version);
  const parsed = parseImageRef(ref);
  if (parsed.digest || !parsed.tag) {
    throw new SitepipeError(
      'BUILDER_REF_INVALID',
      `${ref} names no tag${parsed.digest ? ' (a digest cannot be built or pushed to)' : ''}`,
      `add one, e.g. ${repositoryName(parsed)}:${version}`,
    );
  }
  return ref;
}

async function packageVersion(root: string): Promise<string> {
  return JSON.parse(await readFile(join(root, 'package.json'), 'utf8')).version as string;
}

/** Where Node finds `name` from `dir`: the nearest node_modules/<name> above it. */
async function resolveInstalled(dir: string, name: string): Promise<string | null> {
  for (let d = dir; ; d = dirname(d)) {
    const candidate = join(d, 'node_modules', name);
    if (await stat(join(candidate, 'package.json')).catch(() => null)) return realpath(candidate);
    if (dirname(d) === d) return null;
  }
}

/** `node_modules/a/node_modules/b` -> `node_modules/a`; `node_modules/a` -> ''. */
const parentPackage = (at: string) => at.replace(/\/?node_modules\/(@[^/]+\/)?[^/]+$/, '');

/**
 * The production dependency tree of the package at `root` as this machine installed it, laid
 * out afresh: target path (node_modules/…) -> installed directory. npm hoists differently in a
 * checkout, a project and a global install, so the tree is rebuilt by Node's own lookup: each
 * dependency goes to the top unless a different copy is already found on the way up from its
 * dependent, and then under the dependent.
 */
export async function productionTree(root: string): Promise<Map<string, string>> {
  const placed = new Map<string, string>();
  const queue = [{ source: await realpath(root), at: '' }];
  for (let next = queue.shift(); next; next = queue.shift()) {
    const pkg = JSON.parse(await readFile(join(next.source, 'package.json'), 'utf8'));
    const optional = new Set(Object.keys(pkg.optionalDependencies ?? {}));
    for (const name of [...Object.keys(pkg.dependencies ?? {}), ...optional]) {
      const source = await resolveInstalled(next.source, name);
      if (!source) {
        if (optional.has(name)) continue;
        throw new SitepipeError(
          'BUILDER_DEPENDENCY_MISSING',
          `${name}, a dependency of ${pkg.name}, is not installed where Node looks from ${next.source}`,
          'reinstall sitepipe (npm install), or build with --deps install',
        );
      }
      let seen: string | undefined;
      for (let d = next.at; seen === undefined; d = parentPackage(d)) {
        seen = placed.get(d ? `${d}/node_modules/${name}` : `node_modules/${name}`);
        if (d === '') break;
      }
      if (seen === source) continue;
      const at = seen === undefined ? `node_modules/${name}` : `${next.at}/node_modules/${name}`;
      placed.set(at, source);
      queue.push({ source, at });
    }
  }
  return placed;
}

/** The build context: package.json, Dockerfile.template, dist/, the Dockerfile, and with `copy` node_modules/. */
export async function writeBuilderContext(dir: string, root: string, deps: DepsMode): Promise<void> {
  if (!(await stat(join(root, 'dist', 'pipeline', 'cli.js')).catch(() => null))) {
    throw new SitepipeError(
      'BUILDER_NOT_BUILT',
      `${root} has no dist/ to put in the builder image`,
      'compile it first: npm run build',
    );
  }
  await cp(join(root, 'Dockerfile.builder'), join(dir, 'Dockerfile'));
  for (const f of ['package.json', 'Dockerfile.template', 'dist']) {
    await cp(join(root, f), join(dir, f), { recursive: true });
  }
  if (deps === 'install') return;
  for (const [at, source] of await productionTree(root)) {
    await mkdir(dirname(join(dir, at)), { recursive: true });
    // Each package's own node_modules is laid out by productionTree, not copied along.
    const nested = join(source, 'node_modules');
    await cp(source, join(dir, at), { recursive: true, verbatimSymlinks: true, filter: (s) => s !== nested });
  }
}

/** Copied dependencies carry this machine's native modules, which run only on the same platform. */
function checkPlatform(engine: { Os: string; Arch: string }, deps: DepsMode): void {
  const here = { os: process.platform, arch: process.arch === 'x64' ? 'amd64' : process.arch };
  const problem =
    engine.Os !== PLATFORM.os || engine.Arch !== PLATFORM.arch
      ? `the Docker engine builds ${engine.Os}/${engine.Arch} images`
      : deps === 'copy' && (here.os !== PLATFORM.os || here.arch !== PLATFORM.arch)
        ? `--deps copy would copy native modules built for ${here.os}/${here.arch}`
        : null;
  if (problem) {
    throw new SitepipeError(
      'BUILDER_PLATFORM',
      `Cloud Build runs ${PLATFORM.os}/${PLATFORM.arch} images, but ${problem}`,
      deps === 'copy'
        ? 'build with --deps install (npm installs them in the image), on a linux/amd64 engine'
        : 'point DOCKER_HOST at a linux/amd64 engine',
    );
  }
}

/** Builds the builder image; returns its reference and image id. */
export async function buildBuilder(opts: BuilderOptions): Promise<{ ref: string; id: string }> {
  const root = opts.root ?? packageRoot();
  const version = await packageVersion(root);
  const ref = await resolveRef(opts, version);
  const deps = opts.deps ?? 'install';
  const docker = await connectDocker(opts.env ?? process.env);
  await pingDocker(docker);
  checkPlatform((await docker.version()) as { Os: string; Arch: string }, deps);
  const dir = await makeContextDir();
  try {
    await writeBuilderContext(dir, root, deps);
    const context = createTar({ cwd: dir, portable: true }, ['.']) as unknown as NodeJS.ReadableStream;
    const id = await buildImage(docker, {
      context,
      tag: ref,
      buildArgs: opts.nodeImage ? { NODE_IMAGE: opts.nodeImage } : {},
      labels: {
        'org.opencontainers.image.title': 'sitepipe builder',
        'org.opencontainers.image.version': version,
      },
      signal: opts.signal ?? new AbortController().signal,
      onLine: (line) => opts.log?.(line),
    });
    return { ref, id };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Pushes the builder image the engine has under `ref`; returns its digest. */
export async function pushBuilder(opts: BuilderOptions): Promise<{ ref: string; digest: string }> {
  const loaded = await loadConfig(opts.config);
  const ref = await resolveRef(opts, await packageVersion(opts.root ?? packageRoot()));
  const env = opts.env ?? process.env;
  const docker = await connectDocker(env);
  await pingDocker(docker);
  const found = await docker
    .getImage(ref)
    .inspect()
    .catch(() => null);
  if (!found) {
    throw new SitepipeError(
      'BUILDER_IMAGE_MISSING',
      `the Docker engine has no image ${ref}`,
      `build it first: sitepipe builder build ${opts.ref ?? ''}`.trim(),
    );
  }
  const parsed = parseImageRef(ref);
  const creds = await resolveCredentials(loaded.config, parsed.registry, env, opts.signal);
  const tag = parsed.tag ?? '';
  const repository = ref.slice(0, -(tag.length + 1)); // as the engine names it (resolveRef: it ends in :tag)
  const signal = opts.signal ?? new AbortController().signal;
  const digest = await pushTag(docker, repository, tag, parsed.registry, creds, signal);
  return { ref, digest };
}

interface Flags {
  config: string;
  deps: DepsMode;
  nodeImage?: string;
  json?: boolean;
}

/** Adds `sitepipe builder build [REF]` and `sitepipe builder push [REF]`. */
export function registerBuilder(program: Command): void {
  const builder = program
    .command('builder')
    .description('the builder image the generated cloudbuild.yaml runs its steps in (docs/cloudbuild.md)');
  const common = (c: Command) =>
    c
      .argument(
        '[ref]',
        'the image (default: cloudbuild.builder, else LOCATION-docker.pkg.dev/PROJECT/sitepipe/sitepipe:VERSION)',
      )
      .option('-c, --config <file>', 'the sitepipe config (its cloudbuild: section)', DEFAULT_CONFIG_FILE)
      .option('--json', 'print NDJSON events');
  common(
    builder
      .command('build')
      .description('build the builder image from Dockerfile.builder on the Docker engine'),
  )
    .option(
      '--deps <how>',
      'install: npm installs the dependencies in the image; copy: this installation’s, offline',
      'install',
    )
    .option('--node-image <image>', "Dockerfile.builder's NODE_IMAGE (default node:20-bookworm-slim)")
    .action(async (ref: string | undefined, flags: Flags) => {
      process.exitCode = await withReporter(flags, async (reporter, signal) => {
        if (flags.deps !== 'install' && flags.deps !== 'copy') {
          throw new SitepipeError(
            'USAGE',
            `--deps ${flags.deps}: not install or copy`,
            'use --deps install or --deps copy',
          );
        }
        const log = reporter.logFor('builder');
        // The engine's "Step N/M" lines say where the build is; the rest is in the image's history.
        const onLine = (l: string) => /^Step \d+\/\d+/.test(l) && log.info(l.slice(0, 120));
        const built = await buildBuilder({ ...flags, ref, signal, log: onLine });
        reporter.result({ ...built }, `built ${built.ref} (${built.id.slice(0, 19)})`, built.ref);
      });
    });
  common(builder.command('push').description('push the builder image (build it first)')).action(
    async (ref: string | undefined, flags: Flags) => {
      process.exitCode = await withReporter(flags, async (reporter, signal) => {
        const pushed = await pushBuilder({ ...flags, ref, signal });
        reporter.result(
          { ...pushed },
          `pushed ${pushed.ref}@${pushed.digest}`,
          `${pushed.ref}@${pushed.digest}`,
        );
      });
    },
  );
}

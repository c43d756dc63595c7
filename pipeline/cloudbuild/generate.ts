import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Document } from 'yaml';
import type { Config } from '../config.js';
import { SitepipeError } from '../errors.js';
import { packageRoot } from '../paths.js';
import { parseRepository, repositoryName } from '../reference.js';
import type { AnyStep } from '../runner.js';
import { dependencies } from '../step.js';
import type { BuildConfig, BuildOptions, BuildStep } from './build-config.js';
import { type CloudbuildConfig, cloudbuildSettings } from './config.js';

/**
 * Writes cloudbuild.yaml from the pipeline definition: one Cloud Build step per pipeline step,
 * each running `sitepipe run <step>` in the sitepipe builder image, all sharing /workspace.
 * A step's record (<state>/records/<step>.json) is how the next step gets its output, exactly
 * as with `sitepipe run <step>` on a laptop. `waitFor` comes from each step's `needs` and `awaits`, so
 * steps that need nothing (hugo, pygments) start at once.
 *
 * Caching between builds: the sitepipe cache (verified Hugo downloads, the Pygments venv,
 * Hugo's --cacheDir) and Hugo's resource cache (its resourceDir, moved out of the site into the
 * state dir with HUGO_RESOURCEDIR) all live under CACHE_HOME, and travel between builds in a
 * small FROM-scratch image in the same registry as the site, `_SITEPIPE_CACHE_IMAGE`. A step
 * with the standard Docker builder restores it at the start, another builds it after render,
 * and `images:` pushes it when the build succeeds. A registry needs no bucket or IAM beyond what
 * pushing the site needs, and the same file runs unchanged against a local registry. Nothing is
 * written into the site, so the source step's work-tree check is not disturbed.
 */

/** Cloud Build checks the source out here and mounts it into every step. */
export const WORKSPACE = '/workspace';
/** Records and the rendered site, shared by the steps. */
export const STATE_DIR = `${WORKSPACE}/.sitepipe`;
/** XDG_CACHE_HOME of every sitepipe step: the sitepipe cache is <this>/sitepipe. */
export const CACHE_HOME = `${STATE_DIR}/cache`;
/** Hugo's resourceDir (processed images, SCSS), kept with the cache instead of in the site. */
export const HUGO_RESOURCE_DIR = `${CACHE_HOME}/hugo-resources`;
export const CACHE_IMAGE_SUBSTITUTION = '_SITEPIPE_CACHE_IMAGE';
/** With imageStep: docker-builder, where sitepipe lays out the Docker build context. */
export const DOCKER_CONTEXT = `${STATE_DIR}/docker-context`;
/** With imageStep: docker-builder, the engine-local name of the image the Docker builder builds. */
export const DOCKER_BUILD_REF = 'sitepipe-build:$BUILD_ID';
export const CACHE_RESTORE_ID = 'cache-restore';
export const UNSHALLOW_ID = 'unshallow';
export const CACHE_SAVE_ID = 'cache-save';

/** Per-step time limits (seconds); every one is capped at the build's timeout. */
const STEP_TIMEOUTS: Record<string, number> = {
  source: 120,
  [UNSHALLOW_ID]: 600,
  tag: 120,
  hugo: 600,
  pygments: 600,
  render: 900,
  image: 1800,
  'image-build': 1800,
  push: 900,
  [CACHE_RESTORE_ID]: 600,
  [CACHE_SAVE_ID]: 600,
};
const DEFAULT_STEP_TIMEOUT = 900;
/** Steps that read the restored cache. */
const CACHE_READERS = new Set(['hugo', 'pygments', 'render']);

export function sitepipeVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

export interface GenerateOptions {
  config: Config;
  /** sitepipe.yaml, relative to the repository root (which becomes /workspace). */
  configPath: string;
  pipeline: readonly AnyStep[];
  /** Overrides the config's cloudbuild section (e.g. from flags). */
  settings?: Partial<CloudbuildConfig>;
  /** Default: this package's version. */
  version?: string;
}

/** `$` is Cloud Build's substitution character; a script's own `$` must be written `$$`. */
export function escapeDollars(text: string): string {
  return text.replaceAll('$', '$$$$');
}

function posix(path: string): string {
  const p = path.split('\\').join('/').replace(/\/+$/, '');
  return p === '' ? '.' : p;
}

function timeout(id: string, extra: Record<string, number>, buildSeconds: number): string {
  return `${Math.min(extra[id] ?? STEP_TIMEOUTS[id] ?? DEFAULT_STEP_TIMEOUT, buildSeconds)}s`;
}

/** bash, run by the Docker builder: pull the cache image (if any) and copy its tree out. */
const RESTORE_SCRIPT = `set -euo pipefail
if ! out=$(docker pull "$CACHE_IMAGE" 2>&1); then
  echo "no cache restored ($CACHE_IMAGE: $(echo "$out" | tail -n 1)); this build starts cold"
  exit 0
fi
id=$(docker create "$CACHE_IMAGE" sitepipe-cache)
trap 'docker rm "$id" >/dev/null' EXIT
mkdir -p "$CACHE_HOME"
docker cp "$id:/cache/." "$CACHE_HOME/"
echo "restored $(du -sh "$CACHE_HOME" | cut -f1) of cache from $CACHE_IMAGE"
`;

/**
 * bash, in the sitepipe builder (it has git): triggers check out a shallow clone, and the oci
 * builder's media times come from git history (a shallow clone fails SHALLOW_CLONE), so the
 * history is fetched first, as Cloud Build's docs advise. A full clone (or none) is left alone.
 */
const UNSHALLOW_SCRIPT = `set -euo pipefail
if [ "$(git rev-parse --is-shallow-repository 2>/dev/null)" = true ]; then
  git fetch --unshallow --quiet
  echo "fetched the history of this shallow clone (media times come from git)"
fi
`;

/** bash, run by the Docker builder: build the FROM-scratch cache image that `images:` pushes. */
const SAVE_SCRIPT = `set -euo pipefail
ctx=$(mktemp -d)
mkdir -p "$ctx/cache" "$CACHE_HOME"
cp -a "$CACHE_HOME/." "$ctx/cache/"
printf 'FROM scratch\\nCOPY cache /cache\\n' >"$ctx/Dockerfile"
docker build --quiet --tag "$CACHE_IMAGE" "$ctx"
rm -rf "$ctx"
echo "built $CACHE_IMAGE ($(du -sh "$CACHE_HOME" | cut -f1)); it is pushed when the build succeeds"
`;

/** The Cloud Build config for a site, from the pipeline and the config. */
export function generateCloudBuild(opts: GenerateOptions): BuildConfig {
  const settings: CloudbuildConfig = { ...cloudbuildSettings(opts.config), ...opts.settings };
  const version = opts.version ?? sitepipeVersion();
  const builder = settings.builder ?? defaultBuilder(settings, version);
  const configPath = posix(opts.configPath);
  const buildSeconds = settings.timeoutSeconds;
  const extraTimeouts = {
    smoke: opts.config.smoke.timeoutSeconds + 300,
    verify: opts.config.verify.waitSeconds + 300,
  };
  const cache = settings.cache.enabled;
  const userEnv = Object.keys(settings.substitutions).map((k) => `${k}=$${k}`);

  const steps: BuildStep[] = [];
  const cacheStep = (id: string, script: string, waitFor: string[]): BuildStep => ({
    id,
    name: settings.dockerBuilder,
    entrypoint: 'bash',
    args: ['-c', escapeDollars(script)],
    env: [`CACHE_IMAGE=$${CACHE_IMAGE_SUBSTITUTION}`, `CACHE_HOME=${CACHE_HOME}`],
    waitFor,
    timeout: timeout(id, extraTimeouts, buildSeconds),
  });

  if (cache) steps.push(cacheStep(CACHE_RESTORE_ID, RESTORE_SCRIPT, ['-']));
  const sitepipeStep = (id: string, args: string[], waitFor: string[], env: string[] = []): BuildStep => ({
    id,
    name: builder,
    entrypoint: 'sitepipe',
    args: [...args, '--config', configPath, '--state-dir', STATE_DIR, '--json'],
    env: [
      'CI=true',
      `XDG_CACHE_HOME=${CACHE_HOME}`,
      `HUGO_RESOURCEDIR=${HUGO_RESOURCE_DIR}`,
      ...env,
      ...userEnv,
    ],
    waitFor: waitFor.length > 0 ? waitFor : ['-'],
    timeout: timeout(id, extraTimeouts, buildSeconds),
  });
  const dockerBuilderImage = settings.imageStep === 'docker-builder';
  if (dockerBuilderImage && opts.config.image.builder !== 'docker') {
    throw new SitepipeError(
      'CLOUDBUILD_GENERATE_FAILED',
      `cloudbuild.imageStep is docker-builder, but image.builder is ${opts.config.image.builder}`,
      'the Docker builder builds only the Docker path: set image.builder: docker, or cloudbuild.imageStep: sitepipe',
    );
  }

  // Only the oci builder's media times read git history.
  const unshallow = opts.config.image.builder === 'oci' && opts.config.image.mediaTimes === 'git';
  if (unshallow) {
    steps.push({
      id: UNSHALLOW_ID,
      name: builder,
      entrypoint: 'bash',
      args: ['-c', escapeDollars(UNSHALLOW_SCRIPT)],
      waitFor: ['-'],
      timeout: timeout(UNSHALLOW_ID, extraTimeouts, buildSeconds),
    });
  }
  for (const step of opts.pipeline) {
    const waitFor: string[] = dependencies(step);
    if (unshallow && step.name === 'source') waitFor.push(UNSHALLOW_ID);
    if (cache && CACHE_READERS.has(step.name)) waitFor.push(CACHE_RESTORE_ID);
    if (dockerBuilderImage && step.name === 'image') {
      // sitepipe lays out the context, the standard Docker builder builds it, sitepipe tags and records it.
      steps.push(
        sitepipeStep('image-context', ['cloudbuild', 'docker-context', '--out', DOCKER_CONTEXT], waitFor),
        {
          id: 'image-build',
          name: settings.dockerBuilder,
          args: ['build', '--network=host', '--tag', DOCKER_BUILD_REF, DOCKER_CONTEXT],
          waitFor: ['image-context'],
          timeout: timeout('image-build', extraTimeouts, buildSeconds),
        },
        sitepipeStep('image', ['cloudbuild', 'docker-image', DOCKER_BUILD_REF], ['image-build']),
      );
      continue;
    }
    steps.push(
      sitepipeStep(
        step.name,
        ['run', step.name],
        waitFor,
        // Cloud Build checks out a detached HEAD, and may leave out .git: the source step reads these.
        step.name === 'source' ? ['BRANCH_NAME=$BRANCH_NAME', 'COMMIT_SHA=$COMMIT_SHA'] : [],
      ),
    );
    if (cache && step.name === 'render') steps.push(cacheStep(CACHE_SAVE_ID, SAVE_SCRIPT, ['render']));
  }
  if (cache && !steps.some((s) => s.id === CACHE_SAVE_ID)) {
    throw new SitepipeError(
      'CLOUDBUILD_GENERATE_FAILED',
      'the pipeline has no render step to save the cache after',
      'set cloudbuild.cache.enabled: false',
    );
  }
  checkWaitFor(steps);
  const sitepipeSteps = steps.filter((s) => s.entrypoint === 'sitepipe');
  const secrets = settings.availableSecrets.secretManager;
  for (const secret of secrets) {
    for (const step of secretSteps(secret, steps, sitepipeSteps))
      step.secretEnv = [...(step.secretEnv ?? []), secret.env];
  }

  const substitutions: Record<string, string> = {};
  if (cache) {
    const repository = repositoryName(parseRepository(opts.config.image.repository));
    substitutions[CACHE_IMAGE_SUBSTITUTION] = settings.cache.image ?? `${repository}/sitepipe-cache:latest`;
  }
  Object.assign(substitutions, settings.substitutions);

  const build: BuildConfig = {
    steps,
    timeout: `${buildSeconds}s`,
    ...(Object.keys(substitutions).length > 0 ? { substitutions } : {}),
    options: buildOptions(settings),
    tags: ['sitepipe'],
    ...(cache ? { images: [`$${CACHE_IMAGE_SUBSTITUTION}`] } : {}),
    ...(settings.serviceAccount ? { serviceAccount: settings.serviceAccount } : {}),
    ...(settings.logsBucket ? { logsBucket: settings.logsBucket } : {}),
    ...(secrets.length > 0
      ? { availableSecrets: { secretManager: secrets.map(({ versionName, env }) => ({ versionName, env })) } }
      : {}),
  };
  return build;
}

/**
 * The builder image when the config names none: in Artifact Registry when cloudbuild.location
 * says where (what `sitepipe builder push` pushes), else Container Registry's name, as before.
 */
export function defaultBuilder(
  settings: Pick<CloudbuildConfig, 'location'>,
  version: string,
  project = '$PROJECT_ID',
): string {
  return settings.location
    ? `${settings.location}-docker.pkg.dev/${project}/sitepipe/sitepipe:${version}`
    : `gcr.io/${project}/sitepipe:${version}`;
}

/** BuildOptions: only what the config sets, so the API's defaults (the standard machine) apply otherwise. */
function buildOptions(settings: CloudbuildConfig): BuildOptions {
  return {
    ...(settings.machineType ? { machineType: settings.machineType } : {}),
    ...(settings.diskSizeGb ? { diskSizeGb: settings.diskSizeGb } : {}),
    ...(settings.pool ? { pool: { name: settings.pool } } : {}),
    logging: settings.logging,
    // sitepipe's steps print JSON events with `severity` and `message`; this makes Cloud Logging
    // read them as structured entries (BuildOptions.enable_structured_logging) instead of text.
    enableStructuredLogging: true,
  };
}

/** The steps a secret goes to: those it names, else every `sitepipe run` step (Cloud Build refuses an unused secret). */
function secretSteps(
  secret: CloudbuildConfig['availableSecrets']['secretManager'][number],
  steps: BuildStep[],
  sitepipeSteps: BuildStep[],
): BuildStep[] {
  if (!secret.steps) return sitepipeSteps;
  const unknown = secret.steps.filter((id) => !steps.some((s) => s.id === id));
  if (unknown.length > 0) {
    throw new SitepipeError(
      'CLOUDBUILD_GENERATE_FAILED',
      `cloudbuild.availableSecrets: ${secret.env} names steps the build does not have: ${unknown.join(', ')}`,
      `name steps of the generated build: ${steps.map((s) => s.id).join(', ')}`,
    );
  }
  return steps.filter((s) => s.id && secret.steps?.includes(s.id));
}

/** Every waitFor names a step defined earlier in the list (Cloud Build's rule). */
function checkWaitFor(steps: readonly BuildStep[]): void {
  const seen = new Set<string>(['-']);
  for (const step of steps) {
    for (const dep of step.waitFor ?? []) {
      if (!seen.has(dep)) {
        throw new SitepipeError(
          'CLOUDBUILD_GENERATE_FAILED',
          `step ${step.id} waits for ${dep}, which is not an earlier step`,
          'the pipeline order must list every step after the steps it needs',
        );
      }
    }
    if (step.id) seen.add(step.id);
  }
}

/** The YAML text of a generated build, with a header saying where it came from. */
export function renderCloudBuildYaml(build: BuildConfig, from: string, version = sitepipeVersion()): string {
  const doc = new Document(build);
  doc.commentBefore = [
    ` Generated by \`sitepipe cloudbuild\` (sitepipe ${version}) from ${from}.`,
    ' Do not edit: change the config (or sitepipe) and run `sitepipe cloudbuild --out <this file>` again.',
    ' Each step runs `sitepipe run <step>`; records in /workspace/.sitepipe carry outputs between steps.',
  ].join('\n');
  return doc.toString({ lineWidth: 0 });
}

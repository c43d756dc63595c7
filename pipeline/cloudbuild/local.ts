import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import type { Credentials } from '../clients/credentials.js';
import { followProgress, pushTag } from '../clients/docker.js';
import { SitepipeError } from '../errors.js';
import { parseImageRef, repositoryName } from '../reference.js';
import {
  type BuildConfig,
  type BuildStep,
  DEFAULT_BUILD_TIMEOUT,
  durationMs,
  MAX_TIMEOUT_MS,
} from './build-config.js';
import { type BuiltInSubstitution, substituteBuild } from './substitute.js';
import { createWorkspace, type Workspace } from './workspace.js';

/**
 * Runs a Cloud Build config on the local Docker engine the way Cloud Build runs it:
 * every step in a container of its `name` image (pulled only when the engine does not have
 * it), with its entrypoint, args, env, dir and secretEnv; /workspace a bind mount of a temp
 * copy of the source, shared by all steps; /builder/home as HOME; the engine's socket at
 * /var/run/docker.sock, so builder steps drive the same engine (images a step builds are
 * there for later steps); named volumes; `waitFor` ordering (default: every earlier step;
 * `-`: at once); step and build timeouts; then `images` checked in the engine and pushed.
 * One difference: containers use the host network (this machine has no bridge network).
 */

export type StepStatus = 'QUEUED' | 'WORKING' | 'SUCCESS' | 'FAILURE' | 'TIMEOUT' | 'CANCELLED';
export type BuildStatus = 'SUCCESS' | 'FAILURE' | 'TIMEOUT' | 'CANCELLED';

export interface StepResult {
  index: number;
  id: string | null;
  name: string;
  status: StepStatus;
  exitCode: number | null;
  /** A failure allowed by allowFailure or allowExitCodes. */
  allowedFailure: boolean;
  startedAt: number | null;
  finishedAt: number | null;
}

export interface PushedImage {
  name: string;
  digest: string;
}

export interface LocalBuildResult {
  buildId: string;
  status: BuildStatus;
  steps: StepResult[];
  images: PushedImage[];
  /** The workspace, when kept (keepWorkspace). */
  workspace: string | null;
  durationMs: number;
  warnings: string[];
}

/** Where the build prints; every line passes through secret redaction first. */
export interface BuildLog {
  line(text: string): void;
}

export interface LocalBuildOptions {
  build: BuildConfig;
  /** For messages and TRIGGER_BUILD_CONFIG_PATH. */
  configFile: string;
  /** Copied to a temp dir that becomes /workspace. */
  sourceDir: string;
  docker: Docker;
  log: BuildLog;
  /** Built-in substitution values (see workspace.ts localBuiltIns). */
  builtIns: Partial<Record<BuiltInSubstitution, string>>;
  /** The request's substitutions (--substitutions), overriding the file's. */
  substitutions?: Record<string, string>;
  /** Secret env values by variable name (local stand-in for Secret Manager and KMS). */
  secrets?: Record<string, string>;
  /** Host path of the engine's socket, mounted at /var/run/docker.sock. */
  dockerSocket?: string;
  /** Push `images` at the end (default true). */
  push?: boolean;
  /** Credentials for pushing to a registry (default: anonymous). */
  credentials?: (registry: string) => Promise<Credentials | null>;
  keepWorkspace?: boolean;
  signal?: AbortSignal;
}

/** A failed local build; `result` says how far it got. */
export class LocalBuildError extends SitepipeError {
  constructor(
    readonly result: LocalBuildResult,
    message: string,
    hint: string,
    details: readonly string[] = [],
  ) {
    super(result.status === 'TIMEOUT' ? 'CLOUDBUILD_TIMEOUT' : 'CLOUDBUILD_FAILED', message, hint, details);
  }
}

const RESERVED_VOLUME_PATHS = new Set(['/workspace', '/builder/home', '/var/run/docker.sock']);
const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const ENV_KEY = /^[^=]+$/;

function label(step: BuildStep, index: number): string {
  return step.id ? `Step #${index} - "${step.id}"` : `Step #${index}`;
}

function envKey(entry: string): string {
  return entry.slice(0, entry.indexOf('='));
}

/** Which earlier steps each step waits for (indexes), by Cloud Build's waitFor rules. */
export function dependencies(steps: readonly BuildStep[]): number[][] {
  const byId = new Map<string, number>();
  return steps.map((step, i) => {
    const waitFor = step.waitFor ?? [];
    const deps =
      waitFor.length === 0
        ? [...Array(i).keys()]
        : waitFor.filter((w) => w !== '-').map((w) => byId.get(w) ?? -1);
    if (step.id) byId.set(step.id, i);
    return deps;
  });
}

/**
 * What Cloud Build checks before it runs a build (limits and rules of the Build resource;
 * cloud-build-local validate.go mirrors them). Returns one line per problem.
 */
export function validateBuild(build: BuildConfig, secretNames: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const buildTimeout = durationMs(build.timeout ?? DEFAULT_BUILD_TIMEOUT);
  if (buildTimeout > MAX_TIMEOUT_MS) problems.push(`timeout ${build.timeout} exceeds 24h`);
  const ids = new Set<string>(['-']);
  const volumeUse = new Map<string, number>();
  const globalEnv = build.options?.env ?? [];
  const globalSecrets = build.options?.secretEnv ?? [];
  const usedSecrets = new Set<string>(globalSecrets);
  build.steps.forEach((step, i) => {
    const where = label(step, i);
    for (const dep of step.waitFor ?? []) {
      if (!ids.has(dep)) problems.push(`${where} waits for "${dep}", which is not an earlier step's id`);
    }
    if (step.id) {
      if (ids.has(step.id)) problems.push(`${where}: the id is not unique (or is the reserved "-")`);
      ids.add(step.id);
    }
    if (step.script !== undefined && (step.args !== undefined || step.entrypoint !== undefined)) {
      problems.push(`${where}: a step with a script cannot also have args or an entrypoint`);
    }
    for (const e of [...(step.env ?? [])]) {
      if (!e.includes('=') || !ENV_KEY.test(envKey(e)))
        problems.push(`${where}: env "${e}" is not KEY=VALUE`);
    }
    if (step.timeout !== undefined) {
      const t = durationMs(step.timeout);
      if (t > buildTimeout) problems.push(`${where}: timeout ${step.timeout} is longer than the build's`);
    }
    const stepEnv = new Set([...globalEnv, ...(step.env ?? [])].map(envKey));
    const stepSecrets = new Set<string>();
    for (const s of step.secretEnv ?? []) {
      if (stepSecrets.has(s)) problems.push(`${where} uses secretEnv ${s} more than once`);
      if (globalSecrets.includes(s)) problems.push(`${where} repeats the global secretEnv ${s}`);
      stepSecrets.add(s);
      usedSecrets.add(s);
    }
    for (const s of [...globalSecrets, ...stepSecrets]) {
      if (stepEnv.has(s)) problems.push(`${where} has ${s} as both a secret and a plain env variable`);
    }
    for (const v of step.volumes ?? []) {
      if (!VOLUME_NAME.test(v.name)) problems.push(`${where}: volume name "${v.name}" is not valid`);
      if (!v.path.startsWith('/')) problems.push(`${where}: volume path "${v.path}" must be absolute`);
      if (RESERVED_VOLUME_PATHS.has(posix.normalize(v.path))) {
        problems.push(`${where}: volume path ${v.path} is reserved`);
      }
      volumeUse.set(v.name, (volumeUse.get(v.name) ?? 0) + 1);
    }
  });
  for (const [name, count] of volumeUse) {
    if (count < 2)
      problems.push(`volume "${name}" is used by only one step (a volume shares files between steps)`);
  }
  for (const s of usedSecrets) {
    if (!secretNames.has(s)) problems.push(`secretEnv ${s} is used but no secret defines it`);
  }
  for (const sec of build.secrets ?? []) {
    for (const name of Object.keys(sec.secretEnv ?? {})) {
      if (!usedSecrets.has(name))
        problems.push(`secretEnv ${name} is defined in secrets but no step uses it`);
    }
  }
  return problems;
}

/** Every secret env name the build defines (availableSecrets and the legacy KMS secrets). */
export function definedSecrets(build: BuildConfig): Set<string> {
  const names = new Set<string>();
  for (const m of build.availableSecrets?.secretManager ?? []) names.add(m.env);
  for (const inline of build.availableSecrets?.inline ?? [])
    for (const k of Object.keys(inline.envMap)) names.add(k);
  for (const sec of build.secrets ?? []) for (const k of Object.keys(sec.secretEnv ?? {})) names.add(k);
  return names;
}

/** Splits a byte stream into lines, each prefixed and handed to `emit`. */
function lineSplitter(emit: (line: string) => void): { write(chunk: Buffer): void; end(): void } {
  let pending = '';
  return {
    write(chunk) {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const l of lines) emit(l.replace(/\r$/, ''));
    },
    end() {
      if (pending) emit(pending);
      pending = '';
    },
  };
}

class Redactor {
  private readonly values: string[];
  constructor(secrets: Iterable<string>) {
    this.values = [...secrets].filter((s) => s.length >= 4);
  }
  apply(text: string): string {
    let out = text;
    for (const v of this.values) out = out.split(v).join('***');
    return out;
  }
}

async function imagePresent(docker: Docker, name: string): Promise<boolean> {
  return docker
    .getImage(name)
    .inspect()
    .then(
      () => true,
      () => false,
    );
}

/** Like Cloud Build: run the engine's copy of a builder if it has one, else pull it. */
async function ensureImage(docker: Docker, name: string, say: (l: string) => void, signal: AbortSignal) {
  if (await imagePresent(docker, name)) {
    say(`Already have image: ${name}`);
    return;
  }
  say(`Pulling image: ${name}`);
  try {
    const stream = await docker.pull(name, { abortSignal: signal });
    await followProgress(docker, stream, () => undefined);
  } catch (e) {
    throw new SitepipeError(
      'CLOUDBUILD_IMAGE_UNAVAILABLE',
      `cannot pull build step image ${name}: ${(e as Error).message}`,
      'build the sitepipe builder from Dockerfile.builder in the sitepipe package (its header says how), or set cloudbuild.builder and cloudbuild.dockerBuilder to images this engine has or can pull',
    );
  }
}

/** A tagged or untagged image name as repository + tag (Docker's default tag is latest). */
function splitImage(name: string): { repository: string; tag: string; registry: string } {
  const ref = parseImageRef(name);
  return { repository: repositoryName(ref), tag: ref.tag ?? 'latest', registry: ref.registry };
}

export async function runLocalBuild(opts: LocalBuildOptions): Promise<LocalBuildResult> {
  const started = Date.now();
  const docker = opts.docker;
  const secrets = opts.secrets ?? {};
  const redactor = new Redactor(Object.values(secrets));
  const say = (text: string) => opts.log.line(redactor.apply(text));
  const buildId = opts.builtIns.BUILD_ID ?? 'local';

  const defined = definedSecrets(opts.build);
  const problems = validateBuild(opts.build, defined);
  const usedSecrets = new Set([
    ...(opts.build.options?.secretEnv ?? []),
    ...opts.build.steps.flatMap((s) => s.secretEnv ?? []),
  ]);
  for (const name of usedSecrets) {
    if (defined.has(name) && secrets[name] === undefined) {
      problems.push(`no local value for secret ${name} (give it in the secrets file, or in the environment)`);
    }
  }
  if (problems.length > 0) {
    throw new SitepipeError(
      'CLOUDBUILD_CONFIG_INVALID',
      `${opts.configFile} would be rejected by Cloud Build: ${problems.length} problem${problems.length === 1 ? '' : 's'}`,
      'fix each one listed',
      problems,
    );
  }
  const { build, values, warnings } = substituteBuild(opts.build, {
    builtIns: opts.builtIns,
    overrides: opts.substitutions,
  });
  for (const w of warnings) say(`WARNING: ${w} (ALLOW_LOOSE)`);
  const badNames = build.steps.flatMap((s, i) => {
    try {
      parseImageRef(s.name);
      return [];
    } catch (e) {
      return [`${label(s, i)}: ${(e as Error).message}`];
    }
  });
  const images = build.images ?? [];
  for (const image of images) {
    try {
      parseImageRef(image);
    } catch (e) {
      badNames.push(`images: ${(e as Error).message}`);
    }
  }
  if (badNames.length > 0) {
    throw new SitepipeError(
      'CLOUDBUILD_CONFIG_INVALID',
      'invalid image names after substitution',
      'fix them',
      badNames,
    );
  }

  const buildTimeoutMs = durationMs(build.timeout ?? DEFAULT_BUILD_TIMEOUT);
  const abort = new AbortController();
  let buildStatus: BuildStatus = 'SUCCESS';
  const fail = (status: BuildStatus) => {
    if (buildStatus === 'SUCCESS') buildStatus = status;
    abort.abort();
  };
  const onOuterAbort = () => fail('CANCELLED');
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const buildTimer = setTimeout(() => {
    say(`ERROR: the build exceeded its timeout of ${build.timeout ?? DEFAULT_BUILD_TIMEOUT}`);
    fail('TIMEOUT');
  }, buildTimeoutMs);

  const results: StepResult[] = build.steps.map((s, index) => ({
    index,
    id: s.id ?? null,
    name: s.name,
    status: 'QUEUED',
    exitCode: null,
    allowedFailure: false,
    startedAt: null,
    finishedAt: null,
  }));
  const pushed: PushedImage[] = [];
  const volumes = new Set(build.steps.flatMap((s) => (s.volumes ?? []).map((v) => v.name)));
  const volumeName = (name: string) => `sitepipe-cb-${buildId.slice(0, 12)}-${name}`;
  let workspace: Workspace | null = null;
  const finish = (): LocalBuildResult => ({
    buildId,
    status: buildStatus,
    steps: results,
    images: pushed,
    workspace: opts.keepWorkspace && workspace ? workspace.dir : null,
    durationMs: Date.now() - started,
    warnings,
  });

  try {
    say(`BUILD ${buildId} (${opts.configFile})`);
    workspace = await createWorkspace(opts.sourceDir);
    for (const v of volumes) await docker.createVolume({ Name: volumeName(v) });
    const ws = workspace;
    const deps = dependencies(build.steps);
    const done: Promise<void>[] = [];
    const failures: string[] = [];
    build.steps.forEach((step, i) => {
      done[i] = (async () => {
        await Promise.all((deps[i] ?? []).map((d) => done[d]));
        if (abort.signal.aborted) throw new Error('cancelled');
        const ok = await runStep({
          step,
          index: i,
          result: results[i] as StepResult,
          docker,
          workspace: ws,
          values,
          build,
          secrets,
          redactor,
          say,
          socket: opts.dockerSocket ?? '/var/run/docker.sock',
          volumeName,
          signal: abort.signal,
        });
        if (!ok) {
          failures.push(`${label(step, i)}: ${(results[i] as StepResult).status.toLowerCase()}`);
          fail('FAILURE');
          throw new Error('failed');
        }
      })();
    });
    await Promise.allSettled(done);
    for (const r of results) if (r.status === 'QUEUED') r.status = 'CANCELLED';
    if (buildStatus !== 'SUCCESS') {
      const failed = results.filter((r) => ['FAILURE', 'TIMEOUT'].includes(r.status) && !r.allowedFailure);
      throw new LocalBuildError(
        finish(),
        buildStatus === 'TIMEOUT'
          ? `the build timed out after ${build.timeout ?? DEFAULT_BUILD_TIMEOUT}`
          : buildStatus === 'CANCELLED'
            ? 'the build was cancelled'
            : `build step ${failed.map((r) => label(build.steps[r.index] as BuildStep, r.index)).join(', ')} failed`,
        'the step output above shows why',
        results.map(
          (r) =>
            `${label(build.steps[r.index] as BuildStep, r.index)} ${r.name}: ${r.status}${r.exitCode !== null ? ` (exit ${r.exitCode})` : ''}${r.allowedFailure ? ', allowed' : ''}`,
        ),
      );
    }

    // Cloud Build checks that every image exists after the steps, then pushes them.
    const missing: string[] = [];
    for (const image of images) if (!(await imagePresent(docker, image))) missing.push(image);
    if (missing.length > 0) {
      buildStatus = 'FAILURE';
      throw new LocalBuildError(
        finish(),
        `failed to find one or more images after execution of build steps: ${missing.join(', ')}`,
        'a step must build and tag every image listed under images:',
      );
    }
    if (images.length > 0 && opts.push !== false) {
      say('PUSH');
      for (const image of images) {
        say(`Pushing ${image}`);
        const { repository, tag, registry } = splitImage(image);
        const creds = (await opts.credentials?.(registry)) ?? null;
        const digest = await pushTag(docker, repository, tag, registry, creds, abort.signal);
        say(`${image}: digest: ${digest}`);
        pushed.push({ name: image, digest });
      }
    }
    say('DONE');
    return finish();
  } catch (e) {
    if (buildStatus === 'SUCCESS') buildStatus = 'FAILURE';
    throw e;
  } finally {
    clearTimeout(buildTimer);
    opts.signal?.removeEventListener('abort', onOuterAbort);
    for (const v of volumes) {
      await docker
        .getVolume(volumeName(v))
        .remove()
        .catch(() => undefined);
    }
    if (workspace && !opts.keepWorkspace) await workspace.remove();
  }
}

interface StepRun {
  step: BuildStep;
  index: number;
  result: StepResult;
  docker: Docker;
  workspace: Workspace;
  values: Record<string, string>;
  build: BuildConfig;
  secrets: Record<string, string>;
  redactor: Redactor;
  say(text: string): void;
  socket: string;
  volumeName(name: string): string;
  signal: AbortSignal;
}

/** The container's environment: HOME, options.env, the step's env (wins), automapped substitutions, secrets. */
function stepEnv(r: StepRun): string[] {
  const env = new Map<string, string>([['HOME', '/builder/home']]);
  const automap = r.step.automapSubstitutions ?? r.build.options?.automapSubstitutions ?? false;
  if (automap) for (const [k, v] of Object.entries(r.values)) env.set(k, v);
  for (const e of [...(r.build.options?.env ?? []), ...(r.step.env ?? [])])
    env.set(envKey(e), e.slice(e.indexOf('=') + 1));
  for (const s of [...(r.build.options?.secretEnv ?? []), ...(r.step.secretEnv ?? [])]) {
    env.set(s, r.secrets[s] ?? '');
  }
  return [...env].map(([k, v]) => `${k}=${v}`);
}

function workingDir(dir: string | undefined): string {
  if (!dir) return '/workspace';
  return dir.startsWith('/') ? dir : posix.join('/workspace', dir);
}

/** Runs one step to its end; false when it failed in a way that fails the build. */
async function runStep(r: StepRun): Promise<boolean> {
  const { step, index, result, docker } = r;
  const name = label(step, index);
  const out = (line: string) => r.say(`${name}: ${line}`);
  result.status = 'WORKING';
  result.startedAt = Date.now();
  r.say(`Starting ${name}`);
  let container: Docker.Container | null = null;
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const kill = () => {
    container?.kill().catch(() => undefined);
  };
  try {
    await ensureImage(docker, step.name, out, r.signal);
    let entrypoint = step.entrypoint !== undefined ? [step.entrypoint] : undefined;
    let cmd = step.args && step.args.length > 0 ? step.args : undefined;
    if (step.script !== undefined) {
      // Cloud Build runs a script with the interpreter of its #! line; without one, with sh.
      const scripts = join(r.workspace.home, '.sitepipe-scripts');
      await mkdir(scripts, { recursive: true });
      await writeFile(join(scripts, `step-${index}`), step.script);
      await chmod(join(scripts, `step-${index}`), 0o755);
      const path = `/builder/home/.sitepipe-scripts/step-${index}`;
      entrypoint = step.script.startsWith('#!') ? [path] : ['sh', path];
      cmd = undefined;
    }
    const binds = [
      `${r.workspace.dir}:/workspace`,
      `${r.workspace.home}:/builder/home`,
      `${r.socket}:/var/run/docker.sock`,
      ...(step.volumes ?? []).map((v) => `${r.volumeName(v.name)}:${v.path}`),
    ];
    container = await docker.createContainer({
      Image: step.name,
      ...(entrypoint ? { Entrypoint: entrypoint } : {}),
      ...(cmd ? { Cmd: cmd } : {}),
      Env: stepEnv(r),
      WorkingDir: workingDir(step.dir),
      Labels: {
        'io.sitepipe.cloudbuild.build': r.values.BUILD_ID ?? '',
        'io.sitepipe.cloudbuild.step': String(index),
      },
      AttachStdout: true,
      AttachStderr: true,
      HostConfig: { Binds: binds, NetworkMode: 'host' },
    });
    const stream = await container.attach({ stream: true, stdout: true, stderr: true });
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const lines = lineSplitter(out);
    stdout.on('data', (c: Buffer) => lines.write(c));
    stderr.on('data', (c: Buffer) => lines.write(c));
    docker.modem.demuxStream(stream, stdout, stderr);
    const ended = new Promise<void>((resolve) => {
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', () => resolve());
    });
    if (r.signal.aborted) throw new Error('cancelled');
    r.signal.addEventListener('abort', kill, { once: true });
    await container.start();
    if (step.timeout !== undefined) {
      timer = setTimeout(() => {
        timedOut = true;
        out(`ERROR: the step exceeded its timeout of ${step.timeout}`);
        kill();
      }, durationMs(step.timeout));
    }
    const waited = (await container.wait()) as { StatusCode: number };
    await Promise.race([ended, new Promise((res) => setTimeout(res, 2000))]);
    lines.end();
    result.exitCode = waited.StatusCode;
    if (timedOut) result.status = 'TIMEOUT';
    else if (r.signal.aborted && waited.StatusCode !== 0) result.status = 'CANCELLED';
    else if (waited.StatusCode === 0) result.status = 'SUCCESS';
    else {
      result.status = 'FAILURE';
      result.allowedFailure =
        step.allowFailure === true || (step.allowExitCodes ?? []).includes(waited.StatusCode);
    }
  } catch (e) {
    if (r.signal.aborted) result.status = 'CANCELLED';
    else {
      result.status = 'FAILURE';
      out(
        `ERROR: ${r.redactor.apply(e instanceof SitepipeError ? `${e.message} (${e.hint})` : (e as Error).message)}`,
      );
    }
  } finally {
    clearTimeout(timer);
    r.signal.removeEventListener('abort', kill);
    await container?.remove({ force: true }).catch(() => undefined);
    result.finishedAt = Date.now();
  }
  const secs = ((result.finishedAt - (result.startedAt ?? result.finishedAt)) / 1000).toFixed(1);
  r.say(
    `Finished ${name}: ${result.status}${result.exitCode ? ` (exit ${result.exitCode})` : ''}${result.allowedFailure ? ', failure allowed' : ''} in ${secs}s`,
  );
  return result.status === 'SUCCESS' || result.allowedFailure;
}

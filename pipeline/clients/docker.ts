import type Docker from 'dockerode';
import { rehint, SitepipeError } from '../errors.js';
import type { Credentials } from './credentials.js';

const PING_TIMEOUT_MS = 5_000;
/** How many trailing build-log lines a failed build reports. */
const LOG_TAIL = 25;

/** One message of Docker's JSON progress streams (build, push, pull). */
interface ProgressEvent {
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string; Digest?: string; Tag?: string };
}

/**
 * Talks to the engine named by DOCKER_HOST (unix:// or tcp://), or the local socket.
 * dockerode (with the gRPC stack it pulls in) is loaded only here: a quarter second of every
 * start-up otherwise, and the default image path needs no engine.
 */
export async function connectDocker(env: NodeJS.ProcessEnv): Promise<Docker> {
  const { default: Dockerode } = await import('dockerode');
  const host = env.DOCKER_HOST;
  if (!host) return new Dockerode({ socketPath: '/var/run/docker.sock' });
  if (host.startsWith('unix://')) return new Dockerode({ socketPath: host.slice('unix://'.length) });
  const url = new URL(host.replace(/^tcp:/, 'http:'));
  return new Dockerode({ host: url.hostname, port: Number(url.port || 2375) });
}

/** The engine answers, or DOCKER_UNAVAILABLE with the hint of the step that needs it. */
export async function requireDocker(env: NodeJS.ProcessEnv, hint: string): Promise<void> {
  try {
    await pingDocker(await connectDocker(env));
  } catch (e) {
    throw rehint(e, 'DOCKER_UNAVAILABLE', hint);
  }
}

export async function pingDocker(docker: Docker): Promise<void> {
  try {
    const timeout = new Promise<never>((_, reject) => {
      setTimeout(() => reject(new Error(`no answer in ${PING_TIMEOUT_MS / 1000}s`)), PING_TIMEOUT_MS).unref();
    });
    await Promise.race([docker.ping(), timeout]);
  } catch (e) {
    throw new SitepipeError(
      'DOCKER_UNAVAILABLE',
      `cannot reach the Docker engine (${(e as Error).message})`,
      'start the Docker engine (e.g. systemctl start docker), or point DOCKER_HOST at one; image.builder: oci needs no Docker engine',
    );
  }
}

/** Follows a progress stream to its end, handing each event to `onEvent`; rejects on an error event. */
export function followProgress(
  docker: Docker,
  stream: NodeJS.ReadableStream,
  onEvent: (e: ProgressEvent) => void,
): Promise<ProgressEvent[]> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, events: ProgressEvent[]) => {
        if (err) return reject(err);
        const failed = events.find((e) => e.error || e.errorDetail);
        if (failed) return reject(new Error(failed.errorDetail?.message ?? failed.error));
        resolve(events);
      },
      onEvent,
    );
  });
}

export interface BuildRequest {
  context: NodeJS.ReadableStream;
  tag: string;
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  signal: AbortSignal;
  onLine(line: string): void;
}

/** Why a build failed: the engine's parser names the line of sitepipe's template; anything else is the build's. */
function buildError(e: unknown, tail: readonly string[]): SitepipeError {
  const message = (e as Error).message;
  if (/dockerfile parse error|unknown instruction|file with no instructions/i.test(message)) {
    return new SitepipeError(
      'DOCKERFILE_TEMPLATE_INVALID',
      `Docker cannot parse Dockerfile.template: ${message}`,
      'restore Dockerfile.template from the sitepipe package (reinstall sitepipe), or fix the line named',
      tail,
    );
  }
  return new SitepipeError(
    'IMAGE_BUILD_FAILED',
    `docker build failed: ${message}`,
    'the build log above shows the failing instruction',
    tail,
  );
}

/** Builds with the engine's builder; returns the image id. */
export async function buildImage(docker: Docker, req: BuildRequest): Promise<string> {
  const tail: string[] = [];
  const stream = await docker
    .buildImage(req.context, {
      t: req.tag,
      buildargs: req.buildArgs,
      labels: req.labels,
      // No bridge network on these machines: stage 1 reaches the package mirror through the host.
      networkmode: 'host',
      forcerm: true,
      abortSignal: req.signal,
    })
    // A template the engine cannot parse is refused with the request itself.
    .catch((e: unknown) => {
      throw buildError(e, tail);
    });
  let id: string | undefined;
  try {
    await followProgress(docker, stream, (e) => {
      if (e.aux?.ID) id = e.aux.ID;
      for (const line of (e.stream ?? '').split('\n').filter((l) => l.trim() !== '')) {
        tail.push(line);
        if (tail.length > LOG_TAIL) tail.shift();
        req.onLine(line);
      }
    });
  } catch (e) {
    throw buildError(e, tail);
  }
  if (!id) id = (await docker.getImage(req.tag).inspect()).Id;
  return id;
}

/** Why a push or pull failed, in terms a user can act on. */
function classifyPushError(registry: string, message: string): SitepipeError {
  if (/unauthorized|authentication required|denied|forbidden|401|403/i.test(message)) {
    return new SitepipeError(
      'REGISTRY_AUTH_FAILED',
      `the registry ${registry} refused access: ${message}`,
      'check the credentials (docker login, or gcloud auth configure-docker for gcr.io / Artifact Registry)',
    );
  }
  if (/connection refused|no such host|timeout|dial tcp|EOF/i.test(message)) {
    return new SitepipeError(
      'REGISTRY_UNREACHABLE',
      `cannot reach the registry ${registry}: ${message}`,
      'check that the registry is up and that image.repository names it',
    );
  }
  return new SitepipeError('REGISTRY_ERROR', `${registry}: ${message}`, 'see the registry logs');
}

/** Pushes repository:tag; the engine uploads every blob before the manifest. Returns the digest. */
export async function pushTag(
  docker: Docker,
  repository: string,
  tag: string,
  registry: string,
  creds: Credentials | null,
  signal: AbortSignal,
): Promise<string> {
  const authconfig = creds
    ? { username: creds.username, password: creds.password, serveraddress: registry }
    : {};
  let digest: string | undefined;
  try {
    const stream = await docker.getImage(repository).push({ tag, authconfig, abortSignal: signal });
    await followProgress(docker, stream, (e) => {
      if (e.aux?.Digest) digest = e.aux.Digest;
    });
  } catch (e) {
    if (e instanceof SitepipeError) throw e;
    throw classifyPushError(registry, (e as Error).message);
  }
  if (!digest) throw classifyPushError(registry, 'the engine reported no digest');
  return digest;
}

/** Pulls an image (e.g. repository@sha256:…) into the engine. */
export async function pullImage(
  docker: Docker,
  ref: string,
  registry: string,
  creds: Credentials | null,
  signal: AbortSignal,
): Promise<void> {
  const authconfig = creds
    ? { username: creds.username, password: creds.password, serveraddress: registry }
    : undefined;
  try {
    const stream = await docker.pull(ref, { authconfig, abortSignal: signal });
    await followProgress(docker, stream, () => undefined);
  } catch (e) {
    throw classifyPushError(registry, (e as Error).message);
  }
}

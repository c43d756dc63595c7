import { createServer } from 'node:net';
import type Docker from 'dockerode';
import { connectDocker, pullImage, requireDocker } from '../pipeline/clients/docker.js';
import { mapLimit } from '../pipeline/concurrency.js';
import { SitepipeError } from '../pipeline/errors.js';
import { OWNER_LABEL, ownerTag, removeDeadSmokeContainers, SMOKE_LABEL } from '../pipeline/leftovers.js';
import { linkedResources } from '../pipeline/linked-resources.js';
import { HEALTH_PATH, LISTEN_CONF_DIR, listenConfArchive } from '../pipeline/nginx.js';
import { parseRepository } from '../pipeline/reference.js';
import { openRegistry } from '../pipeline/registries.js';
import { sitemapPaths } from '../pipeline/sitemap.js';
import { defineStep, type RunContext } from '../pipeline/step.js';

const CONCURRENCY = 8;
const REQUEST_TIMEOUT_MS = 10_000;
/** How many failing pages an error lists. */
const LIST_LIMIT = 20;

/** A port nobody listens on right now, on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/**
 * Starts the image on the host network with nginx moved to a free loopback port; the rest
 * of the image (site, server config) is exactly what will ship.
 */
async function startOnLoopback(docker: Docker, image: string, port: number): Promise<Docker.Container> {
  const container = await docker.createContainer({
    Image: image,
    // The owner lets a later run remove this container if this run is killed before it does.
    Labels: { [SMOKE_LABEL]: 'true', [OWNER_LABEL]: ownerTag() },
    HostConfig: { NetworkMode: 'host' },
  });
  await container.putArchive(await listenConfArchive(port, '127.0.0.1'), { path: LISTEN_CONF_DIR });
  await container.start();
  return container;
}

/** Splits Docker's multiplexed log stream (8-byte frame headers) into text lines. */
export function demuxLogs(raw: Buffer): string[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at + 8 <= raw.length; ) {
    const size = raw.readUInt32BE(at + 4);
    chunks.push(raw.subarray(at + 8, at + 8 + size));
    at += 8 + size;
  }
  return Buffer.concat(chunks)
    .toString('utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

async function containerLogs(container: Docker.Container): Promise<string[]> {
  const raw = await container.logs({ stdout: true, stderr: true, tail: 20 }).catch(() => Buffer.alloc(0));
  return demuxLogs(raw);
}

async function waitUntilServing(
  container: Docker.Container,
  base: string,
  deadline: number,
  signal: AbortSignal,
): Promise<void> {
  while (Date.now() < deadline) {
    signal.throwIfAborted();
    const state = (await container.inspect()).State;
    if (!state.Running) {
      throw new SitepipeError(
        'SMOKE_FAILED',
        `the image exited (code ${state.ExitCode}) instead of serving`,
        'the container log above shows why nginx stopped',
        await containerLogs(container),
      );
    }
    const ok = await fetch(`${base}${HEALTH_PATH}`, { signal: AbortSignal.timeout(1000) })
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new SitepipeError(
    'SMOKE_FAILED',
    'the image did not start serving in time',
    'raise smoke.timeoutSeconds, or check the container log',
    await containerLogs(container),
  );
}

/** Fetches every path; returns "path: status" for each that is not a 200. */
async function fetchAll(
  base: string,
  paths: readonly string[],
  signal: AbortSignal,
  onFetched: (done: number) => void = () => undefined,
): Promise<string[]> {
  let done = 0;
  const results = await mapLimit(paths, CONCURRENCY, async (path) => {
    const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    const status = await fetch(`${base}${path}`, {
      signal: AbortSignal.any([signal, timeout]),
      redirect: 'manual',
    })
      .then(async (r) => {
        await r.arrayBuffer();
        return String(r.status);
      })
      .catch((e: Error) => e.message);
    onFetched(++done);
    return status === '200' ? null : `${path}: ${status}`;
  });
  return results.filter((r): r is string => r !== null);
}

/**
 * Runs the built image before anything is pushed and fetches every page of the sitemap and
 * every same-site resource those pages load (stylesheets, scripts, images, and what the
 * stylesheets load): a page that answers 200 without its CSS or images is not a working site.
 */
export const smoke = defineStep({
  name: 'smoke',
  needs: ['image', 'render'],
  mutates: false,
  description: 'serve the image and fetch every page in the sitemap and what the pages load',
  async preflight(ctx) {
    if (!ctx.config.smoke.enabled) return;
    await requireDocker(
      ctx.env,
      'smoke runs the image on a Docker engine (whatever image.builder is): start dockerd (or set DOCKER_HOST), or set smoke.enabled: false to push the image untested',
    );
  },
  async run(ctx, { image, render }) {
    const untested = { commit: image.commit, image: image.localRef, tested: false, pages: 0, checked: [] };
    if (!ctx.config.smoke.enabled) {
      ctx.log.warn('smoke.enabled is false: the image is pushed untested');
      return untested;
    }
    const paths = await sitemapPaths(render.outputDir, render.basePath);
    if (paths.length === 0) {
      throw new SitepipeError(
        'SMOKE_FAILED',
        'the sitemap lists no pages',
        'check that Hugo writes sitemap.xml',
      );
    }
    const resources = linkedResources({
      outputDir: render.outputDir,
      basePath: render.basePath,
      siteURL: render.baseURL,
      pages: paths,
    });
    const docker = await connectDocker(ctx.env);
    const removed = await removeDeadSmokeContainers(docker);
    if (removed > 0) ctx.log.info(`removed ${removed} smoke container(s) left by killed runs`);
    // The daemonless build lives only in the registry so far: run exactly that digest, and
    // leave the engine as it was (an image per build adds up).
    const pulled = image.builder === 'oci' && (await pullUnlessPresent(ctx, docker, image.localRef));
    try {
      await serveAndFetch(ctx, docker, image.localRef, paths, resources);
    } finally {
      if (pulled)
        await docker
          .getImage(image.localRef)
          .remove()
          .catch(() => undefined);
    }
    return { ...untested, tested: true, pages: paths.length, checked: [...paths, ...resources] };
  },
  summarize: (s) =>
    s.tested
      ? `${s.pages} pages and ${s.checked.length - s.pages} linked resources answered 200`
      : 'not run (smoke.enabled: false)',
});

/** Pulls `ref` from the target registry; false when the engine had it already (nothing to remove after). */
async function pullUnlessPresent(ctx: RunContext, docker: Docker, ref: string): Promise<boolean> {
  const present = await docker
    .getImage(ref)
    .inspect()
    .then(
      () => true,
      () => false,
    );
  if (present) return false;
  const repository = parseRepository(ctx.config.image.repository);
  const { creds } = await openRegistry(ctx, repository.registry);
  await pullImage(docker, ref, repository.registry, creds, ctx.signal);
  return true;
}

/** Runs the image on a free loopback port and fetches the pages, then what they load; any non-200 fails. */
async function serveAndFetch(
  ctx: RunContext,
  docker: Docker,
  ref: string,
  paths: readonly string[],
  resources: readonly string[],
): Promise<void> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const container = await startOnLoopback(docker, ref, port);
  try {
    await waitUntilServing(container, base, Date.now() + ctx.config.smoke.timeoutSeconds * 1000, ctx.signal);
    const failures = await fetchAll(base, paths, ctx.signal, (n) =>
      ctx.log.progress?.(`${n}/${paths.length} pages`),
    );
    if (failures.length > 0) {
      throw new SitepipeError(
        'SMOKE_FAILED',
        `${failures.length} of ${paths.length} pages in the sitemap did not answer 200`,
        'the image is not pushed; check that those pages render and are copied into the image',
        failures.slice(0, LIST_LIMIT),
      );
    }
    const missing = await fetchAll(base, resources, ctx.signal, (n) =>
      ctx.log.progress?.(`${n}/${resources.length} linked resources`),
    );
    if (missing.length > 0) {
      throw new SitepipeError(
        'SMOKE_FAILED',
        `${missing.length} of ${resources.length} resources the pages load (stylesheets, scripts, images) did not answer 200`,
        'the image is not pushed; check that those files are in the site (static/, assets/) and copied into the image',
        missing.slice(0, LIST_LIMIT),
      );
    }
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}

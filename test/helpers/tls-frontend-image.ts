import { connectDocker, pullImage } from '../../pipeline/clients/docker.js';
import { HEALTH_PATH, LISTEN_CONF_DIR, listenConfArchive } from '../../pipeline/nginx.js';
import { freePort } from '../../steps/smoke.js';

/** One running copy of a site image: a pod, as far as a frontend can tell. */
export interface SitePod {
  /** http://127.0.0.1:PORT, for a frontend's proxy_pass. */
  upstream: string;
  stop(): Promise<void>;
}

/**
 * Runs `image` (repository@digest in a loopback registry) as smoke does: host network, nginx
 * moved to a free loopback port, nothing else of the image changed. Resolves once it answers.
 */
export async function runSitePod(image: string, registry: string): Promise<SitePod> {
  const docker = await connectDocker(process.env);
  await pullImage(docker, image, registry, null, new AbortController().signal);
  const port = await freePort();
  const container = await docker.createContainer({
    Image: image,
    Labels: { 'io.sitepipe.test': 'verify' },
    HostConfig: { NetworkMode: 'host' },
  });
  const stop = () => container.remove({ force: true }).then(() => undefined);
  try {
    await container.putArchive(await listenConfArchive(port, '127.0.0.1'), { path: LISTEN_CONF_DIR });
    await container.start();
    const upstream = `http://127.0.0.1:${port}`;
    for (;;) {
      if (!(await container.inspect()).State.Running) throw new Error(`${image} exited instead of serving`);
      const ok = await fetch(`${upstream}${HEALTH_PATH}`)
        .then((r) => r.ok)
        .catch(() => false);
      if (ok) return { upstream, stop };
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
}

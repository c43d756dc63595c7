import { request } from 'node:http';
import type Docker from 'dockerode';
import { connectDocker, pullImage } from '../../pipeline/clients/docker.js';
import { HEALTH_PATH, LISTEN_CONF_PATH, listenConf } from '../../pipeline/nginx.js';
import { type LayerEntry, tarChunks } from '../../pipeline/oci/tar-layer.js';
import { parseImageRef } from '../../pipeline/reference.js';
import { freePort } from '../../steps/smoke.js';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One GET as sent (no redirect following, no decompression), so headers are seen as nginx wrote them. */
export function get(url: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export interface Served {
  base: string;
  container: Docker.Container;
  stop(): Promise<void>;
}

/** A tar of `files` (image path -> content), to put into a container at /. */
export async function filesArchive(files: Record<string, string | Buffer>): Promise<Buffer> {
  const mtime = new Date('2026-03-01T12:00:00Z');
  const entries: LayerEntry[] = Object.entries(files).map(([path, text]) => {
    const content = Buffer.from(text);
    return { path: path.replace(/^\/+/, ''), type: 'file', size: content.length, content, mtime };
  });
  const chunks: Buffer[] = [];
  for await (const chunk of tarChunks(entries)) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/**
 * Runs `image` as smoke does: host network, nginx moved to a free loopback port; `files`
 * (image path -> content) are put in first. Resolves once the health path answers.
 */
export async function serveOnLoopback(
  image: string,
  files: Record<string, string | Buffer> = {},
): Promise<Served> {
  const docker = await connectDocker(process.env);
  // An oci build lives in the registry (smoke removes the copy it pulled): pull it as smoke does.
  const present = await docker
    .getImage(image)
    .inspect()
    .then(
      () => true,
      () => false,
    );
  if (!present)
    await pullImage(docker, image, parseImageRef(image).registry, null, new AbortController().signal);
  const port = await freePort();
  const container = await docker.createContainer({
    Image: image,
    Labels: { 'io.sitepipe.test': 'true' },
    HostConfig: { NetworkMode: 'host' },
  });
  const stop = () => container.remove({ force: true }).then(() => undefined);
  try {
    // One archive at /: the base image alone has no listen.conf (nor its directory) yet.
    const archive = await filesArchive({ ...files, [LISTEN_CONF_PATH]: listenConf(port, '127.0.0.1') });
    await container.putArchive(archive, { path: '/' });
    await container.start();
    const base = `http://127.0.0.1:${port}`;
    for (;;) {
      if (!(await container.inspect()).State.Running) throw new Error(`${image} exited instead of serving`);
      if ((await get(`${base}${HEALTH_PATH}`).catch(() => null))?.status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return { base, container, stop };
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
}

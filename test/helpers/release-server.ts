import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { c as createTar } from 'tar';
import { archiveName, checksumsName, type HugoPlatform } from '../../pipeline/clients/hugo-releases.js';

export interface ReleaseServer {
  /** Base URL to use as hugo.downloadBaseUrl, e.g. http://127.0.0.1:41234/releases/download */
  baseUrl: string;
  /** URL path -> body; edit it to change what is served. */
  files: Map<string, Buffer>;
  /** URL path -> status to answer instead (e.g. 500). */
  statuses: Map<string, number>;
  /** Paths of every request received, in order. */
  requests: string[];
  close(): Promise<void>;
}

const BASE_PATH = '/releases/download';

/** Serves `files` (keyed by URL path) on 127.0.0.1 at an ephemeral port; everything else is 404. */
export async function startReleaseServer(files = new Map<string, Buffer>()): Promise<ReleaseServer> {
  const requests: string[] = [];
  const statuses = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    requests.push(path);
    const status = statuses.get(path);
    const body = files.get(path);
    if (status !== undefined || !body) {
      res.writeHead(status ?? 404, { 'content-type': 'text/plain' }).end('Not Found\n');
      return;
    }
    res
      .writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length })
      .end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}${BASE_PATH}`,
    files,
    statuses,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}

export interface ReleaseFixture {
  version: string;
  archiveName: string;
  archive: Buffer;
  sha256: string;
  checksumsName: string;
  checksums: string;
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Builds a real release archive laid out like the official one (hugo, LICENSE, README.md at
 * the top level) from a real binary, plus its checksums file listing other archives too.
 */
export async function buildReleaseArchive(opts: {
  version: string;
  extended: boolean;
  platform: HugoPlatform;
  binary?: string;
}): Promise<ReleaseFixture> {
  const name = archiveName(opts.version, opts.extended, opts.platform);
  const stage = await mkdtemp(join(tmpdir(), 'sitepipe-release-'));
  try {
    await copyFile(opts.binary ?? '/usr/bin/hugo', join(stage, 'hugo'));
    await writeFile(join(stage, 'LICENSE'), 'Apache License\nVersion 2.0, January 2004\n');
    await writeFile(join(stage, 'README.md'), '# Hugo\n\nA Fast and Flexible Static Site Generator.\n');
    const archivePath = join(stage, name);
    await createTar({ gzip: true, file: archivePath, cwd: stage, portable: true }, [
      'hugo',
      'LICENSE',
      'README.md',
    ]);
    const archive = await readFile(archivePath);
    const digest = sha256(archive);
    const others = [`hugo_${opts.version}_windows-amd64.zip`, `hugo_${opts.version}_darwin-universal.tar.gz`];
    const lines = [...others.map((f) => `${sha256(f)}  ${f}`), `${digest}  ${name}`];
    return {
      version: opts.version,
      archiveName: name,
      archive,
      sha256: digest,
      checksumsName: checksumsName(opts.version),
      checksums: `${lines.join('\n')}\n`,
    };
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/** The URL path at which the server must hold `file` of `version`. */
export function releasePath(version: string, file: string): string {
  return `${BASE_PATH}/v${version}/${file}`;
}

/** Puts a fixture's archive and checksums where the server serves them. */
export function publish(server: ReleaseServer, fixture: ReleaseFixture): void {
  server.files.set(releasePath(fixture.version, fixture.archiveName), fixture.archive);
  server.files.set(releasePath(fixture.version, fixture.checksumsName), Buffer.from(fixture.checksums));
}

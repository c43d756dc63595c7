import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parseConfig } from '../../pipeline/config.js';
import { type Caddy, startCaddy } from './caddy.js';
import { type TestContext, testContext } from './context.js';
import { type Pebble, startPebble } from './pebble.js';
import { type Sshd, startSshd } from './sshd.js';

export const DOMAIN = 'www.site.test';

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The serial of the certificate the server presented (upper-case hex). */
  serial: string | null;
}

export interface HostRig {
  dir: string;
  sshd: Sshd;
  pebble: Pebble;
  caddy: Caddy;
  /** The releases' root on "the host" (this machine, over SSH). */
  root: string;
  siteFile: string;
  /** Pebble's issuing root (PEM file): verify.caFile. */
  rootsFile: string;
  /** The config of a site whose deploy target is this host; `server` overrides the first server's keys. */
  configYaml(opts?: {
    server?: Record<string, string>;
    /** More servers, each overriding the first's keys. */
    more?: Record<string, unknown>[];
    root?: string;
    domains?: string[];
    acme?: string;
    siteFile?: string;
    certificateTimeoutSeconds?: number;
    extra?: string;
  }): string;
  context(opts?: Parameters<HostRig['configYaml']>[0]): TestContext;
  /** GET over HTTPS on 127.0.0.1 or [::1], trusting Pebble's root; gzip is asked for and undone. */
  get(path: string, family?: 4 | 6, headers?: Record<string, string>): Promise<Response>;
  /** GET over plain HTTP (for the redirect). */
  getHttp(path: string): Promise<Response>;
  stop(): Promise<void>;
}

/** sshd, Pebble and Caddy on loopback: the whole single-host target, started by a test. */
export async function startHostRig(): Promise<HostRig> {
  const dir = await mkdtemp(join(tmpdir(), 'sitepipe-host-'));
  const [sshd, pebble, caddy] = await Promise.all([
    startSshd(join(dir, 'sshd')),
    startPebble(join(dir, 'pebble')),
    startCaddy(join(dir, 'caddy')),
  ]);
  const rootsFile = join(dir, 'pebble-roots.pem');
  const roots = await pebble.roots();
  await writeFile(rootsFile, roots);
  const root = join(dir, 'srv', 'website');
  const siteFile = join(dir, 'caddy', 'sites', 'website.caddy');
  const configYaml: HostRig['configYaml'] = (opts = {}) => {
    const server = {
      ssh: sshd.ssh,
      identityFile: sshd.identityFile,
      knownHostsFile: sshd.knownHostsFile,
      ...opts.server,
    };
    const more = (opts.more ?? []).map((m) => `\n      - ${JSON.stringify({ ...server, ...m })}`).join('');
    return `hugo: { version: 0.111.3 }
image: { repository: 127.0.0.1:5000/website }
deploy:
  target: host
  hosts: [${(opts.domains ?? [DOMAIN]).join(', ')}]
  lockTimeoutSeconds: 5
  host:
    servers:
      - ${JSON.stringify(server)}${more}
    root: ${opts.root ?? root}
    keep: 3
    certificateTimeoutSeconds: ${opts.certificateTimeoutSeconds ?? 60}
    acme: { ca: ${opts.acme ?? pebble.directory}, email: ops@site.test, caRoot: ${pebble.listenerCa} }
    caddy:
      configFile: ${caddy.configFile}
      siteFile: ${opts.siteFile ?? siteFile}
      adminAddress: ${caddy.adminAddress}
      bind: [127.0.0.1, "[::1]"]
      httpsPort: ${caddy.httpsPort}
verify: { caFile: ${rootsFile}, httpsPort: ${caddy.httpsPort}, timeoutSeconds: 5 }
${opts.extra ?? ''}`;
  };
  const fetchOnce = async (
    path: string,
    family: 4 | 6,
    headers: Record<string, string>,
  ): Promise<Response> => {
    const ca = roots;
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: family === 4 ? '127.0.0.1' : '::1',
          port: caddy.httpsPort,
          path,
          servername: DOMAIN,
          headers: { host: DOMAIN, 'accept-encoding': 'gzip', ...headers },
          ca,
          agent: false,
          timeout: 10_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            let body = Buffer.concat(chunks);
            if (res.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
            const cert = (res.socket as import('node:tls').TLSSocket).getPeerCertificate?.();
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: body.toString(),
              serial: cert?.serialNumber ?? null,
            });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end();
    });
  };
  return {
    dir,
    sshd,
    pebble,
    caddy,
    root,
    siteFile,
    rootsFile,
    configYaml,
    context: (opts) => testContext({ siteDir: dir, config: parseConfig(configYaml(opts), 'test') }),
    get: (path, family = 4, headers = {}) => fetchOnce(path, family, headers),
    getHttp: (path) =>
      new Promise((resolve, reject) => {
        const req = httpRequest(
          { host: '127.0.0.1', port: caddy.httpPort, path, headers: { host: DOMAIN }, agent: false },
          (res) => {
            res.resume();
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '', serial: null }),
            );
          },
        );
        req.on('error', reject);
        req.end();
      }),
    async stop() {
      await Promise.all([sshd.stop(), pebble.stop(), caddy.stop()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

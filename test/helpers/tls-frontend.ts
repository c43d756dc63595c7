import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Issued } from './tls-frontend-ca.js';

export const NGINX = '/usr/sbin/nginx';

/** What one test frontend serves: a load balancer's forwarding rule, played by Debian's nginx. */
export interface FrontendSpec {
  /** Loopback addresses to listen on, e.g. ['127.0.0.1'] or ['::1']. */
  ips: string[];
  httpsPort: number;
  httpPort: number;
  certificate: Issued;
  /** Plain HTTP answers 301 to https://host:httpsPort/same-path (true) or 200 (false). */
  redirect?: boolean;
  /** The Sitepipe-Release header the frontend adds itself; none when null or with an upstream. */
  release?: string | null;
  hsts?: boolean;
  /** Proxy HTTPS requests to this http://host:port (a sitepipe image) instead of answering itself. */
  upstream?: string;
}

export interface Frontend {
  prefix: string;
  /** Stops nginx and starts it again with `spec`; resolves once every port accepts connections. */
  restart(spec: FrontendSpec): Promise<void>;
  stop(): Promise<void>;
}

const listen = (ips: string[], port: number, ssl: boolean) =>
  ips.map((ip) => `    listen ${ip.includes(':') ? `[${ip}]` : ip}:${port}${ssl ? ' ssl' : ''};`).join('\n');

function nginxConf(prefix: string, spec: FrontendSpec): string {
  const tmp = (name: string) => join(prefix, 'tmp', name);
  const headers = [
    ...(spec.release && !spec.upstream ? [`    add_header Sitepipe-Release ${spec.release} always;`] : []),
    ...(spec.hsts === false ? [] : ['    add_header Strict-Transport-Security "max-age=31536000" always;']),
  ].join('\n');
  const content = spec.upstream
    ? `proxy_pass ${spec.upstream}; proxy_set_header Host $host;`
    : 'default_type text/html; return 200 "<h1>served by a test frontend</h1>\\n";';
  const plain =
    spec.redirect === false
      ? 'default_type text/plain; return 200 "plain HTTP, no redirect\\n";'
      : `return 301 https://$host:${spec.httpsPort}$request_uri;`;
  return `# A test frontend for sitepipe verify.
${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes 1;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'error.log')} warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path ${tmp('body')};
    proxy_temp_path ${tmp('proxy')};
    fastcgi_temp_path ${tmp('fastcgi')};
    uwsgi_temp_path ${tmp('uwsgi')};
    scgi_temp_path ${tmp('scgi')};
    server {
${listen(spec.ips, spec.httpsPort, true)}
    server_name _;
    ssl_certificate ${spec.certificate.certPath};
    ssl_certificate_key ${spec.certificate.keyPath};
${headers}
    location / { ${content} }
    }
    server {
${listen(spec.ips, spec.httpPort, false)}
    server_name _;
    location / { ${plain} }
    }
}
`;
}

function accepts(ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: ip, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Runs Debian's nginx (not the system service: its own config, -p prefix and pid file in a temp
 * dir) as a TLS frontend on loopback. Each instance is one child process, stopped by its pid.
 */
export async function startFrontend(spec: FrontendSpec): Promise<Frontend> {
  const prefix = await mkdtemp(join(tmpdir(), 'sitepipe-frontend-'));
  await mkdir(join(prefix, 'tmp'));
  let child: ChildProcess | null = null;

  const stop = async () => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((r) => running.once('exit', r));
    running.kill('SIGTERM');
    await exited;
  };

  const start = async (s: FrontendSpec) => {
    const conf = join(prefix, 'nginx.conf');
    await writeFile(conf, nginxConf(prefix, s));
    const proc = spawn(
      NGINX,
      ['-p', prefix, '-c', conf, '-e', join(prefix, 'error.log'), '-g', 'daemon off;'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    child = proc;
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const ports = s.ips.flatMap((ip) => [s.httpsPort, s.httpPort].map((port) => ({ ip, port })));
    for (;;) {
      if (proc.exitCode !== null) {
        const log = await readFile(join(prefix, 'error.log'), 'utf8').catch(() => '');
        throw new Error(`nginx exited (${proc.exitCode}): ${stderr}${log}`);
      }
      const up = await Promise.all(ports.map((p) => accepts(p.ip, p.port)));
      if (up.every(Boolean)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  await start(spec);
  return {
    prefix,
    async restart(s) {
      await stop();
      await start(s);
    },
    async stop() {
      await stop();
      await rm(prefix, { recursive: true, force: true });
    },
  };
}

function listenOnce(ip: string, port: number): Promise<{ port: number; close: () => Promise<void> } | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(null));
    server.listen(port, ip, () => {
      const address = server.address();
      resolve({
        port: typeof address === 'object' && address ? address.port : 0,
        close: () => new Promise((r) => server.close(() => r())),
      });
    });
  });
}

/** A port free on 127.0.0.1 and on [::1] alike, so the IPv4 and IPv6 frontends can share it. */
export async function freeDualStackPort(): Promise<number> {
  for (;;) {
    const v4 = await listenOnce('127.0.0.1', 0);
    if (!v4) continue;
    const v6 = await listenOnce('::1', v4.port);
    await v4.close();
    if (v6) {
      await v6.close();
      return v4.port;
    }
  }
}

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { freePort, waitForPort } from './sshd.js';

export interface Caddy {
  /** The main Caddyfile: deploy.host.caddy.configFile. */
  configFile: string;
  /** Its admin endpoint on loopback: deploy.host.caddy.adminAddress. */
  adminAddress: string;
  httpPort: number;
  httpsPort: number;
  /** Where Caddy keeps its certificates and ACME accounts. */
  dataDir: string;
  stop(): Promise<void>;
  /** Starts it again with the same config and data (after stop). */
  start(): Promise<void>;
  log(): string;
}

/**
 * Debian's Caddy with its admin endpoint on loopback, unprivileged HTTP and HTTPS ports and its
 * data in the test's dir. The main Caddyfile has only global options: `sitepipe host init`
 * adds the import of the site file, as on a real server.
 */
export async function startCaddy(dir: string): Promise<Caddy> {
  await mkdir(dir, { recursive: true });
  const httpPort = await freePort();
  const httpsPort = await freePort();
  const admin = await freePort();
  const dataDir = join(dir, 'data');
  const configFile = join(dir, 'Caddyfile');
  await writeFile(
    configFile,
    `{
	admin 127.0.0.1:${admin}
	http_port ${httpPort}
	https_port ${httpsPort}
	storage file_system {
		root ${dataDir}
	}
	skip_install_trust
	ocsp_stapling off
	grace_period 10s
}
`,
  );
  let child: ResultPromise | null = null;
  let output = '';
  const start = async () => {
    child = execa('caddy', ['run', '--config', configFile, '--adapter', 'caddyfile'], {
      reject: false,
      stdin: 'ignore',
      all: true,
      buffer: false,
      env: { HOME: dir, XDG_DATA_HOME: join(dir, 'xdg-data'), XDG_CONFIG_HOME: join(dir, 'xdg-config') },
    });
    child.all?.on('data', (c: Buffer) => {
      output += c.toString();
    });
    await waitForPort(admin);
  };
  await start();
  return {
    configFile,
    adminAddress: `127.0.0.1:${admin}`,
    httpPort,
    httpsPort,
    dataDir,
    async stop() {
      const c = child;
      child = null;
      if (!c) return;
      c.kill('SIGTERM');
      await c;
    },
    start,
    log: () => output,
  };
}

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { freePort, waitForPort } from './sshd.js';
import { createTestCa } from './tls-frontend-ca.js';

export interface Pebble {
  /** The ACME directory URL, for deploy.host.acme.ca. */
  directory: string;
  /** The CA of Pebble's own HTTPS listener, for deploy.host.acme.caRoot. */
  listenerCa: string;
  /** The roots Pebble issues under (PEM), for a client to trust the certificates it issued. */
  roots(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Debian's Pebble, Let's Encrypt's ACME test server, on loopback. PEBBLE_VA_ALWAYS_VALID skips
 * challenge validation (the test domains resolve nowhere), the rest of ACME is real: accounts,
 * orders, CSRs, issuance.
 */
export async function startPebble(
  dir: string,
  opts: { alwaysValid?: boolean; httpPort?: number; tlsPort?: number } = {},
): Promise<Pebble> {
  await mkdir(dir, { recursive: true });
  const ca = await createTestCa(join(dir, 'listener-ca'));
  const leaf = await ca.issue({ names: ['localhost'] });
  const port = await freePort();
  const management = await freePort();
  const config = join(dir, 'pebble-config.json');
  await writeFile(
    config,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${port}`,
        managementListenAddress: `127.0.0.1:${management}`,
        certificate: leaf.certPath,
        privateKey: leaf.keyPath,
        httpPort: opts.httpPort ?? 5002,
        tlsPort: opts.tlsPort ?? 5001,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  const child: ResultPromise = execa('pebble', ['-config', config], {
    reject: false,
    stdin: 'ignore',
    env: {
      PEBBLE_VA_ALWAYS_VALID: opts.alwaysValid === false ? '0' : '1',
      PEBBLE_VA_NOSLEEP: '1',
      PEBBLE_WFE_NONCEREJECT: '0',
    },
  });
  await waitForPort(port);
  await waitForPort(management);
  return {
    directory: `https://localhost:${port}/dir`,
    listenerCa: ca.certPath,
    async roots() {
      // Pebble's management API serves its roots over its own TLS listener's certificate.
      const { stdout } = await execa('curl', [
        '-sS',
        '--cacert',
        ca.certPath,
        `https://localhost:${management}/roots/0`,
      ]);
      return stdout;
    },
    async stop() {
      child.kill('SIGTERM');
      await child;
    },
  };
}

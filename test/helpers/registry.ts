import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { freePort } from '../../steps/smoke.js';

export interface TestRegistry {
  /** host:port on loopback */
  host: string;
  stop(): Promise<void>;
}

/** The address of the registry `npm run setup` starts. */
export const SETUP_REGISTRY = '127.0.0.1:5000';

/** Starts a real distribution registry on a free loopback port, optionally behind htpasswd. */
export async function startRegistry(auth?: { user: string; password: string }): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'sitepipe-registry-'));
  const port = await freePort();
  const htpasswd = join(dir, 'htpasswd');
  if (auth) await writeFile(htpasswd, `${auth.user}:${bcrypt.hashSync(auth.password, 5)}\n`);
  const config = [
    'version: 0.1',
    'log: { level: error }',
    `storage: { filesystem: { rootdirectory: ${join(dir, 'data')} }, delete: { enabled: true } }`,
    `http: { addr: 127.0.0.1:${port} }`,
    ...(auth ? [`auth: { htpasswd: { realm: sitepipe-test, path: ${htpasswd} } }`] : []),
  ].join('\n');
  await writeFile(join(dir, 'config.yml'), `${config}\n`);
  const child: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'config.yml')], {
    stdio: 'ignore',
  });
  const host = `127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const status = await fetch(`http://${host}/v2/`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200 || status === 401) {
      return {
        host,
        async stop() {
          child.kill('SIGTERM');
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`docker-registry did not start on ${host}`);
}

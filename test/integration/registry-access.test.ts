import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDocker, pushTag } from '../../pipeline/clients/docker.js';
import { RegistryClient } from '../../pipeline/clients/registry.js';
import { image } from '../../steps/image.js';
import { push } from '../../steps/push.js';
import { freePort } from '../../steps/smoke.js';
import { testContext } from '../helpers/context.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const USER = 'ci';
const PASSWORD = 'correct-horse-battery';

function pushContext(repository: string, env: NodeJS.ProcessEnv) {
  return testContext({
    siteDir: '/nonexistent',
    configYaml: `hugo: { version: 0.111.3 }\nimage: { repository: ${repository} }\nregistry: { credentials: env }\n`,
    env: { ...process.env, ...env },
  });
}

describe('registry access (real registry with htpasswd auth)', () => {
  let registry: TestRegistry;
  beforeAll(async () => {
    registry = await startRegistry({ user: USER, password: PASSWORD });
  });
  afterAll(() => registry?.stop());

  const creds = (password: string) => ({
    SITEPIPE_REGISTRY_USERNAME: USER,
    SITEPIPE_REGISTRY_PASSWORD: password,
  });

  it('preflight accepts good credentials and registers the password as a secret', async () => {
    const ctx = pushContext(`${registry.host}/site`, creds(PASSWORD));
    await push.preflight?.(ctx);
    expect(ctx.secrets).toContain(PASSWORD);
  });

  it('preflight refuses wrong credentials with REGISTRY_AUTH_FAILED', async () => {
    await expect(
      push.preflight?.(pushContext(`${registry.host}/site`, creds('wrong'))),
    ).rejects.toMatchObject({
      code: 'REGISTRY_AUTH_FAILED',
      hint: expect.stringContaining('credentials'),
    });
  });

  it('says to log in when anonymous access is refused', async () => {
    await expect(new RegistryClient(registry.host, null).checkPushAccess('site')).rejects.toMatchObject({
      code: 'REGISTRY_AUTH_FAILED',
      hint: expect.stringContaining('docker login'),
    });
  });

  it('the engine push with wrong credentials fails as REGISTRY_AUTH_FAILED, and no tag appears', async () => {
    const { stdout: id } = await execa('docker', ['images', '-q', '127.0.0.1:5000/library/nginx:stable']);
    expect(id.trim(), 'npm run setup pushes the nginx stand-in').not.toBe('');
    const repository = `${registry.host}/denied`;
    await execa('docker', ['tag', id.trim(), `${repository}:t1`]);
    try {
      const docker = await connectDocker(process.env);
      const wrong = { username: USER, password: 'wrong' };
      const signal = new AbortController().signal;
      await expect(pushTag(docker, repository, 't1', registry.host, wrong, signal)).rejects.toMatchObject({
        code: 'REGISTRY_AUTH_FAILED',
      });
      const client = new RegistryClient(registry.host, { username: USER, password: PASSWORD });
      expect(await client.tagDigest('denied', 't1')).toBeNull();
    } finally {
      await execa('docker', ['rmi', `${repository}:t1`]);
    }
  });
});

describe('unreachable services', () => {
  it('a registry nobody listens on is REGISTRY_UNREACHABLE', async () => {
    const port = await freePort();
    const ctx = testContext({
      siteDir: '/nonexistent',
      configYaml: `hugo: { version: 0.111.3 }\nimage: { repository: 127.0.0.1:${port}/site }\nregistry: { credentials: none }\n`,
    });
    await expect(push.preflight?.(ctx)).rejects.toMatchObject({
      code: 'REGISTRY_UNREACHABLE',
      message: expect.stringContaining('ECONNREFUSED'),
    });
  });

  it('a Docker engine that is not running is DOCKER_UNAVAILABLE', async () => {
    const ctx = testContext({
      siteDir: '/nonexistent',
      configYaml: 'hugo: { version: 0.111.3 }\nimage: { repository: 127.0.0.1:5000/site, builder: docker }\n',
      env: { DOCKER_HOST: 'unix:///tmp/sitepipe-no-such.sock' },
    });
    await expect(image.preflight?.(ctx)).rejects.toMatchObject({
      code: 'DOCKER_UNAVAILABLE',
      hint: expect.stringContaining('dockerd'),
    });
  });
});

import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveCredentials } from '../../pipeline/clients/credentials.js';
import { parseConfig } from '../../pipeline/config.js';

const config = (extra = '') =>
  parseConfig(`hugo: { version: 0.111.3 }\nimage: { repository: gcr.io/p/site }\n${extra}`, 'test');

describe('registry credentials from the Docker config', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sitepipe-creds-'));
    // A credential helper speaking Docker's protocol: registry URL on stdin, JSON on stdout.
    await writeFile(
      join(dir, 'docker-credential-fakecloud'),
      [
        '#!/bin/sh',
        'read url',
        'case "$url" in',
        '  *gcr.io*) printf \'{"ServerURL":"%s","Username":"_dcgcloud_token","Secret":"ya29.helper-token"}\' "$url" ;;',
        '  *) echo "credentials not found in native keychain" >&2; exit 1 ;;',
        'esac',
      ].join('\n'),
    );
    await chmod(join(dir, 'docker-credential-fakecloud'), 0o755);
    await writeFile(
      join(dir, 'config.json'),
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: Buffer.from('hubuser:hubpass').toString('base64') },
          '127.0.0.1:5000': { auth: Buffer.from('local:pa:ss').toString('base64') },
        },
        credHelpers: { 'gcr.io': 'fakecloud', 'europe-docker.pkg.dev': 'fakecloud' },
      }),
    );
    env = { DOCKER_CONFIG: dir, PATH: `${dir}:${process.env.PATH}` };
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('asks the credential helper named for the registry', async () => {
    expect(await resolveCredentials(config(), 'gcr.io', env)).toEqual({
      username: '_dcgcloud_token',
      password: 'ya29.helper-token',
    });
  });

  it('treats "not found" from a helper as anonymous', async () => {
    expect(await resolveCredentials(config(), 'europe-docker.pkg.dev', env)).toBeNull();
  });

  it('decodes inline auths, matching Docker Hub by its legacy key', async () => {
    expect(await resolveCredentials(config(), 'docker.io', env)).toEqual({
      username: 'hubuser',
      password: 'hubpass',
    });
    expect(await resolveCredentials(config(), '127.0.0.1:5000', env)).toEqual({
      username: 'local',
      password: 'pa:ss',
    });
  });

  it('is anonymous for registries it does not know, and with credentials: none', async () => {
    expect(await resolveCredentials(config(), 'quay.io', env)).toBeNull();
    expect(await resolveCredentials(config('registry: { credentials: none }'), 'gcr.io', env)).toBeNull();
  });

  it('reads env credentials, and says which variables are missing', async () => {
    const cfg = config('registry: { credentials: env }');
    const withVars = { SITEPIPE_REGISTRY_USERNAME: 'u', SITEPIPE_REGISTRY_PASSWORD: 'p' };
    expect(await resolveCredentials(cfg, 'gcr.io', withVars)).toEqual({ username: 'u', password: 'p' });
    await expect(resolveCredentials(cfg, 'gcr.io', {})).rejects.toMatchObject({
      code: 'CREDENTIALS_MISSING',
    });
  });

  it('reports a missing helper program clearly', async () => {
    await writeFile(join(dir, 'broken.json'), JSON.stringify({ credsStore: 'nosuchhelper' }));
    const cfg = config(`registry: { dockerConfig: ${join(dir, 'broken.json')} }`);
    await expect(resolveCredentials(cfg, 'gcr.io', env)).rejects.toMatchObject({
      code: 'CREDENTIAL_HELPER_FAILED',
      message: expect.stringContaining('docker-credential-nosuchhelper'),
    });
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../pipeline/clients/registry.js';
import { toSitepipeError } from '../../pipeline/errors.js';
import { Reporter } from '../../pipeline/output.js';
import { push } from '../../steps/push.js';
import { testContext } from '../helpers/context.js';
import { SETUP_REGISTRY } from '../helpers/registry.js';

const USER = 'ci';
const PASSWORD = 'pa"ss\\word-9';
const TOKEN = 'tok-0123456789abcdef';

/** A registry that refuses every credential and echoes the Authorization header in its error, as some do. */
async function echoingRegistry(scheme: 'basic' | 'bearer'): Promise<{ host: string; server: Server }> {
  const server = createServer((req, res) => {
    const host = req.headers.host ?? '';
    if (req.url?.startsWith('/token')) {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ token: TOKEN }));
      return;
    }
    const auth = req.headers.authorization;
    res.statusCode = auth && scheme === 'bearer' ? 403 : 401;
    if (!auth) {
      res.setHeader(
        'WWW-Authenticate',
        scheme === 'basic' ? 'Basic realm="test"' : `Bearer realm="http://${host}/token",service="test"`,
      );
    }
    res.setHeader('Content-Type', 'application/json');
    res.end(
      JSON.stringify({ errors: [{ code: 'DENIED', message: `refused Authorization: ${auth ?? ''}` }] }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

let server: Server | undefined;
afterEach(() => {
  server?.close();
  server = undefined;
});

/** Runs push's preflight against the registry, as `sitepipe run --json` would report it. */
async function preflightOutput(host: string, credentials: string): Promise<{ output: string; hint: string }> {
  const chunks: string[] = [];
  const reporter = new Reporter('json', { write: (t: string) => chunks.push(t) });
  const ctx = {
    ...testContext({
      siteDir: '/nonexistent',
      configYaml: `hugo: { version: 0.111.3 }\nimage: { repository: ${host}/site }\nregistry: { credentials: ${credentials} }\n`,
      env: { SITEPIPE_REGISTRY_USERNAME: USER, SITEPIPE_REGISTRY_PASSWORD: PASSWORD },
    }),
    log: reporter.logFor('push'),
  };
  const error = toSitepipeError(
    await push.preflight?.(ctx).then(
      () => null,
      (e: unknown) => e,
    ),
  );
  reporter.error(error);
  return { output: chunks.join(''), hint: error.hint };
}

describe('credentials a registry echoes back are redacted', () => {
  it('a Bearer token in the error body', async () => {
    const registry = await echoingRegistry('bearer');
    server = registry.server;
    const { output } = await preflightOutput(registry.host, 'env');
    expect(output).toContain('DENIED');
    expect(output).toContain('Bearer ***');
    expect(output).not.toContain(TOKEN);
  });

  it('the base64 of Basic user:password, and the password with " and \\', async () => {
    const registry = await echoingRegistry('basic');
    server = registry.server;
    const { output, hint } = await preflightOutput(registry.host, 'env');
    const base64 = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
    expect(output).toContain('Basic ***');
    expect(output).not.toContain(base64);
    expect(output).not.toContain(JSON.stringify(PASSWORD).slice(1, -1));
    // credentials: env is what to check, not ~/.docker/config.json
    expect(hint).toContain('$SITEPIPE_REGISTRY_PASSWORD');
    expect(hint).not.toContain('.docker/config.json');
  });
});

describe('a base image that does not exist', () => {
  it('is IMAGE_NOT_FOUND naming the config keys that choose it', async () => {
    const client = new RegistryClient(SETUP_REGISTRY, null);
    const e = await client.resolveImage('library/no-such-base', 'stable').then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toMatchObject({ code: 'IMAGE_NOT_FOUND' });
    expect((e as { hint: string }).hint).toMatch(/image\.base\b.*image\.builderBase/);
  });
});

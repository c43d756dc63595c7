import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { connectDocker } from '../../pipeline/clients/docker.js';
import { parseBuildConfig } from '../../pipeline/cloudbuild/build-config.js';
import { type LocalBuildOptions, runLocalBuild } from '../../pipeline/cloudbuild/local.js';
import { collectLog, DEBIAN_IMAGE, DOCKER_BUILDER, ensureStandinBuilders } from '../helpers/cloudbuild.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

// `sitepipe cloudbuild local` on the real Docker engine, with small bash steps in the Debian
// stand-in and the standard Docker builder stand-in.

const docker = await connectDocker(process.env);
let source: string;
let registry: TestRegistry;

beforeAll(async () => {
  await ensureStandinBuilders();
  source = await mkdtemp(join(tmpdir(), 'sitepipe-cb-source-'));
  await mkdir(join(source, 'sub'));
  await writeFile(join(source, 'source-file.txt'), 'from the source\n');
  registry = await startRegistry();
});
afterAll(async () => {
  await rm(source, { recursive: true, force: true });
  await registry?.stop();
});

function bash(script: string, more: Record<string, unknown> = {}) {
  return { name: DEBIAN_IMAGE, entrypoint: 'bash', args: ['-c', script], ...more };
}

async function run(doc: Record<string, unknown>, opts: Partial<LocalBuildOptions> = {}) {
  const log = collectLog();
  const build = parseBuildConfig(stringify(doc), 'cloudbuild.yaml');
  const outcome = await runLocalBuild({
    build,
    configFile: 'cloudbuild.yaml',
    sourceDir: source,
    docker,
    log,
    builtIns: { PROJECT_ID: 'local-project', BUILD_ID: `test-${Date.now()}` },
    keepWorkspace: true,
    ...opts,
  }).then(
    (result) => ({ result, error: null }),
    (error: Error & { result?: Awaited<ReturnType<typeof runLocalBuild>> }) => ({
      result: error.result ?? null,
      error,
    }),
  );
  const workspace = outcome.result?.workspace ?? null;
  const read = (f: string) => readFile(join(workspace ?? '/nonexistent', f), 'utf8').then((t) => t.trim());
  const cleanup = () => (workspace ? rm(join(workspace, '..'), { recursive: true, force: true }) : undefined);
  return { ...outcome, log, read, cleanup };
}

describe('sitepipe cloudbuild local (real Docker engine)', () => {
  it('shares /workspace, applies substitutions, env and dir, mounts the engine socket, honours waitFor', async () => {
    const b = await run({
      steps: [
        bash(`sleep 1.5; echo "$$(date +%s%N) a" >> order.txt; echo '$_GREETING' > greeting.txt`, {
          id: 'a',
          waitFor: ['-'],
        }),
        bash('echo "$$(date +%s%N) b" >> order.txt', { id: 'b', waitFor: ['-'] }),
        bash(
          'echo "$$(date +%s%N) c" >> ../order.txt; pwd > ../cwd.txt; echo "$$FOO $$HOME" > ../env.txt; ' +
            'test -S /var/run/docker.sock && echo socket > ../sock.txt; cat /workspace/source-file.txt > ../copied.txt',
          { id: 'c', dir: 'sub', env: ['FOO=$PROJECT_ID'] },
        ),
      ],
      substitutions: { _GREETING: 'hello $PROJECT_ID' },
    });
    try {
      expect(b.error).toBeNull();
      expect(b.result?.status).toBe('SUCCESS');
      const order = (await b.read('order.txt')).split('\n').map((l) => l.split(' ')[1]);
      expect(order).toEqual(['b', 'a', 'c']);
      // A value goes in as it is: it is not scanned for substitutions again.
      expect(await b.read('greeting.txt')).toBe('hello $PROJECT_ID');
      expect(await b.read('cwd.txt')).toBe('/workspace/sub');
      expect(await b.read('env.txt')).toBe('local-project /builder/home');
      expect(await b.read('sock.txt')).toBe('socket');
      expect(await b.read('copied.txt')).toBe('from the source');
      expect(b.log.text()).toContain(`Step #0 - "a": Already have image: ${DEBIAN_IMAGE}`);
      expect(b.log.lines.at(-1)).toBe('DONE');
    } finally {
      await b.cleanup();
    }
  });

  it('a failing step fails the build and cancels what waits for it; allowed failures do not', async () => {
    const b = await run({
      steps: [
        bash('exit 3', { id: 'allowed-code', allowExitCodes: [3] }),
        bash('exit 1', { id: 'allowed', allowFailure: true }),
        bash('echo boom >&2; exit 7', { id: 'fails' }),
        bash('touch never.txt', { id: 'after' }),
      ],
    });
    try {
      expect(b.error).toMatchObject({
        code: 'CLOUDBUILD_FAILED',
        message: 'build step Step #2 - "fails" failed',
      });
      expect(b.result?.steps.map((s) => [s.id, s.status, s.exitCode, s.allowedFailure])).toEqual([
        ['allowed-code', 'FAILURE', 3, true],
        ['allowed', 'FAILURE', 1, true],
        ['fails', 'FAILURE', 7, false],
        ['after', 'CANCELLED', null, false],
      ]);
      expect(b.log.text()).toContain('Step #2 - "fails": boom');
    } finally {
      await b.cleanup();
    }
  });

  it('stops a step at its timeout, and the whole build at the build timeout', async () => {
    const step = await run({ steps: [bash('sleep 60', { id: 'slow', timeout: '2s' })] });
    const whole = await run({ timeout: '3s', steps: [bash('sleep 60', { id: 'slow' })] });
    try {
      expect(step.result?.steps[0]?.status).toBe('TIMEOUT');
      expect(step.error).toMatchObject({ code: 'CLOUDBUILD_FAILED' });
      expect(whole.result?.status).toBe('TIMEOUT');
      expect(whole.error).toMatchObject({ code: 'CLOUDBUILD_TIMEOUT' });
      expect(whole.result?.durationMs).toBeLessThan(30_000);
    } finally {
      await step.cleanup();
      await whole.cleanup();
    }
  });

  it('hands secretEnv values to the step and never prints them', async () => {
    const secret = `s3cret-${Date.now()}`;
    const doc = {
      steps: [bash('echo "token: $$TOKEN"; echo -n "$$TOKEN" > token.txt', { secretEnv: ['TOKEN'] })],
      availableSecrets: {
        secretManager: [{ versionName: 'projects/$PROJECT_ID/secrets/token/versions/latest', env: 'TOKEN' }],
      },
    };
    const b = await run(doc, { secrets: { TOKEN: secret } });
    try {
      expect(b.error).toBeNull();
      expect(await b.read('token.txt')).toBe(secret);
      expect(b.log.text()).toContain('token: ***');
      expect(b.log.text()).not.toContain(secret);
    } finally {
      await b.cleanup();
    }
    const missing = await run(doc);
    expect(missing.error).toMatchObject({
      code: 'CLOUDBUILD_CONFIG_INVALID',
      details: [expect.stringContaining('no local value for secret TOKEN')],
    });
  });

  it('runs scripts and shares named volumes between steps', async () => {
    const b = await run({
      steps: [
        {
          name: DEBIAN_IMAGE,
          script: '#!/bin/bash\necho "from $0" > /cache/note',
          volumes: [{ name: 'vol', path: '/cache' }],
        },
        { name: DEBIAN_IMAGE, script: 'cp /cache/note note.txt', volumes: [{ name: 'vol', path: '/cache' }] },
      ],
    });
    try {
      expect(b.error).toBeNull();
      expect(await b.read('note.txt')).toBe('from /builder/home/.sitepipe-scripts/step-0');
    } finally {
      await b.cleanup();
    }
  });

  it('checks the images after the steps and pushes them with the Docker builder’s tags', async () => {
    const image = `${registry.host}/cb-local/app:$_TAG`;
    const b = await run({
      steps: [{ name: DOCKER_BUILDER, args: ['tag', DEBIAN_IMAGE, image] }],
      substitutions: { _TAG: 'v1' },
      images: [image],
    });
    try {
      expect(b.error).toBeNull();
      const pushed = `${registry.host}/cb-local/app:v1`;
      expect(b.result?.images).toEqual([
        { name: pushed, digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) },
      ]);
      const res = await fetch(`http://${registry.host}/v2/cb-local/app/manifests/v1`, {
        method: 'HEAD',
        headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
      });
      expect(res.headers.get('docker-content-digest')).toBe(b.result?.images[0]?.digest);
    } finally {
      await b.cleanup();
      await docker
        .getImage(`${registry.host}/cb-local/app:v1`)
        .remove()
        .catch(() => undefined);
    }
    const missing = await run({ steps: [bash('true')], images: [`${registry.host}/cb-local/never:built`] });
    expect(missing.error?.message).toMatch(
      /failed to find one or more images after execution of build steps/,
    );
    await missing.cleanup();
  });

  it('pulls an image the engine does not have, and fails the step when it cannot', async () => {
    const b = await run({ steps: [{ name: '127.0.0.1:5000/sitepipe-test/no-such-builder:1', args: ['x'] }] });
    try {
      expect(b.result?.steps[0]?.status).toBe('FAILURE');
      expect(b.log.text()).toMatch(/Pulling image: 127\.0\.0\.1:5000\/sitepipe-test\/no-such-builder:1/);
      expect(b.log.text()).toMatch(/cannot pull build step image/);
    } finally {
      await b.cleanup();
    }
  });

  it('rejects what Cloud Build rejects before running anything', async () => {
    const b = await run({
      steps: [
        bash('true', { id: 'a', waitFor: ['later'], volumes: [{ name: 'once', path: '/x' }] }),
        bash('true', { id: 'later', env: ['NOEQUALS'] }),
        bash('echo $HOME'),
      ],
    });
    expect(b.error).toMatchObject({ code: 'CLOUDBUILD_CONFIG_INVALID' });
    expect((b.error as unknown as { details: string[] }).details).toEqual([
      expect.stringContaining('waits for "later", which is not an earlier step'),
      expect.stringContaining('env "NOEQUALS" is not KEY=VALUE'),
      expect.stringContaining('volume "once" is used by only one step'),
    ]);
    const subst = await run({ steps: [bash('echo $HOME')] });
    expect(subst.error).toMatchObject({ code: 'SUBSTITUTION_INVALID' });
  });
});

import { randomBytes } from 'node:crypto';
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBuilder, pushBuilder } from '../../pipeline/commands/builder.js';
import { packageRoot } from '../../pipeline/paths.js';
import { ensureStandinBuilders } from '../helpers/cloudbuild.js';
import { expectCode } from '../helpers/expect-code.js';
import { SETUP_REGISTRY } from '../helpers/registry.js';
import { tempDir } from '../helpers/temp.js';

const ROOT = packageRoot();
const VERSION = JSON.parse(
  await import('node:fs').then((fs) => fs.readFileSync(join(ROOT, 'package.json'), 'utf8')),
).version as string;
const ID = randomBytes(4).toString('hex');
const REF = `${SETUP_REGISTRY}/builder-${ID}/sitepipe:${VERSION}`;
/** A base with Node and the builder's Debian packages but no sitepipe: the build reaches no package mirror. */
const BASE = `sitepipe-test-builder-base:${ID}`;
const STANDIN = `gcr.io/sitepipe-local/sitepipe:${VERSION}`;

const docker = (...args: string[]) => execa('docker', args, { env: { DOCKER_BUILDKIT: '0' } });
const inImage = (...args: string[]) => docker('run', '--rm', '--network', 'host', ...args);

beforeAll(async () => {
  if ((await docker('image', 'inspect', STANDIN).catch(() => null)) === null) await ensureStandinBuilders();
  const dockerfile = `FROM ${STANDIN}\nRUN rm -rf /opt/sitepipe /usr/local/bin/sitepipe\nENTRYPOINT []\n`;
  await execa('docker', ['build', '--network', 'host', '-q', '-t', BASE, '-'], {
    input: dockerfile,
    env: { DOCKER_BUILDKIT: '0' },
  });
});

afterAll(async () => {
  await docker('image', 'rm', '-f', REF, BASE).catch(() => undefined);
});

/**
 * sitepipe as `npm install` leaves it in a project: the `npm pack` tarball's contents in
 * node_modules/sitepipe (no package-lock.json, no node_modules of its own), its dependencies
 * beside it (this checkout's, linked).
 */
async function installedPackage(): Promise<string> {
  const project = await tempDir('sitepipe-builder-project-');
  const modules = join(project, 'node_modules');
  await mkdir(join(modules, 'sitepipe'), { recursive: true });
  const { stdout } = await execa(
    'npm',
    ['pack', '--ignore-scripts', '--json', '--pack-destination', project],
    {
      cwd: ROOT,
    },
  );
  const [{ filename }] = JSON.parse(stdout) as Array<{ filename: string }>;
  await execa('tar', [
    '-xzf',
    join(project, filename),
    '-C',
    join(modules, 'sitepipe'),
    '--strip-components=1',
  ]);
  for (const entry of await readdir(join(ROOT, 'node_modules'))) {
    if (!entry.startsWith('.')) await symlink(join(ROOT, 'node_modules', entry), join(modules, entry));
  }
  return join(modules, 'sitepipe');
}

describe('sitepipe builder build and push', () => {
  it('builds the builder from the npm package, runs it, and pushes it', async () => {
    const installed = await installedPackage();
    expect(await readdir(installed)).not.toContain('package-lock.json');
    const built = await buildBuilder({
      ref: REF,
      config: 'unused.yaml',
      root: installed,
      deps: 'copy',
      nodeImage: BASE,
    });
    expect(built.ref).toBe(REF);

    expect((await inImage(REF, '--version')).stdout.trim()).toBe(VERSION);
    expect((await inImage(REF, 'steps')).stdout).toMatch(/^render\s/m);
    // The copied tree resolves as installed, native modules included (serve's SQLite).
    const sqlite = "require('better-sqlite3')(':memory:').prepare('select 1 as one').get().one";
    expect(
      (await inImage('--workdir', '/opt/sitepipe', '--entrypoint', 'node', REF, '-p', sqlite)).stdout,
    ).toBe('1');
    const labels = JSON.parse(
      (await docker('image', 'inspect', '--format', '{{json .Config.Labels}}', REF)).stdout,
    );
    expect(labels).toMatchObject({ 'org.opencontainers.image.version': VERSION });

    const dir = await tempDir();
    const config = join(dir, 'sitepipe.yaml');
    await writeFile(
      config,
      'hugo: { version: 0.111.3 }\nimage: { repository: 127.0.0.1:5000/x }\nregistry: { credentials: none }\n',
    );
    const pushed = await pushBuilder({ ref: REF, config });
    const res = await fetch(`http://${SETUP_REGISTRY}/v2/builder-${ID}/sitepipe/manifests/${VERSION}`, {
      method: 'HEAD',
      headers: {
        accept:
          'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json',
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-content-digest')).toBe(pushed.digest);
  });

  it('refuses to push an image the engine does not have', async () => {
    const dir = await tempDir();
    const config = join(dir, 'sitepipe.yaml');
    await writeFile(
      config,
      'hugo: { version: 0.111.3 }\nimage: { repository: 127.0.0.1:5000/x }\nregistry: { credentials: none }\n',
    );
    const e = await expectCode(
      pushBuilder({ ref: `${SETUP_REGISTRY}/builder-${ID}/none:1`, config }),
      'BUILDER_IMAGE_MISSING',
    );
    expect(e.hint).toContain('sitepipe builder build');
  });
});

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDocker } from '../../pipeline/clients/docker.js';
import { packageRoot } from '../../pipeline/paths.js';
import { SETUP_REGISTRY } from '../helpers/registry.js';
import { exampleRepo, type SiteRepo } from '../helpers/site-repo.js';

/**
 * The package as a user gets it: `npm pack` of the built tree (`npm test` builds first), then
 * `npm install <tarball>` into an empty directory, its dependencies from the npm registry.
 * The site is a copy of example/ without a sitepipe.yaml; the bases are the registry's stand-ins.
 */
const BASES = [
  '--base',
  `${SETUP_REGISTRY}/library/nginx:stable`,
  '--builder-base',
  `${SETUP_REGISTRY}/library/debian:bookworm-slim`,
];

describe('the npm package, installed into an empty directory', () => {
  let work: string;
  let files: string[];
  let bin: string;
  const sites: SiteRepo[] = [];
  const id = randomBytes(4).toString('hex');

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'sitepipe-package-'));
    // --ignore-scripts: the tree is built already; prepack would build it again.
    const { stdout } = await execa(
      'npm',
      ['pack', '--json', '--ignore-scripts', '--pack-destination', work],
      {
        cwd: packageRoot(),
      },
    );
    const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    files = (packed?.files ?? []).map((f) => f.path);
    const app = join(work, 'app');
    await mkdir(app);
    await writeFile(join(app, 'package.json'), '{ "private": true }\n');
    await execa(
      'npm',
      ['install', '--no-audit', '--no-fund', '--prefer-offline', join(work, packed?.filename ?? '')],
      {
        cwd: app,
      },
    );
    bin = join(app, 'node_modules', '.bin', 'sitepipe');
  });
  afterAll(async () => {
    const docker = await connectDocker(process.env);
    const images = await docker.listImages({
      filters: { reference: [`${SETUP_REGISTRY}/package-*-${id}/website`] },
    });
    for (const image of images)
      await docker
        .getImage(image.Id)
        .remove({ force: true })
        .catch(() => undefined);
    await Promise.all(sites.map((s) => s.remove()));
    await rm(work, { recursive: true, force: true });
  });

  const sitepipe = (args: string[], cwd: string) =>
    execa(bin, args, { cwd, reject: false, env: { CI: 'true' }, all: true });

  it('ships what its hints and docs name, and no checkout-only files', () => {
    for (const f of [
      'LICENSE',
      'README.md',
      'Dockerfile.template',
      'Dockerfile.builder',
      'docs/kubernetes.md',
      'example/sitepipe.yaml',
      'example/hugo.toml',
      'dist/pipeline/cli.js',
      'dist/schema/sitepipe.schema.json',
    ]) {
      expect(files, f).toContain(f);
    }
    expect(
      files.filter((f) => /^(scripts|test|bench|example\/(public|resources|\.sitepipe))\//.test(f)),
    ).toEqual([]);
  });

  it('ships the Apache License 2.0 its package.json names', async () => {
    const text = await readFile(join(packageRoot(), 'LICENSE'), 'utf8');
    expect(text).toMatch(/Apache License\s+Version 2\.0, January 2004/);
    expect(text).toContain('END OF TERMS AND CONDITIONS');
    const pkg = JSON.parse(await readFile(join(packageRoot(), 'package.json'), 'utf8'));
    expect(pkg.license).toBe('Apache-2.0');
  });

  it.each(['oci', 'docker'])(
    'runs `sitepipe init` and `sitepipe run` on a copy of a Hugo site (%s builder)',
    async (builder) => {
      const site = await exampleRepo();
      sites.push(site);
      await rm(join(site.dir, 'sitepipe.yaml'));
      await rm(join(site.dir, '.gitignore'));
      await site.git('add', '-A');
      await site.git('commit', '-q', '-m', 'a Hugo site without sitepipe');

      const repository = `${SETUP_REGISTRY}/package-${builder}-${id}/website`;
      const init = await sitepipe(
        ['init', '--repository', repository, '--builder', builder, ...BASES],
        site.dir,
      );
      expect(init.exitCode, init.all).toBe(0);
      expect(init.stdout).toContain('wrote sitepipe.yaml, .gitignore (Hugo 0.111.3 from `hugo version`');
      const config = await readFile(join(site.dir, 'sitepipe.yaml'), 'utf8');
      const schema = /^# yaml-language-server: \$schema=(.+)$/m.exec(config)?.[1] ?? '';
      expect(schema).toMatch(/node_modules\/sitepipe\/dist\/schema\/sitepipe\.schema\.json$/);
      expect(existsSync(schema)).toBe(true);
      expect(await readFile(join(site.dir, '.gitignore'), 'utf8')).toBe('.sitepipe/\n');

      const again = await sitepipe(['init', '--repository', repository], site.dir);
      expect(again.exitCode).toBe(1);
      expect(again.stderr).toMatch(/error\[INIT_FILE_EXISTS\][\s\S]*hint: .*--force/);

      await site.git('add', '-A');
      await site.git('commit', '-q', '-m', 'sitepipe init');
      const run = await sitepipe(['run'], site.dir);
      expect(run.exitCode, run.all).toBe(0);
      expect(run.stdout).toMatch(new RegExp(`^pushed .*${repository}:master$`, 'm'));
      expect(run.stdout).toMatch(/digest: sha256:[0-9a-f]{64}/);
    },
  );
});

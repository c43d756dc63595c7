import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  dockerBuildArgs,
  dockerfileTemplate,
  makeContextDir,
  writeBuildContext,
} from '../../pipeline/builders/docker.js';
import { parseConfig } from '../../pipeline/config.js';
import { SITE_ROOT } from '../../pipeline/nginx.js';
import type { HugoInstall, PygmentsInstall } from '../../pipeline/records.js';

const config = parseConfig(
  'hugo: { version: 0.111.3 }\nimage: { repository: 127.0.0.1:5000/website, port: 8080 }\n',
  'test',
);
const hugo = { version: '0.111.3', path: '/usr/bin/hugo' } as HugoInstall;
const pygments = {
  enabled: true,
  version: '2.14.0',
  style: 'monokai',
  stylesheet: 'css/syntax.css',
  css: '.highlight { color: red }\n',
} as PygmentsInstall;

describe('the Docker build context', () => {
  let site: string;
  let context: string;
  beforeEach(async () => {
    site = await mkdtemp(join(tmpdir(), 'sitepipe-ctx-site-'));
    context = await mkdtemp(join(tmpdir(), 'sitepipe-ctx-out-'));
    await mkdir(join(site, 'static/images'), { recursive: true });
    await writeFile(join(site, 'hugo.toml'), "baseURL = 'https://example.com/blog/'\n");
    await writeFile(join(site, 'static/images/forest.png'), 'png');
    await symlink('forest.png', join(site, 'static/images/logo.png'));
    await symlink('static/images', join(site, 'pictures'));
    await writeFile(join(site, 'hugo-binary'), '#!/bin/sh\n');
  });
  afterEach(() => Promise.all([site, context].map((d) => rm(d, { recursive: true, force: true }))));

  const write = (basePath = '/blog/') =>
    writeBuildContext(context, {
      siteDir: site,
      stateDir: join(site, '.sitepipe'),
      hugoPath: join(site, 'hugo-binary'),
      port: 8080,
      basePath,
      dockerfile: 'FROM scratch\n',
      pygments,
      release: null,
    });

  it('holds exactly the site’s relative links, not host paths they were resolved to', async () => {
    await write();
    const logo = join(context, 'site/static/images/logo.png');
    expect((await lstat(logo)).isSymbolicLink()).toBe(true);
    expect(await readlink(logo)).toBe('forest.png');
    // A link at the top of the site is copied as a link too.
    expect(await readlink(join(context, 'site/pictures'))).toBe('static/images');
  });

  it('writes the server config for the base path', async () => {
    await write('/blog/');
    const conf = await readFile(join(context, 'nginx/default.conf'), 'utf8');
    expect(conf).toContain('error_page 404 /blog/404.html;');
  });

  it('carries the stylesheet the pygments step made, so both builders ship the same bytes', async () => {
    await write();
    expect(await readFile(join(context, 'pygments.css'), 'utf8')).toBe(pygments.css);
    expect(dockerBuildArgs(config, hugo, pygments, '/').SITEPIPE_PYGMENTS_STYLESHEET).toBe('css/syntax.css');
    const off = { ...pygments, enabled: false, css: null };
    expect(dockerBuildArgs(config, hugo, off, '/').SITEPIPE_PYGMENTS_STYLESHEET).toBe('');
  });

  it('is made in a temp dir named for this process, after those of dead runs are removed', async () => {
    const dead = await mkdtemp(join(tmpdir(), `sitepipe-context-${hostname()}-${spawnSync('true').pid}-`));
    const dir = await makeContextDir();
    try {
      expect(existsSync(dead)).toBe(false);
      expect(dirname(dir)).toBe(tmpdir());
      expect(basename(dir)).toMatch(
        new RegExp(`^sitepipe-context-${hostname()}-${process.pid}-[A-Za-z0-9]{6}$`),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the Docker build args', () => {
  it('name no HUGO_* variable (Hugo reads those as config), in the args or in Dockerfile.template', async () => {
    const args = dockerBuildArgs(config, hugo, pygments, '/blog/');
    expect(Object.keys(args).filter((k) => k.startsWith('HUGO_'))).toEqual([]);
    const declared = [...(await dockerfileTemplate()).matchAll(/^ARG\s+([A-Za-z_][A-Za-z0-9_]*)/gm)].map(
      (m) => m[1],
    );
    expect(declared.filter((name) => name?.startsWith('HUGO_'))).toEqual([]);
    // Every arg the template declares gets a value, and every value is declared.
    expect([...new Set(declared)].sort()).toEqual(Object.keys(args).sort());
  });

  it('pass the port, the web root and the base path; a baseURL only when the config sets one', () => {
    const args = dockerBuildArgs(config, hugo, pygments, '/blog/');
    expect(args.SITEPIPE_PORT).toBe('8080');
    expect(args.SITEPIPE_SITE_ROOT).toBe(SITE_ROOT);
    expect(args.SITEPIPE_BASE_PATH).toBe('/blog/');
    expect(args.SITEPIPE_BASEURL).toBe('');
    const set = parseConfig(
      'site: { baseURL: "https://x.test/docs/" }\nhugo: { version: 0.111.3 }\nimage: { repository: 127.0.0.1:5000/website }\n',
      'test',
    );
    expect(dockerBuildArgs(set, hugo, pygments, '/docs/').SITEPIPE_BASEURL).toBe('https://x.test/docs/');
  });
});

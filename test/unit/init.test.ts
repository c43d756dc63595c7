import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { findHugoConfig, type InitOptions, initSite, schemaReference } from '../../pipeline/commands/init.js';
import { parseConfig } from '../../pipeline/config.js';
import { CONFIG_SCHEMA_FILE, configJsonSchema, configSchemaPath } from '../../pipeline/config-json-schema.js';
import { packageRoot } from '../../pipeline/paths.js';
import { expectCode, problem } from '../helpers/expect-code.js';
import { EXAMPLE_DIR } from '../helpers/site-repo.js';

/** No hugo on PATH, no HUGO_VERSION: what init finds is only what the site holds. */
const NO_HUGO = { ...process.env, PATH: '/nonexistent', HUGO_VERSION: '' };

describe('sitepipe init', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sitepipe-init-'));
    await writeFile(join(dir, 'hugo.toml'), "baseURL = 'https://www.example.com/'\n");
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const init = (opts: Partial<InitOptions> = {}) =>
    initSite({ dir, repository: 'gcr.io/p/website', hugoVersion: '0.111.3', ...opts });
  const written = async () =>
    parseConfig(await readFile(join(dir, 'sitepipe.yaml'), 'utf8'), 'sitepipe.yaml');

  it('writes a config that loads, with a $schema line for editors, and ignores .sitepipe/', async () => {
    const result = await init({ builder: 'docker', base: '127.0.0.1:5000/library/nginx:stable' });
    expect(result.written).toEqual(['sitepipe.yaml', '.gitignore']);
    const text = await readFile(join(dir, 'sitepipe.yaml'), 'utf8');
    expect(text.split('\n')[0]).toBe(`# yaml-language-server: $schema=${configSchemaPath()}`);
    const config = await written();
    expect(config.hugo.version).toBe('0.111.3');
    expect(config.image).toMatchObject({ repository: 'gcr.io/p/website', builder: 'docker' });
    expect(config.image.base).toBe('127.0.0.1:5000/library/nginx:stable');
    expect(await readFile(join(dir, '.gitignore'), 'utf8')).toBe('.sitepipe/\n');
  });

  it('adds .sitepipe/ to an existing .gitignore once', async () => {
    await writeFile(join(dir, '.gitignore'), 'public/');
    await init();
    await init({ force: true });
    expect(await readFile(join(dir, '.gitignore'), 'utf8')).toBe('public/\n.sitepipe/\n');
  });

  it('refuses to overwrite sitepipe.yaml or cloudbuild.yaml without --force', async () => {
    await init();
    const err = await expectCode(init({ repository: 'gcr.io/p/other' }), 'INIT_FILE_EXISTS');
    expect(err.message).toContain('sitepipe.yaml');
    expect(err.hint).toMatch(/--force/);
    expect((await written()).image.repository).toBe('gcr.io/p/website');
    await writeFile(join(dir, 'cloudbuild.yaml'), 'steps: []\n');
    await expectCode(init({ force: false, cloudbuild: true }), 'INIT_FILE_EXISTS');
    await init({ force: true, repository: 'gcr.io/p/other' });
    expect((await written()).image.repository).toBe('gcr.io/p/other');
  });

  it('needs --repository, and a valid one (usage errors, exit 2)', async () => {
    const missing = await expectCode(init({ repository: undefined }), 'USAGE');
    expect(missing.message).toMatch(/--repository/);
    expect(missing.hint).toMatch(/sitepipe init --repository gcr\.io/);
    await expectCode(init({ repository: 'Not An Image' }), 'USAGE');
  });

  it('finds the Hugo config in any of the places Hugo reads', async () => {
    expect(findHugoConfig(dir)).toBe('hugo.toml');
    await rm(join(dir, 'hugo.toml'));
    await writeFile(join(dir, 'config.yaml'), 'title: x\n');
    expect(findHugoConfig(dir)).toBe('config.yaml');
    await rm(join(dir, 'config.yaml'));
    await mkdir(join(dir, 'config', '_default'), { recursive: true });
    expect(findHugoConfig(dir)).toBe('config/_default/');
    await rm(join(dir, 'config'), { recursive: true });
    expect(problem(() => findHugoConfig(dir)).code).toBe('SITE_NOT_HUGO');
    await expectCode(init(), 'SITE_NOT_HUGO');
  });

  it('takes the Hugo version from hugo on PATH, unless the site pins one', async () => {
    const result = await init({ hugoVersion: undefined, env: { ...process.env, HUGO_VERSION: '' } });
    expect(result.versionFrom).toBe('`hugo version`');
    expect(result.hugoVersion).toMatch(/^\d+\.\d+\.\d+$/);
    await writeFile(join(dir, '.hugo-version'), '0.118.2\n');
    const pinned = await init({
      hugoVersion: undefined,
      force: true,
      env: { ...process.env, HUGO_VERSION: '' },
    });
    expect(pinned).toMatchObject({ hugoVersion: '0.118.2', versionFrom: '.hugo-version' });
  });

  it('else from .hugo-version, netlify.toml or $HUGO_VERSION; else refuses with a hint to pass --hugo-version', async () => {
    const detect = () => init({ hugoVersion: undefined, env: NO_HUGO, force: true });
    const err = await expectCode(detect(), 'HUGO_VERSION_UNKNOWN');
    expect(err.hint).toMatch(/--hugo-version 0\.111\.3/);
    expect(
      await initSite({ dir, repository: 'r.test/w', env: { ...NO_HUGO, HUGO_VERSION: 'v0.120.1' } }),
    ).toMatchObject({ hugoVersion: '0.120.1', versionFrom: 'HUGO_VERSION' });
    await writeFile(join(dir, 'netlify.toml'), '[build.environment]\n  HUGO_VERSION = "0.119.0"\n');
    expect(await detect()).toMatchObject({ hugoVersion: '0.119.0', versionFrom: 'netlify.toml' });
    await writeFile(join(dir, '.hugo-version'), 'v0.118.2\n');
    expect(await detect()).toMatchObject({ hugoVersion: '0.118.2', versionFrom: '.hugo-version' });
    expect((await written()).hugo.version).toBe('0.118.2');
  });

  it('adds a deploy section for the hosts given, or refuses when the baseURL names no real host', async () => {
    await init({ deploy: ['www.example.net', 'example.net'] });
    expect((await written()).deploy?.hosts).toEqual(['www.example.net', 'example.net']);
    const err = await expectCode(init({ deploy: true, force: true }), 'USAGE');
    expect(err.hint).toMatch(/--deploy www\.example\.com/);
  });

  it('takes the deploy host from the site’s baseURL', async () => {
    await writeFile(join(dir, 'hugo.toml'), "baseURL = 'https://blog.sitepipe.test/'\n");
    await init({ deploy: true });
    expect((await written()).deploy?.hosts).toEqual(['blog.sitepipe.test']);
  });

  it('writes cloudbuild.yaml with the generator', async () => {
    const result = await init({ cloudbuild: true });
    expect(result.written).toContain('cloudbuild.yaml');
    const build = parse(await readFile(join(dir, 'cloudbuild.yaml'), 'utf8'));
    expect(build.steps.some((s: { args?: string[] }) => s.args?.join(' ').startsWith('run render'))).toBe(
      true,
    );
  });
});

describe('the config JSON Schema', () => {
  const schema = JSON.parse(configJsonSchema());
  const ajv = new Ajv2020({ strict: false, validateFormats: false });
  const validate = ajv.compile(schema);

  it('is what the build ships in the package, from the zod schema', () => {
    expect(CONFIG_SCHEMA_FILE).toBe(join('dist', 'schema', 'sitepipe.schema.json'));
    expect(schema.properties.hugo.properties.args.type).toBe('array');
    expect(schema.required).toEqual(['hugo', 'image']);
  });

  it('accepts the example’s config and refuses an unknown key', async () => {
    const example = parse(await readFile(join(EXAMPLE_DIR, 'sitepipe.yaml'), 'utf8'));
    expect(validate(example), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...example, hugo: { ...example.hugo, argz: [] } })).toBe(false);
  });

  it('is referred to relative to a site that has sitepipe under it (node_modules), else by absolute path', () => {
    expect(schemaReference(packageRoot())).toBe('dist/schema/sitepipe.schema.json');
    expect(schemaReference('/elsewhere')).toBe(configSchemaPath());
  });
});

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../pipeline/config.js';
import type { HugoInstall, PygmentsInstall, SourceInfo } from '../../pipeline/records.js';
import { render } from '../../steps/render.js';
import { testContext } from '../helpers/context.js';
import { expectCode } from '../helpers/expect-code.js';
import { tempDir } from '../helpers/temp.js';

const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const hugo: HugoInstall = { path: '/usr/bin/hugo', version: '0.111.3', extended: true, origin: 'path' };
const source: SourceInfo = {
  commit: COMMIT,
  shortSha: COMMIT.slice(0, 12),
  branch: 'main',
  commitTime: '2024-07-01T18:00:00.000Z',
  dirty: false,
  sourceUrl: null,
};
const pygments: PygmentsInstall = {
  enabled: false,
  path: null,
  version: null,
  style: 'monokai',
  stylesheet: null,
  css: null,
};

/** A one-page Hugo site whose home page prints $SITEPIPE_REGISTRY_PASSWORD (getenv allowed). */
async function tinySite(hugoToml: string, yaml = ''): Promise<ReturnType<typeof testContext>> {
  const root = await tempDir('sitepipe-test-render-');
  const site = join(root, 'site');
  await mkdir(join(site, 'layouts'), { recursive: true });
  await writeFile(
    join(site, 'hugo.toml'),
    `baseURL = "https://example.com/"\ntitle = "t"\n${hugoToml}[security.funcs]\ngetenv = [".*"]\n`,
  );
  await writeFile(
    join(site, 'layouts', 'index.html'),
    'password={{ getenv "SITEPIPE_REGISTRY_PASSWORD" }}\n',
  );
  return testContext({
    siteDir: site,
    stateDir: join(root, 'state'),
    config: parseConfig(`hugo: { version: 0.111.3 }\nimage: { repository: 127.0.0.1:5000/w }\n${yaml}`, 'f'),
  });
}

const run = (ctx: ReturnType<typeof testContext>) =>
  render.run(ctx, { hugo }, { source: Promise.resolve(source), pygments: Promise.resolve(pygments) });

describe('render (real hugo)', () => {
  it('refuses a site without sitemap.xml while smoke is on, before anything is uploaded', async () => {
    const ctx = await tinySite('disableKinds = ["sitemap"]\n');
    const e = await expectCode(run(ctx), 'SITEMAP_MISSING');
    expect(e.hint).toContain('disableKinds');
    expect(e.hint).toContain('smoke.enabled: false');
  });

  it('renders a site without sitemap.xml when smoke is off', async () => {
    const ctx = await tinySite('disableKinds = ["sitemap"]\n', 'smoke: { enabled: false }\n');
    await expect(run(ctx)).resolves.toMatchObject({ commit: COMMIT });
  });

  it('runs Hugo without the registry password in its environment', async () => {
    const ctx = await tinySite('');
    process.env.SITEPIPE_REGISTRY_PASSWORD = 'leaked-password-123';
    try {
      const result = await run(ctx);
      const home = await readFile(join(result.outputDir, 'index.html'), 'utf8');
      expect(home).toContain('password=');
      expect(home).not.toContain('leaked-password-123');
    } finally {
      delete process.env.SITEPIPE_REGISTRY_PASSWORD;
    }
  });
});

import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Outputs } from '../../pipeline/records.js';
import { linkImagesUnder, setHugoBaseURL } from '../helpers/blog-site.js';
import { get, type Served, serveOnLoopback } from '../helpers/nginx-container.js';
import { SETUP_REGISTRY } from '../helpers/registry.js';
import { runSteps } from '../helpers/run.js';
import { exampleConfig, exampleRepo, type SiteRepo } from '../helpers/site-repo.js';

/** Everything up to smoke: what must pass before anything is pushed. */
const THROUGH_SMOKE = ['source', 'tag', 'hugo', 'pygments', 'render', 'image', 'smoke'];

/** English and French; Hugo writes a sitemap index naming /blog/en/sitemap.xml and /blog/fr/sitemap.xml. */
const MULTILINGUAL = `defaultContentLanguage = 'en'
[languages]
  [languages.en]
    weight = 1
    languageName = 'English'
  [languages.fr]
    weight = 2
    languageName = 'Français'

`;

async function site(opts: {
  baseURL: string;
  basePath: string;
  builder: string;
  override?: string;
  multilingual?: boolean;
}): Promise<SiteRepo> {
  const repository = `${SETUP_REGISTRY}/base-path-${randomBytes(4).toString('hex')}/website`;
  const config = (await exampleConfig(repository, { image: [`builder: ${opts.builder}`] })).replace(
    /^site:\n {2}dir: \.\n/m,
    (section) => (opts.override ? `${section}  baseURL: ${opts.override}\n` : section),
  );
  const repo = await exampleRepo({ configYaml: config });
  await setHugoBaseURL(repo.dir, opts.baseURL, opts.multilingual ? MULTILINGUAL : '');
  await linkImagesUnder(repo.dir, opts.basePath);
  if (opts.multilingual) {
    await writeFile(join(repo.dir, 'content/_index.fr.md'), '---\ntitle: "Accueil"\n---\nBienvenue.\n');
    await writeFile(join(repo.dir, 'content/about.fr.md'), '---\ntitle: "À propos"\n---\nBonjour.\n');
  }
  await repo.git('add', '-A');
  await repo.git('commit', '-q', '-m', `the site under ${opts.basePath}`);
  return repo;
}

const dirs = async () => ({
  stateDir: await mkdtemp(join(tmpdir(), 'sitepipe-state-')),
  cacheDir: await mkdtemp(join(tmpdir(), 'sitepipe-cache-')),
});

describe.each(['oci', 'docker'])(
  'a site under a base path, %s builder, through smoke (real hugo, docker, registry)',
  (builder) => {
    describe('multilingual, with a sitemap index, baseURL https://www.example.com/blog/ in hugo.toml', () => {
      let repo: SiteRepo;
      let outputs: Partial<Outputs>;
      let server: Served;
      beforeAll(async () => {
        repo = await site({
          baseURL: 'https://www.example.com/blog/',
          basePath: '/blog/',
          builder,
          multilingual: true,
        });
        ({ outputs } = await runSteps({ config: repo.config, only: THROUGH_SMOKE, ...(await dirs()) }));
        server = await serveOnLoopback(outputs.image?.localRef as string);
      });
      afterAll(async () => {
        await server?.stop();
        await repo?.remove();
      });

      it('passes smoke: every page of both languages’ sitemaps answers 200 under /blog/', () => {
        expect(outputs.render?.basePath).toBe('/blog/');
        const checked = outputs.smoke?.checked ?? [];
        expect(checked).toContain('/blog/');
        expect(checked).toContain('/blog/about/');
        expect(checked).toContain('/blog/fr/');
        expect(checked).toContain('/blog/fr/about/');
        expect(checked.filter((p) => !p.startsWith('/blog/'))).toEqual([]);
      });

      it('serves the sitemap index and each language’s sitemap where the index says', async () => {
        const index = (await get(`${server.base}/blog/sitemap.xml`)).body.toString();
        expect(index).toContain('<sitemapindex');
        expect(index).toContain('https://www.example.com/blog/fr/sitemap.xml');
        expect((await get(`${server.base}/blog/en/sitemap.xml`)).status).toBe(200);
        expect((await get(`${server.base}/blog/fr/sitemap.xml`)).status).toBe(200);
      });

      it('answers / with a redirect to /blog/, and a missing page with the site’s 404 page', async () => {
        const root = await get(`${server.base}/`);
        expect(root.status).toBe(302);
        expect(root.headers.location).toBe('/blog/');
        const missing = await get(`${server.base}/blog/no-such-page/`);
        expect(missing.status).toBe(404);
        expect(missing.body.toString()).toContain('Page not found');
      });
    });

    describe('site.baseURL https://www.example.com/docs/ in sitepipe.yaml over the site’s own https://www.example.com/', () => {
      let repo: SiteRepo;
      let outputs: Partial<Outputs>;
      beforeAll(async () => {
        repo = await site({
          baseURL: 'https://www.example.com/',
          basePath: '/docs/',
          builder,
          override: 'https://www.example.com/docs/',
        });
        ({ outputs } = await runSteps({ config: repo.config, only: THROUGH_SMOKE, ...(await dirs()) }));
      });
      afterAll(() => repo?.remove());

      it('passes smoke with every page under /docs/', () => {
        expect(outputs.render?.basePath).toBe('/docs/');
        expect(outputs.smoke?.pages).toBeGreaterThan(10);
        expect(outputs.smoke?.checked).toContain('/docs/posts/hello-sitepipe/');
        expect((outputs.smoke?.checked ?? []).filter((p) => !p.startsWith('/docs/'))).toEqual([]);
      });
    });
  },
);

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sitemapPaths } from '../../pipeline/sitemap.js';
import { expectCode } from '../helpers/expect-code.js';

const urlset = (...locs: string[]) =>
  `<?xml version="1.0" encoding="utf-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">${locs
    .map((l) => `<url><loc>${l}</loc></url>`)
    .join('')}</urlset>\n`;
const index = (...locs: string[]) =>
  `<?xml version="1.0" encoding="utf-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">${locs
    .map((l) => `<sitemap><loc>${l}</loc></sitemap>`)
    .join('')}</sitemapindex>\n`;

describe('sitemapPaths', () => {
  let out: string;
  const put = async (rel: string, text: string) => {
    await mkdir(dirname(join(out, rel)), { recursive: true });
    await writeFile(join(out, rel), text);
  };
  beforeEach(async () => {
    out = await mkdtemp(join(tmpdir(), 'sitepipe-sitemap-'));
  });
  afterEach(() => rm(out, { recursive: true, force: true }));

  it('lists the page paths of a site at the root', async () => {
    await put('sitemap.xml', urlset('https://example.com/', 'https://example.com/a/?x=1&amp;y=2'));
    expect(await sitemapPaths(out, '/')).toEqual(['/', '/a/']);
  });

  it('keeps the base path in the paths it returns (they are fetched as served)', async () => {
    await put('sitemap.xml', urlset('https://example.com/blog/', 'https://example.com/blog/tags/c%23/'));
    expect(await sitemapPaths(out, '/blog/')).toEqual(['/blog/', '/blog/tags/c%23/']);
  });

  it('follows a sitemap index under a base path to files without it (Hugo writes en/sitemap.xml)', async () => {
    await put(
      'sitemap.xml',
      index('https://example.com/blog/en/sitemap.xml', 'https://example.com/blog/fr/sitemap.xml'),
    );
    await put('en/sitemap.xml', urlset('https://example.com/blog/', 'https://example.com/blog/about/'));
    await put('fr/sitemap.xml', urlset('https://example.com/blog/fr/'));
    expect(await sitemapPaths(out, '/blog/')).toEqual(['/blog/', '/blog/about/', '/blog/fr/']);
  });

  it('refuses a sitemap URL outside the base path with a SitepipeError, not ENOENT', async () => {
    await put('sitemap.xml', index('https://example.com/en/sitemap.xml'));
    await put('en/sitemap.xml', urlset('https://example.com/en/'));
    const err = await expectCode(sitemapPaths(out, '/blog/'), 'SITEMAP_OUTSIDE_BASE_PATH');
    expect(err.message).toContain('/en/sitemap.xml');
  });

  it('refuses a page URL outside the base path', async () => {
    await put('sitemap.xml', urlset('https://example.com/blog/', 'https://example.com/other/'));
    await expectCode(sitemapPaths(out, '/blog/'), 'SITEMAP_OUTSIDE_BASE_PATH');
  });

  it('says which sitemap is missing', async () => {
    await put('sitemap.xml', index('https://example.com/blog/de/sitemap.xml'));
    const err = await expectCode(sitemapPaths(out, '/blog/'), 'SITEMAP_MISSING');
    expect(err.message).toContain('de/sitemap.xml');
  });
});

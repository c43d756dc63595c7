import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SitepipeError } from './errors.js';

const ENTITIES: Record<string, string> = {
  '&amp;': '&',
  '&lt;': '<',
  '&gt;': '>',
  '&quot;': '"',
  '&apos;': "'",
};

function locs(xml: string): string[] {
  return [...xml.matchAll(/<loc>\s*([^<]+?)\s*<\/loc>/g)].map((m) =>
    (m[1] as string).replace(/&(amp|lt|gt|quot|apos);/g, (e) => ENTITIES[e] ?? e),
  );
}

async function readSitemap(outputDir: string, file: string): Promise<string> {
  try {
    return await readFile(join(outputDir, file), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    throw new SitepipeError(
      'SITEMAP_MISSING',
      `the rendered site has no ${file}`,
      file === 'sitemap.xml'
        ? 'check that Hugo writes sitemap.xml (it is one of its default outputs unless disabled)'
        : 'the sitemap index names a sitemap Hugo did not write; check the sitemap templates',
    );
  }
}

/**
 * The output file a URL path of the site is, relative to outputDir: Hugo writes the site
 * without its base path (https://example.com/blog/en/sitemap.xml is en/sitemap.xml).
 */
function fileOf(path: string, basePath: string, sitemap: string): string {
  let decoded = path;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    // A malformed escape: compared, and looked up, as written.
  }
  if (!decoded.startsWith(basePath)) {
    throw new SitepipeError(
      'SITEMAP_OUTSIDE_BASE_PATH',
      `${sitemap} lists ${path}, outside the base path ${basePath} the site is served under`,
      "make the site's baseURL (or site.baseURL) and the URLs its sitemap lists agree",
    );
  }
  return decoded.slice(basePath.length);
}

/**
 * Every page path a rendered site lists in its sitemap, as served (under `basePath`, "/" or
 * e.g. "/blog/"), following a sitemap index (multilingual Hugo sites) into the sitemaps it names.
 */
export async function sitemapPaths(
  outputDir: string,
  basePath: string,
  file = 'sitemap.xml',
): Promise<string[]> {
  const xml = await readSitemap(outputDir, file);
  const paths = locs(xml).map((u) => new URL(u, 'http://site.invalid/').pathname);
  const files = paths.map((p) => fileOf(p, basePath, file));
  if (!/<sitemapindex[\s>]/.test(xml)) return paths;
  const nested = await Promise.all(files.map((f) => sitemapPaths(outputDir, basePath, f)));
  return nested.flat();
}

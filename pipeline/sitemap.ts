import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

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

/**
 * Every page path a rendered site lists in its sitemap, following a sitemap index
 * (multilingual Hugo sites) into the sitemaps it names.
 */
export async function sitemapPaths(outputDir: string, file = 'sitemap.xml'): Promise<string[]> {
  const xml = await readFile(join(outputDir, file), 'utf8');
  const urls = locs(xml).map((u) => new URL(u, 'http://site.invalid/').pathname);
  if (!/<sitemapindex[\s>]/.test(xml)) return urls;
  const nested = await Promise.all(urls.map((p) => sitemapPaths(outputDir, p.replace(/^\//, ''))));
  return nested.flat();
}

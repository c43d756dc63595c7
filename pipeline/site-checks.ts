import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from './config.js';
import { SitepipeError } from './errors.js';

/**
 * Smoke fetches the pages the sitemap lists: a site without one is refused right after Hugo has
 * rendered it, before any of it is uploaded, rather than by smoke after the upload.
 */
export async function requireSitemap(config: Config, outDir: string): Promise<void> {
  if (!config.smoke.enabled) return;
  const found = await access(join(outDir, 'sitemap.xml')).then(
    () => true,
    () => false,
  );
  if (found) return;
  throw new SitepipeError(
    'SITEMAP_MISSING',
    'Hugo wrote no sitemap.xml, and smoke (smoke.enabled: true) fetches the pages it lists',
    'enable Hugo\'s sitemap (remove "sitemap" from disableKinds in the Hugo config), or set smoke.enabled: false in sitepipe.yaml',
  );
}

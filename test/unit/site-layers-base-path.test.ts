import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planSiteLayers } from '../../pipeline/oci/site-layers.js';

describe('planSiteLayers with a base path', () => {
  let out: string;
  const mtime = new Date('2026-03-01T12:00:00Z');

  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'sitepipe-site-out-'));
    await mkdir(join(out, 'images'), { recursive: true });
    await mkdir(join(out, 'about'), { recursive: true });
    await writeFile(join(out, 'index.html'), 'home');
    await writeFile(join(out, 'about/index.html'), 'about');
    await writeFile(join(out, 'images/a.png'), 'png');
  });
  afterAll(() => rm(out, { recursive: true, force: true }));

  const plan = (basePath?: string) =>
    planSiteLayers({
      outputDir: out,
      siteRoot: '/usr/share/nginx/site',
      ...(basePath ? { basePath } : {}),
      mtime,
      extraFiles: [{ path: '/etc/nginx/conf.d/default.conf', content: Buffer.from('server {}') }],
    });
  const sitePaths = (layers: ReturnType<typeof plan>) =>
    layers
      .filter((l) => l.name !== 'server')
      .flatMap((l) => l.entries.map((e) => `${e.type} ${e.path}`))
      .sort();

  it('puts the files under the site root plus the base path, directories from the site root down', () => {
    const paths = sitePaths(plan('/blog/'));
    expect(paths).toContain('file usr/share/nginx/site/blog/index.html');
    expect(paths).toContain('file usr/share/nginx/site/blog/about/index.html');
    expect(paths).toContain('file usr/share/nginx/site/blog/images/a.png');
    // The base path's own directories are in each layer, with a time set, not left to the extractor.
    expect(paths).toContain('dir usr/share/nginx/site');
    expect(paths).toContain('dir usr/share/nginx/site/blog');
    expect(paths.every((p) => p.includes('usr/share/nginx/site'))).toBe(true);
    expect(paths.filter((p) => p.startsWith('file ')).every((p) => p.includes('/site/blog/'))).toBe(true);
  });

  it('a nested base path and the root ("/" or none) lay out the same files', () => {
    expect(sitePaths(plan('/a/b/'))).toContain('file usr/share/nginx/site/a/b/about/index.html');
    expect(sitePaths(plan('/a/b/'))).toContain('dir usr/share/nginx/site/a');
    expect(sitePaths(plan('/'))).toEqual(sitePaths(plan()));
    expect(sitePaths(plan())).toContain('file usr/share/nginx/site/index.html');
  });

  it('media keep their buckets whatever the base path (buckets hash the path in the site)', () => {
    const bucketOf = (layers: ReturnType<typeof plan>) =>
      layers.find((l) => l.entries.some((e) => e.path.endsWith('images/a.png')))?.name;
    expect(bucketOf(plan('/blog/'))).toBe(bucketOf(plan()));
  });
});

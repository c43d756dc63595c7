import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DeltaPlan, planDelta } from '../../pipeline/oci/delta.js';
import { encodeIndex, INDEX_PATH, indexFromLayer, type ReleaseIndex } from '../../pipeline/oci/index-file.js';
import { generatedLayer } from '../../pipeline/oci/site-layers.js';
import { type LayerEntry, writeLayer } from '../../pipeline/oci/tar-layer.js';

const ROOT = 'usr/share/nginx/site';
const DIR = `${ROOT}/blog`;
const OLD = new Date('2026-03-01T12:00:00Z');
const NOW = new Date('2026-04-01T09:30:00Z');
const LAYERS = [{ name: 'pages-0', digest: 'sha256:aa', diffId: 'sha256:bb', size: 10 }];

/** Entries under DIR as listSiteFiles gives them once hashed: path -> content. */
function site(files: Record<string, string>, mtime = NOW): LayerEntry[] {
  return Object.entries(files)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([rel, text]) => ({
      path: `${DIR}/${rel}`,
      type: 'file',
      size: Buffer.byteLength(text),
      content: Buffer.from(text),
      sha256: createHash('sha256').update(text).digest('hex'),
      mtime,
    }));
}

function index(files: Record<string, string>, extra: Partial<ReleaseIndex> = {}): ReleaseIndex {
  const encoded = encodeIndex({
    repository: 'r',
    dir: DIR,
    layers: LAYERS,
    deltas: 0,
    shadowed: 0,
    files: site(files, OLD),
  });
  return { ...(JSON.parse(encoded.toString()) as ReleaseIndex), ...extra };
}

const BEFORE = {
  'index.html': 'home',
  'about/index.html': 'about',
  'posts/a/index.html': 'post a',
  'posts/old/index.html': 'old post',
  'posts/old/img.png': 'png',
  'feed.xml': 'feed',
  'section/index.html': 'section',
};

const plan = (files: LayerEntry[], previous = index(BEFORE), limits = { maxLayers: 20, maxWaste: 0.9 }) =>
  planDelta({ siteRoot: `/${ROOT}`, dir: DIR, files, previous, mtime: NOW, limits });

const tarPaths = (p: DeltaPlan) =>
  p.kind === 'delta'
    ? p.layer.entries.map(
        (e) => `${e.type === 'dir' ? 'd' : 'f'} ${e.path === ROOT ? '.' : e.path.slice(ROOT.length + 1)}`,
      )
    : [];

describe('planDelta', () => {
  it('writes no layer when no file changed, and every file keeps its time', () => {
    const files = site(BEFORE);
    expect(plan(files).kind).toBe('unchanged');
    expect(files.every((f) => f.mtime.getTime() === OLD.getTime())).toBe(true);
  });

  it('holds changed and added files at the commit time, and whiteouts for what is gone', () => {
    const files = site({
      'index.html': 'home, edited',
      'about/index.html': 'about',
      'posts/a/index.html': 'post a',
      'posts/new/index.html': 'new post',
      // a file becomes a directory, a directory a file
      'feed.xml/index.html': 'feed as a page',
      section: 'section as a file',
    });
    const p = plan(files);
    expect(p).toMatchObject({ kind: 'delta', changed: 4, removed: 4 });
    // Parents first; a whiteout right before what takes its path; one whiteout for a whole directory gone.
    expect(tarPaths(p)).toEqual([
      'd .',
      'd blog',
      'f blog/.wh.feed.xml',
      'd blog/feed.xml',
      'f blog/feed.xml/index.html',
      'f blog/index.html',
      'd blog/posts',
      'd blog/posts/new',
      'f blog/posts/new/index.html',
      'f blog/posts/.wh.old',
      'f blog/.wh.section',
      'f blog/section',
    ]);
    const times = Object.fromEntries(files.map((f) => [f.path.slice(DIR.length + 1), f.mtime.toISOString()]));
    expect(times['about/index.html']).toBe(OLD.toISOString());
    expect(times['posts/a/index.html']).toBe(OLD.toISOString());
    expect(times['index.html']).toBe(NOW.toISOString());
    expect(times['posts/new/index.html']).toBe(NOW.toISOString());
    if (p.kind === 'delta')
      expect(p.shadowed).toBe(['home', 'old post', 'png', 'feed', 'section'].join('').length);
  });

  it('puts a whiteout before whatever takes its path in the same layer, whatever the name sorts like', () => {
    // '-' sorts before '.': in byte order the new file would come first and its whiteout delete it.
    const p = plan(site({ ...BEFORE, '-x': 'file' }), index({ ...BEFORE, '-x/a': 'a' }));
    const paths = tarPaths(p);
    expect(paths.indexOf('f blog/.wh.-x')).toBeGreaterThan(-1);
    expect(paths.indexOf('f blog/.wh.-x')).toBeLessThan(paths.indexOf('f blog/-x'));
  });

  it('goes back to full layers after maxLayers deltas, keeping unchanged files their time', () => {
    const files = site({ ...BEFORE, 'index.html': 'home, edited' });
    const p = plan(files, index(BEFORE, { deltas: 3 }), { maxLayers: 3, maxWaste: 0.9 });
    expect(p).toMatchObject({ kind: 'full', why: expect.stringMatching(/maxLayers/) });
    expect(files.find((f) => f.path.endsWith('about/index.html'))?.mtime).toEqual(OLD);
    expect(
      plan(site({ ...BEFORE, 'index.html': 'x' }), index(BEFORE, { deltas: 2 }), {
        maxLayers: 3,
        maxWaste: 0.9,
      }).kind,
    ).toBe('delta');
  });

  it('goes back to full layers when shadowed bytes pass maxWaste of the site', () => {
    const bytes = Object.values(BEFORE).join('').length;
    const files = () => site({ ...BEFORE, 'index.html': 'HOME' });
    // 'home' (4 bytes) shadowed on top of what was already.
    const under = index(BEFORE, { shadowed: Math.floor(0.25 * bytes) - 4 });
    const over = index(BEFORE, { shadowed: Math.floor(0.25 * bytes) - 3 });
    expect(plan(files(), under, { maxLayers: 20, maxWaste: 0.25 }).kind).toBe('delta');
    expect(plan(files(), over, { maxLayers: 20, maxWaste: 0.25 })).toMatchObject({
      kind: 'full',
      why: expect.stringMatching(/maxWaste/),
    });
  });

  it('writes full layers when the site moved in the image (another base path)', () => {
    const p = plan(site(BEFORE), index(BEFORE, { dir: `${ROOT}/old` }));
    expect(p.kind).toBe('full');
  });
});

describe('release index', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sitepipe-index-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('is read back from its gzipped layer, the same for the same input', async () => {
    const content = encodeIndex({
      repository: 'r',
      dir: DIR,
      layers: LAYERS,
      deltas: 2,
      shadowed: 7,
      files: site(BEFORE),
    });
    const layer = generatedLayer('index', [{ path: `/${INDEX_PATH}`, content }], OLD);
    const blobs = [];
    for (const name of ['a.tgz', 'b.tgz'])
      blobs.push(await writeLayer(layer?.entries ?? [], join(dir, name), { level: 6 }));
    expect(blobs[1]?.digest).toBe(blobs[0]?.digest);
    const read = indexFromLayer(await readFile(join(dir, 'a.tgz')));
    expect(read).toMatchObject({ repository: 'r', dir: DIR, deltas: 2, shadowed: 7, layers: LAYERS });
    expect(read?.files.map((f) => f[0])).toEqual(Object.keys(BEFORE).sort());
    // about/index.html first: 5 bytes, mode 0644, its time in seconds.
    expect(read?.files[0]?.slice(1, 4)).toEqual([5, 0o644, NOW.getTime() / 1000]);
  });

  it('is null for a layer without one, or not gzip at all', async () => {
    const other = generatedLayer('server', [{ path: '/etc/nginx/x.conf', content: Buffer.from('x') }], OLD);
    await writeLayer(other?.entries ?? [], join(dir, 'c.tgz'), { level: 6 });
    expect(indexFromLayer(await readFile(join(dir, 'c.tgz')))).toBeNull();
    expect(indexFromLayer(Buffer.from('not gzip'))).toBeNull();
  });
});

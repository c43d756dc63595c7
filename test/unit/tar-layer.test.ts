import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileHashes } from '../../pipeline/oci/file-hashes.js';
import {
  bucketOf,
  isAsset,
  layerFingerprint,
  type PlannedLayer,
  planSiteLayers,
} from '../../pipeline/oci/site-layers.js';
import { type LayerEntry, writeLayer } from '../../pipeline/oci/tar-layer.js';

const mtime = new Date('2026-03-01T12:00:00Z');
let dir: string;
let entries: LayerEntry[];
const longName = `${'deep/'.repeat(30)}page.html`;

afterAll(() => rm(dir, { recursive: true, force: true }));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sitepipe-layer-'));
  await writeFile(join(dir, 'a.html'), '<h1>a</h1>\n');
  await writeFile(join(dir, 'b.png'), Buffer.alloc(1500, 7));
  entries = [
    { path: 'srv', type: 'dir', size: 0, mtime },
    { path: 'srv/a.html', type: 'file', size: 11, source: join(dir, 'a.html'), mtime },
    { path: 'srv/b.png', type: 'file', size: 1500, source: join(dir, 'b.png'), mtime },
    { path: `srv/${longName}`, type: 'file', size: 3, content: Buffer.from('hi\n'), mtime },
  ];
});

describe('writeLayer', () => {
  it('writes the same bytes every time, and reports both digests', async () => {
    const one = await writeLayer(entries, join(dir, 'one.tgz'), { level: 6 });
    const two = await writeLayer(entries, join(dir, 'two.tgz'), { level: 6 });
    const bytes = await readFile(join(dir, 'one.tgz'));
    expect(two).toEqual(one);
    expect(one.digest).toBe(`sha256:${createHash('sha256').update(bytes).digest('hex')}`);
    expect(one.diffId).toBe(`sha256:${createHash('sha256').update(gunzipSync(bytes)).digest('hex')}`);
    expect(one.size).toBe(bytes.length);
    expect(bytes[9]).toBe(0xff);
  });

  it('is read by GNU tar with owner 0/0, normalised modes, the commit time, and long paths intact', async () => {
    await writeLayer(entries, join(dir, 'list.tgz'), { level: 6 });
    const { stdout } = await execa(
      'tar',
      ['--numeric-owner', '--full-time', '-tvzf', join(dir, 'list.tgz')],
      {
        env: { TZ: 'UTC' },
      },
    );
    const lines = stdout.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^drwxr-xr-x 0\/0 +0 2026-03-01 12:00:00 srv\/$/);
    expect(lines[1]).toMatch(/^-rw-r--r-- 0\/0 +11 2026-03-01 12:00:00 srv\/a\.html$/);
    expect(lines[3]).toContain(`srv/${longName}`);
    const { stdout: content } = await execa('tar', ['-xzOf', join(dir, 'list.tgz'), `srv/${longName}`]);
    expect(content).toBe('hi');
  });

  it('fails when a file changes size while it is archived', async () => {
    const wrong = [{ ...entries[1], size: 99 } as LayerEntry];
    await expect(writeLayer(wrong, join(dir, 'bad.tgz'), { level: 6 })).rejects.toThrow(/changed size/);
  });
});

describe('planSiteLayers', () => {
  const root = 'usr/share/nginx/html';
  let out: string;
  /** Built layers and the hash cache, apart from the site output. */
  let work: string;

  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'sitepipe-site-out-'));
    work = await mkdtemp(join(tmpdir(), 'sitepipe-layers-'));
    for (const d of ['images', 'posts/x', 'posts/y', 'posts/page/2', 'tags/go'])
      await mkdir(join(out, d), { recursive: true });
    const files: Record<string, string> = {
      'index.html': 'home',
      'index.xml': 'feed',
      'sitemap.xml': 'map',
      'posts/index.html': 'list',
      'posts/index.xml': 'feed',
      'posts/page/2/index.html': 'list p2',
      'tags/go/index.html': 'term',
      'tags/go/index.xml': 'feed',
      'posts/x/index.html': 'post x',
      'posts/y/index.html': 'post y',
    };
    for (const [f, text] of Object.entries(files)) await writeFile(join(out, f), text);
    for (const n of ['a', 'b', 'c', 'd', 'e', 'f']) await writeFile(join(out, `images/${n}.jpg`), n);
  });

  afterAll(async () => {
    await Promise.all([out, work].map((d) => rm(d, { recursive: true, force: true })));
  });

  const planned = (sourceTime?: (rel: string) => Date | undefined, hashes?: FileHashes) =>
    planSiteLayers({
      outputDir: out,
      siteRoot: `/${root}`,
      mtime,
      ...(sourceTime ? { sourceTime } : {}),
      ...(hashes ? { hashes } : {}),
      extraFiles: [{ path: '/etc/nginx/conf.d/default.conf', content: Buffer.from('server {}') }],
    });
  const files = (layers: ReturnType<typeof planned>, prefix: string) =>
    layers
      .filter((l) => l.name.startsWith(prefix))
      .flatMap((l) => l.entries.filter((e) => e.type === 'file').map((e) => e.path.slice(root.length + 1)))
      .sort();

  it('puts media, the other files (pages, feeds, sitemap) and the server config apart', async () => {
    const layers = planned();
    expect(files(layers, 'pages-')).toEqual([
      'index.html',
      'index.xml',
      'posts/index.html',
      'posts/index.xml',
      'posts/page/2/index.html',
      'posts/x/index.html',
      'posts/y/index.html',
      'sitemap.xml',
      'tags/go/index.html',
      'tags/go/index.xml',
    ]);
    expect(files(layers, 'assets-')).toHaveLength(6);
    // Media stays in the bucket its path hashes to, commit after commit.
    for (const layer of layers.filter((l) => l.name.startsWith('assets-'))) {
      for (const e of layer.entries.filter((x) => x.type === 'file')) {
        expect(layer.name.endsWith(`-${bucketOf(e.path.slice(root.length + 1))}`)).toBe(true);
      }
    }
    // Pages are spread evenly by size: no bucket is heavier than another by more than one file.
    const sizes = layers
      .filter((l) => l.name.startsWith('pages-'))
      .map((l) => l.entries.reduce((n, e) => n + e.size, 0));
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual('list p2'.length);
    const server = layers.find((l) => l.name === 'server');
    expect(server?.entries.map((e) => e.path)).toEqual(['etc/nginx/conf.d', 'etc/nginx/conf.d/default.conf']);
  });

  it('gives media the time its source last changed, and directories their newest file', async () => {
    const old = new Date('2025-01-01T00:00:00Z');
    const layers = planned((rel) => (rel === 'images/a.jpg' ? old : undefined));
    const entries = layers.flatMap((l) => l.entries);
    expect(entries.find((e) => e.path.endsWith('images/a.jpg'))?.mtime).toEqual(old);
    expect(entries.find((e) => e.path.endsWith('posts/x/index.html'))?.mtime).toEqual(mtime);
  });

  /** Each layer's fingerprint once built (building hashes the files it reads). */
  const fingerprints = async (layers: ReturnType<typeof planned>) => {
    for (const [i, layer] of layers.entries()) await writeLayer(layer.entries, join(work, `${i}.tgz`), layer);
    return layers.map(layerFingerprint);
  };

  it('changes only the fingerprint of the layer whose content changed', async () => {
    const before = planned();
    const printsBefore = await fingerprints(before);
    // Same size, so the pages split the same way.
    await writeFile(join(out, 'posts/x/index.html'), 'post X');
    const after = planned();
    const changed = (await fingerprints(after)).flatMap((f, i) =>
      f !== printsBefore[i] ? [after[i]?.name] : [],
    );
    const holder = before.find((l) => l.entries.some((e) => e.path.endsWith('posts/x/index.html')));
    expect(changed).toEqual([holder?.name]);
    expect(holder?.name).toMatch(/^pages-/);
  });

  it("knows unchanged media by size and mtime without reading it; a changed file's layer must be built", async () => {
    const file = join(work, 'file-hashes.json');
    const hashes = await FileHashes.load(file);
    const first = planned(undefined, hashes);
    const built = await fingerprints(first);
    await hashes.save(first.flatMap((l) => l.entries));

    const again = planned(undefined, await FileHashes.load(file));
    const media = again.flatMap((l, i) => (l.media ? [{ name: l.name, i }] : []));
    expect(media.length).toBeGreaterThan(0);
    for (const { i } of media) expect(layerFingerprint(again[i] as PlannedLayer)).toBe(built[i]);
    // Pages are always read: Hugo writes them anew on every render.
    expect(again.filter((l) => !l.media && l.name !== 'server').map(layerFingerprint)).not.toContain(
      expect.any(String),
    );

    await writeFile(join(out, 'images/a.jpg'), 'A');
    const edited = planned(undefined, await FileHashes.load(file));
    const unknown = edited.filter((l) => l.media && layerFingerprint(l) === null).map((l) => l.name);
    expect(unknown).toEqual([`assets-${bucketOf('images/a.jpg')}`]);
  });

  it('classifies media by extension', () => {
    expect(isAsset('usr/share/nginx/html/images/x.JPG')).toBe(true);
    expect(isAsset('usr/share/nginx/html/index.html')).toBe(false);
    expect(isAsset('usr/share/nginx/html/css/site.css')).toBe(false);
  });
});

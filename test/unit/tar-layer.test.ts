import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { assetBucket, isAsset, planSiteLayers } from '../../pipeline/oci/site-layers.js';
import { type LayerEntry, writeLayer } from '../../pipeline/oci/tar-layer.js';

const mtime = new Date('2026-03-01T12:00:00Z');
let dir: string;
let entries: LayerEntry[];
const longName = `${'deep/'.repeat(30)}page.html`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sitepipe-layer-'));
  await writeFile(join(dir, 'a.html'), '<h1>a</h1>\n');
  await writeFile(join(dir, 'b.png'), Buffer.alloc(1500, 7));
  entries = [
    { path: 'srv', type: 'dir', size: 0 },
    { path: 'srv/a.html', type: 'file', size: 11, source: join(dir, 'a.html') },
    { path: 'srv/b.png', type: 'file', size: 1500, source: join(dir, 'b.png') },
    { path: `srv/${longName}`, type: 'file', size: 3, content: Buffer.from('hi\n') },
  ];
});

describe('writeLayer', () => {
  it('writes the same bytes every time, and reports both digests', async () => {
    const one = await writeLayer(entries, join(dir, 'one.tgz'), { mtime, level: 6 });
    const two = await writeLayer(entries, join(dir, 'two.tgz'), { mtime, level: 6 });
    const bytes = await readFile(join(dir, 'one.tgz'));
    expect(two).toEqual(one);
    expect(one.digest).toBe(`sha256:${createHash('sha256').update(bytes).digest('hex')}`);
    expect(one.diffId).toBe(`sha256:${createHash('sha256').update(gunzipSync(bytes)).digest('hex')}`);
    expect(one.size).toBe(bytes.length);
    expect(bytes[9]).toBe(0xff);
  });

  it('is read by GNU tar with owner 0/0, normalised modes, the commit time, and long paths intact', async () => {
    await writeLayer(entries, join(dir, 'list.tgz'), { mtime, level: 6 });
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
    await expect(writeLayer(wrong, join(dir, 'bad.tgz'), { mtime, level: 6 })).rejects.toThrow(
      /changed size/,
    );
  });
});

describe('planSiteLayers', () => {
  it('puts media in hashed asset buckets, the rest in pages, and server config apart', async () => {
    const out = await mkdtemp(join(tmpdir(), 'sitepipe-site-out-'));
    await mkdir(join(out, 'images'), { recursive: true });
    await mkdir(join(out, 'posts/x'), { recursive: true });
    await writeFile(join(out, 'index.html'), 'home');
    await writeFile(join(out, 'posts/x/index.html'), 'post');
    for (const n of ['a', 'b', 'c', 'd', 'e', 'f']) await writeFile(join(out, `images/${n}.jpg`), n);
    const layers = await planSiteLayers({
      outputDir: out,
      siteRoot: '/usr/share/nginx/html',
      mtime,
      extraFiles: [{ path: '/etc/nginx/conf.d/default.conf', content: Buffer.from('server {}') }],
    });
    const byName = Object.fromEntries(layers.map((l) => [l.name, l.entries.map((e) => e.path)]));
    expect(byName.pages).toEqual([
      'usr/share/nginx/html',
      'usr/share/nginx/html/index.html',
      'usr/share/nginx/html/posts',
      'usr/share/nginx/html/posts/x',
      'usr/share/nginx/html/posts/x/index.html',
    ]);
    expect(byName.server).toEqual(['etc/nginx/conf.d', 'etc/nginx/conf.d/default.conf']);
    const assets = layers.filter((l) => l.name.startsWith('assets-')).flatMap((l) => l.entries);
    expect(assets.filter((e) => e.type === 'file')).toHaveLength(6);
    for (const layer of layers.filter((l) => l.name.startsWith('assets-'))) {
      for (const e of layer.entries.filter((x) => x.type === 'file')) {
        expect(layer.name).toBe(`assets-${assetBucket(e.path)}`);
      }
    }
    // The fingerprint follows content, not file times.
    const again = await planSiteLayers({
      outputDir: out,
      siteRoot: '/usr/share/nginx/html',
      mtime,
      extraFiles: [],
    });
    expect(again.find((l) => l.name === 'pages')?.fingerprint).toBe(
      layers.find((l) => l.name === 'pages')?.fingerprint,
    );
    await writeFile(join(out, 'posts/x/index.html'), 'edited');
    const edited = await planSiteLayers({
      outputDir: out,
      siteRoot: '/usr/share/nginx/html',
      mtime,
      extraFiles: [],
    });
    expect(edited.find((l) => l.name === 'pages')?.fingerprint).not.toBe(
      again.find((l) => l.name === 'pages')?.fingerprint,
    );
    expect(edited.filter((l) => l.name !== 'pages').map((l) => l.fingerprint)).toEqual(
      again.filter((l) => l.name !== 'pages').map((l) => l.fingerprint),
    );
  });

  it('classifies media by extension', () => {
    expect(isAsset('usr/share/nginx/html/images/x.JPG')).toBe(true);
    expect(isAsset('usr/share/nginx/html/index.html')).toBe(false);
    expect(isAsset('usr/share/nginx/html/css/site.css')).toBe(false);
  });
});

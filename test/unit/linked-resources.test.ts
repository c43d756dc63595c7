import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { linkedResources, pageResourceUrls, stylesheetUrls } from '../../pipeline/linked-resources.js';

describe('pageResourceUrls', () => {
  it('finds what a page loads, quoted or not (minified), with entities decoded', () => {
    const html = `<!doctype html><html><head>
      <link rel=stylesheet href=/css/site.min.css>
      <link rel="icon" href="/favicon.ico"><link rel="canonical" href="https://ex.com/a/">
      <link rel="alternate" type="application/rss+xml" href="/index.xml">
      <script src='/js/app.js?v=1&amp;x=2'></script></head><body>
      <img src="a.png" srcset="a-480.png 480w, /img/a-800.png 800w">
      <picture><source srcset="b.webp 1x,b@2x.webp 2x"></picture>
      <video poster="/v.jpg"><source src="/v.mp4"></video>
      <a href="/other/">a link is a page, not a resource</a></body></html>`;
    expect(pageResourceUrls(html)).toEqual([
      '/css/site.min.css',
      '/favicon.ico',
      '/js/app.js?v=1&x=2',
      'a.png',
      'a-480.png',
      '/img/a-800.png',
      'b.webp',
      'b@2x.webp',
      '/v.jpg',
      '/v.mp4',
    ]);
  });

  it('finds url() in stylesheets', () => {
    expect(
      stylesheetUrls(`@font-face{src:url("../fonts/a.woff2") format("woff2"),url(b.woff)}
      .x{background:url( '/img/bg.png' )} .y{background:url(data:image/png;base64,AAA)}`),
    ).toEqual(['../fonts/a.woff2', 'b.woff', '/img/bg.png', 'data:image/png;base64,AAA']);
  });
});

describe('linkedResources', () => {
  async function site(files: Record<string, string>): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'sitepipe-linked-'));
    for (const [path, text] of Object.entries(files)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), text);
    }
    return dir;
  }

  it('resolves against each page and the base path, keeps the site’s own host, follows stylesheets', async () => {
    const outputDir = await site({
      'index.html': '<link rel=stylesheet href="css/a.css"><img src="https://www.example.com/blog/i/x.png">',
      'posts/one/index.html':
        '<img src="photo.jpg"><img src="https://cdn.other.com/y.png"><img src="data:image/gif;base64,R0">',
      'css/a.css': '.f{src:url(../fonts/f.woff2)}',
    });
    const found = linkedResources({
      outputDir,
      basePath: '/blog/',
      siteURL: 'https://www.example.com/blog/',
      pages: ['/blog/', '/blog/posts/one/'],
    });
    expect(found).toEqual([
      '/blog/css/a.css',
      '/blog/fonts/f.woff2',
      '/blog/i/x.png',
      '/blog/posts/one/photo.jpg',
    ]);
  });
});

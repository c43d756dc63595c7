import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVER_CONF_PATH, SITE_ROOT, serverConf } from '../../pipeline/nginx.js';
import { get, type Served, serveOnLoopback } from '../helpers/nginx-container.js';

/** The nginx base the example ships on (a stand-in built from Debian's nginx by npm run setup). */
const BASE = '127.0.0.1:5000/library/nginx:stable';

const xml = (root: string) =>
  `<?xml version="1.0" encoding="utf-8" standalone="yes"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n${[
    '',
    'about/',
  ]
    .map((p) => `  <url><loc>https://www.example.com${root}${p}</loc></url>\n`)
    .join('')}</urlset>\n`;

/** A small rendered site as Hugo lays it out, at SITE_ROOT plus `basePath` as the builders put it. */
function site(basePath: string): Record<string, string> {
  const files: Record<string, string> = {
    'index.html': '<!doctype html><title>home</title><h1>Home of the site</h1>',
    'about/index.html': '<!doctype html><title>about</title><h1>About this site</h1>',
    '404.html': '<!doctype html><title>not found</title><h1>The site’s own 404 page</h1>',
    'sitemap.xml': xml(basePath),
    'index.xml': `<?xml version="1.0"?><rss version="2.0"><channel><title>Feed</title><link>https://www.example.com${basePath}</link></channel></rss>\n`,
    'robots.txt': `User-agent: *\nSitemap: https://www.example.com${basePath}sitemap.xml\n`,
    'css/site.css': `body { margin: 0 auto; max-width: 40rem; font-family: sans-serif; }\n`.repeat(4),
    'site.atom': `<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Atom</title></feed>\n`,
    'favicon.ico': 'ICO '.repeat(40),
    'fonts/face.eot': 'EOT '.repeat(40),
  };
  return Object.fromEntries(Object.entries(files).map(([p, text]) => [`${SITE_ROOT}${basePath}${p}`, text]));
}

function serve(basePath: string): Promise<Served> {
  return serveOnLoopback(BASE, { ...site(basePath), [SERVER_CONF_PATH]: serverConf(basePath) });
}

const gzipped = { 'Accept-Encoding': 'gzip' };

describe('the nginx server config on the real nginx of the base image', () => {
  describe.each(['/', '/blog/'])('a site served under %s', (basePath) => {
    let server: Served;
    beforeAll(async () => {
      server = await serve(basePath);
    });
    afterAll(() => server?.stop());
    const url = (path: string) => `${server.base}${path}`;

    it('answers the health path', async () => {
      const r = await get(url('/healthz'));
      expect(r.status).toBe(200);
      expect(r.body.toString()).toBe('ok\n');
    });

    it('serves pages with try_files under the base path', async () => {
      const home = await get(url(basePath));
      expect(home.status).toBe(200);
      expect(home.body.toString()).toContain('Home of the site');
      const about = await get(url(`${basePath}about/`));
      expect(about.status).toBe(200);
      expect(about.body.toString()).toContain('About this site');
    });

    it('redirects a directory without its slash to a relative Location, keeping the query', async () => {
      const r = await get(url(`${basePath}about`));
      expect(r.status).toBe(301);
      expect(r.headers.location).toBe(`${basePath}about/`);
      expect((await get(url(`${basePath}about?x=1&y=2`))).headers.location).toBe(`${basePath}about/?x=1&y=2`);
    });

    it('answers a missing page with the site’s 404 page and status 404, inside the base path or not', async () => {
      for (const path of [`${basePath}no-such-page/`, '/elsewhere/no-such-page', `${basePath}css/none.css`]) {
        const r = await get(url(path));
        expect(r.status, path).toBe(404);
        expect(r.body.toString(), path).toContain('The site’s own 404 page');
      }
    });

    it('never serves the base image’s own pages', async () => {
      expect((await get(url('/50x.html'))).status).toBe(404);
      expect((await get(url(`${basePath}50x.html`))).status).toBe(404);
    });

    it('gzips sitemap.xml, index.xml, robots.txt, feeds, CSS, icons and fonts when asked, and varies on it', async () => {
      for (const file of [
        'sitemap.xml',
        'index.xml',
        'robots.txt',
        'site.atom',
        'css/site.css',
        'favicon.ico',
        'fonts/face.eot',
      ]) {
        const path = `${basePath}${file}`;
        const r = await get(url(path), gzipped);
        expect(r.status, path).toBe(200);
        expect(r.headers['content-encoding'], path).toBe('gzip');
        expect(r.headers.vary, path).toBe('Accept-Encoding');
        expect(gunzipSync(r.body).toString(), path).toBe(site(basePath)[`${SITE_ROOT}${path}`]);
      }
      // Behind a load balancer (its requests carry Via) too; and not when not asked.
      const proxied = await get(url(`${basePath}sitemap.xml`), { ...gzipped, Via: '1.1 google' });
      expect(proxied.headers['content-encoding']).toBe('gzip');
      expect((await get(url(`${basePath}sitemap.xml`))).headers['content-encoding']).toBeUndefined();
    });

    it('sends cache headers for static assets, not for pages', async () => {
      const css = await get(url(`${basePath}css/site.css`));
      expect(css.status).toBe(200);
      expect(String(css.headers['cache-control'])).toMatch(/max-age=604800/);
      expect(String(css.headers['cache-control'])).toMatch(/public/);
      expect(css.headers.expires).toBeDefined();
      expect((await get(url(`${basePath}about/`))).headers['cache-control']).toBeUndefined();
    });
  });

  describe('a site under a base path', () => {
    let server: Served;
    beforeAll(async () => {
      server = await serve('/blog/');
    });
    afterAll(() => server?.stop());

    it('answers / with a relative redirect to the base path, keeping the query', async () => {
      const r = await get(`${server.base}/`);
      expect(r.status).toBe(302);
      expect(r.headers.location).toBe('/blog/');
      expect((await get(`${server.base}/?utm=x`)).headers.location).toBe('/blog/?utm=x');
      // The base path without its slash is a directory: nginx adds the slash, relatively.
      expect((await get(`${server.base}/blog`)).headers.location).toBe('/blog/');
    });
  });
});

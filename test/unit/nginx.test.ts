import { describe, expect, it } from 'vitest';
import { checkBasePath, GZIP_TYPES, SITE_ROOT, serverConf } from '../../pipeline/nginx.js';
import { problem } from '../helpers/expect-code.js';

/** The server block's directives, one per line, comments and blank lines dropped. */
const directives = (conf: string) =>
  conf
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

describe('serverConf', () => {
  it('serves a web root of its own, not the base image html dir', () => {
    expect(SITE_ROOT).not.toBe('/usr/share/nginx/html');
    expect(directives(serverConf())).toContain(`root ${SITE_ROOT};`);
  });

  it('makes redirects relative, so they never name nginx’s own scheme and port', () => {
    expect(directives(serverConf())).toContain('absolute_redirect off;');
  });

  it('gzips feeds, sitemaps, text, manifests, icons and fonts, and says so to caches and proxies', () => {
    const lines = directives(serverConf());
    const types = lines
      .find((l) => l.startsWith('gzip_types '))
      ?.slice('gzip_types '.length, -1)
      .split(' ');
    for (const t of [
      'text/xml',
      'application/xml',
      'application/atom+xml',
      'application/rss+xml',
      'text/plain',
      'text/javascript',
      'application/javascript',
      'application/manifest+json',
      'image/x-icon',
      'application/vnd.ms-fontobject',
      'font/ttf',
      'font/otf',
    ])
      expect(types).toContain(t);
    expect(types).toEqual(GZIP_TYPES);
    // nginx always compresses text/html and warns about a duplicate MIME type.
    expect(types).not.toContain('text/html');
    expect(lines).toContain('gzip_vary on;');
    expect(lines).toContain('gzip_proxied any;');
  });

  it('at the root: the site’s 404 page, no redirect of /', () => {
    const lines = directives(serverConf('/'));
    expect(lines).toContain('error_page 404 /404.html;');
    expect(lines).not.toContain('location = / {');
  });

  it('under a base path: / redirects there, and the 404 page is the one under it', () => {
    const lines = directives(serverConf('/blog/'));
    expect(lines).toContain('location = / {');
    expect(lines).toContain('return 302 /blog/$is_args$args;');
    expect(lines).toContain('error_page 404 /blog/404.html;');
  });
});

describe('checkBasePath', () => {
  it('accepts / and plain path segments', () => {
    expect(checkBasePath('/')).toBe('/');
    expect(checkBasePath('/blog/')).toBe('/blog/');
    expect(checkBasePath('/a/b-c_d.e~f/')).toBe('/a/b-c_d.e~f/');
  });

  it('refuses what would change the meaning of the server config or the COPY destination', () => {
    for (const bad of ['/my blog/', '/a;b/', '/$uri/', '/x{/', '/../', '/a/./', 'blog/', '/blog']) {
      expect(problem(() => checkBasePath(bad)).code, bad).toBe('BASE_PATH_UNSUPPORTED');
    }
    expect(problem(() => serverConf('/a;b/')).code).toBe('BASE_PATH_UNSUPPORTED');
  });
});

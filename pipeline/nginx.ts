import { SitepipeError } from './errors.js';
import { tarChunks } from './oci/tar-layer.js';
import { releaseHeaderDirective } from './verify/release-header.js';

/**
 * The nginx server config sitepipe puts into every image. The listen directive sits in its
 * own file so that smoke tests can move the server to a free loopback port while every
 * other line stays exactly as shipped.
 *
 * SITE_ROOT is a directory the nginx base images do not use, so the web root holds only the
 * site (the base's /usr/share/nginx/html has its own index.html and 50x.html). The site sits
 * at SITE_ROOT plus its base path, e.g. /usr/share/nginx/site/blog/ for https://example.com/blog/.
 */
export const SITE_ROOT = '/usr/share/nginx/site';
export const SERVER_CONF_PATH = '/etc/nginx/conf.d/default.conf';
export const LISTEN_CONF_DIR = '/etc/nginx/sitepipe';
export const LISTEN_CONF_PATH = `${LISTEN_CONF_DIR}/listen.conf`;
export const HEALTH_PATH = '/healthz';

/**
 * What nginx compresses besides text/html (always compressed): what a static site serves as
 * text, by the types nginx's mime.types gives (feeds and sitemaps are .xml: text/xml). Images,
 * video, archives and woff/woff2 fonts are compressed already.
 */
export const GZIP_TYPES = [
  'text/css',
  'text/plain',
  'text/xml',
  'text/javascript',
  'text/calendar',
  'application/javascript',
  'application/json',
  'application/manifest+json',
  'application/xml',
  'application/xhtml+xml',
  'application/atom+xml',
  'application/rss+xml',
  'image/svg+xml',
  'image/x-icon',
  'application/vnd.ms-fontobject',
  'font/ttf',
  'font/otf',
];

/** Path segments nginx's config and a Dockerfile COPY take literally: no quoting needed, nothing to inject. */
const SAFE_BASE_PATH = /^\/(?:[A-Za-z0-9._~-]+\/)*$/;

/** Refuses a base path that cannot be written into the server config as is. */
export function checkBasePath(basePath: string): string {
  if (!SAFE_BASE_PATH.test(basePath) || basePath.split('/').some((s) => s === '.' || s === '..')) {
    throw new SitepipeError(
      'BASE_PATH_UNSUPPORTED',
      `the site's base path ${JSON.stringify(basePath)} (from its baseURL) has characters sitepipe cannot serve it under`,
      'use a baseURL whose path has only letters, digits and - . _ ~, e.g. https://example.com/blog/',
    );
  }
  return basePath;
}

export function listenConf(port: number, address?: string): string {
  return `listen ${address ? `${address}:` : ''}${port};\n`;
}

/** listen.conf for `port` on `address`, as a tar to put into LISTEN_CONF_DIR of a container. */
export async function listenConfArchive(port: number, address?: string): Promise<Buffer> {
  const content = Buffer.from(listenConf(port, address));
  const chunks: Buffer[] = [];
  const entry = {
    path: 'listen.conf',
    type: 'file' as const,
    size: content.length,
    content,
    mtime: new Date(),
  };
  for await (const chunk of tarChunks([entry])) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** A site under a base path answers `/` with a redirect there (temporary: the base path is config). */
function rootRedirect(basePath: string): string {
  if (basePath === '/') return '';
  return `    location = / {
        return 302 ${basePath}$is_args$args;
    }
`;
}

/**
 * Headers on every response. nginx gives a block the add_header directives of the enclosing one
 * only when it has none of its own, so they are repeated in each location that adds one.
 * HSTS: browsers take it only over HTTPS, which is how visitors reach the site (the load
 * balancer terminates TLS); `always`, so redirects and 404s carry it too.
 */
function headers(release: string | null, indent: string): string {
  return `${indent}add_header Strict-Transport-Security "max-age=31536000" always;\n${releaseHeaderDirective(release, indent)}`;
}

/**
 * The server block for a site served under `basePath` ("/" or e.g. "/blog/"); `release` (the
 * commit tag, or null for none) is sent as Sitepipe-Release, which `sitepipe verify` reads.
 */
export function serverConf(basePath = '/', release: string | null = null): string {
  checkBasePath(basePath);
  return `# Written by sitepipe.
server {
    include ${LISTEN_CONF_PATH};
    server_name _;
    root ${SITE_ROOT};
    index index.html index.xml;
    # Redirects (e.g. /about to /about/) name only the path: the scheme, host and port nginx
    # sees (plain HTTP on the container's port) are not the ones the client used.
    absolute_redirect off;
${headers(release, '    ')}
    gzip on;
    # Caches in between keep compressed and plain copies apart, and the load balancer's
    # requests (they carry Via) are compressed too.
    gzip_vary on;
    gzip_proxied any;
    gzip_types ${GZIP_TYPES.join(' ')};

    location = ${HEALTH_PATH} {
        access_log off;
        default_type text/plain;
        return 200 "ok\\n";
    }
${rootRedirect(basePath)}    location / {
        try_files $uri $uri/ =404;
    }
    location ~* \\.(?:css|js|png|jpe?g|gif|svg|webp|avif|ico|woff2?)$ {
        expires 7d;
        add_header Cache-Control "public";
${headers(release, '        ')}    }
    error_page 404 ${basePath}404.html;
}
`;
}

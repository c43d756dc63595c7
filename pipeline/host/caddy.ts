import type { HostConfig } from '../kube/config.js';
import { checkBasePath, GZIP_TYPES, HEALTH_PATH } from '../nginx.js';
import { RELEASE_HEADER } from '../verify/release-header.js';

const ACME_DIRECTORIES = {
  production: 'https://acme-v02.api.letsencrypt.org/directory',
  staging: 'https://acme-staging-v02.api.letsencrypt.org/directory',
} as const;

export function acmeDirectory(acme: HostConfig['acme']): string {
  return acme.ca === 'production' || acme.ca === 'staging' ? ACME_DIRECTORIES[acme.ca] : acme.ca;
}

/**
 * Caddy redirects HTTP to HTTPS by itself, on every address when the site binds none. With
 * `bind`, Caddy 2.6's own redirect server listens on the last address only (IPv6 and no
 * IPv4), so the redirect is written out, on every bound address. ACME's HTTP challenge still
 * gets through: Caddy answers it before any route.
 */
function httpRedirect(input: Pick<SiteConfigInput, 'bind' | 'domains' | 'httpsPort'>): string {
  if (!input.bind) return '';
  const port = input.httpsPort && input.httpsPort !== 443 ? `:${input.httpsPort}` : '';
  return `${input.domains.map((d) => `http://${d}`).join(', ')} {
\tbind ${input.bind.join(' ')}
\tredir https://{host}${port}{uri} 308
}
`;
}

/** The cookie that ties a visitor's asset requests to the release of the page that linked them. */
export const RELEASE_COOKIE = 'sitepipe-release';

/** The empty file in each release that names it: releases/<tag>/.sitepipe-release-<tag>. */
export const RELEASE_MARKER = '.sitepipe-release-';

/**
 * Serving the live release: `current`, resolved by the kernel at every open, so a switch is the
 * rename alone and Caddy is not reloaded.
 *
 * Sticky assets: every page sets a cookie naming its release, and an asset request carrying it
 * is served from that release while the server keeps it, so a page fetched just before a switch
 * never gets the next release's stylesheet or script. Pages, requests without the cookie and
 * releases no longer kept get the live release.
 */
function serveRelease(input: SiteConfigInput, base: string): string {
  const q = (s: string) => JSON.stringify(s);
  const current = `${input.root}/current`;
  const lines = [
    'route {',
    `\t@marker path /${RELEASE_MARKER}*`,
    '\trespond @marker 404',
    `\tvars release_dir ${q(current)}`,
  ];
  if (input.stickyAssets !== false) {
    lines.push(
      '\t@sticky {',
      `\t\theader_regexp sticky Cookie "(?:^|;\\s*)${RELEASE_COOKIE}=([0-9a-f]{7,40}(?:-dirty)?)(?:;|$)"`,
      '\t\tnot path / */ *.html *.xml',
      '\t}',
      '\tvars @sticky {',
      `\t\tmarker /${RELEASE_MARKER}{http.regexp.sticky.1}`,
      `\t\trelease_dir ${q(`${input.root}/releases/{http.regexp.sticky.1}`)}`,
      '\t}',
      '\t@gone not file {',
      '\t\troot {http.vars.release_dir}',
      '\t\ttry_files {path}',
      '\t}',
      '\tvars @gone {',
      '\t\tmarker {http.vars.live_marker}',
      `\t\trelease_dir ${q(current)}`,
      '\t}',
    );
  }
  if (input.stickyAssets !== false) {
    lines.push(
      '\t@page path / */ *.html',
      `\theader @page Set-Cookie "${RELEASE_COOKIE}={sitepipe_release}; Path=${base}; Secure; SameSite=Lax"`,
    );
  }
  if (input.releaseHeader) lines.push(`\theader ${RELEASE_HEADER} {sitepipe_release}`);
  lines.push(
    '\troot * {http.vars.release_dir}',
    '\tfile_server {',
    '\t\tindex index.html index.xml',
    '\t}',
    '}',
  );
  return lines.map((l) => `\t\t${l}\n`).join('');
}

/**
 * The live release's name, on every response (redirects, /healthz and errors too, as the nginx
 * image sends it). Caddy 2.6 has no placeholder for a file's content, so each release holds an
 * empty marker file whose name says which release it is: found under `current` with a glob, cut
 * to the tag by `map` (evaluated when the placeholder is read, so a sticky asset's route can
 * point it at another release).
 */
function liveRelease(input: SiteConfigInput): string {
  const current = JSON.stringify(`${input.root}/current`);
  return `\t@live file {
\t\troot ${current}
\t\ttry_files /${RELEASE_MARKER}*
\t}
\tvars @live {
\t\tmarker {http.matchers.file.relative}
\t\tlive_marker {http.matchers.file.relative}
\t}
\tmap {http.vars.marker} {sitepipe_release} {
\t\t~^/\\${RELEASE_MARKER}(.+)$ "\${1}"
\t}
${input.releaseHeader ? `\theader ${RELEASE_HEADER} {sitepipe_release}\n` : ''}`;
}

/** The static-asset extensions nginx's image gives a week of caching (pipeline/nginx.ts). */
const STATIC_ASSET = '(?i)\\.(?:css|js|png|jpe?g|gif|svg|webp|avif|ico|woff2?)$';

export interface SiteConfigInput {
  domains: readonly string[];
  /** The releases' root on the server: Caddy serves root/current. */
  root: string;
  /** Send Sitepipe-Release (image.releaseHeader). */
  releaseHeader: boolean;
  /** The live release's base path (its metadata's). */
  basePath: string;
  acme: HostConfig['acme'];
  bind?: readonly string[] | undefined;
  /** Asset requests follow the release of the page that linked them (a cookie); default on. */
  stickyAssets?: boolean;
  /** Caddy's HTTPS port, for the redirects (default 443). */
  httpsPort?: number;
  /** A preview: every response says `X-Robots-Tag: noindex`, so search engines keep to production. */
  noindex?: boolean;
}

/**
 * The Caddyfile site block. Caddy gets and renews the certificate by ACME and redirects HTTP to
 * HTTPS by itself for named domains. It does not name a release: it serves root/current, so a
 * switch is a rename and needs no reload; it changes (and Caddy is reloaded, gracefully) only
 * when the domains, the base path or these settings do. The headers, cache rules, compressed
 * types, 404 page and /healthz are the nginx image's.
 */
export function siteConfig(input: SiteConfigInput): string {
  const base = checkBasePath(input.basePath);
  const q = (s: string) => JSON.stringify(s);
  const tlsOptions = [`ca ${acmeDirectory(input.acme)}`];
  if (input.acme.caRoot) tlsOptions.push(`ca_root ${q(input.acme.caRoot)}`);
  // The headers of every response; errors are answered by handle_errors, so they are repeated there.
  const always = (indent: string) =>
    `${indent}header Strict-Transport-Security "max-age=31536000"\n${input.noindex ? `${indent}header X-Robots-Tag noindex\n` : ''}`;
  // One line per type: Caddy ORs the values of one header field.
  const types = ['text/html', ...GZIP_TYPES].map((t) => `\t\t\theader Content-Type ${t}*\n`).join('');
  const serve = serveRelease(input, base);
  const site =
    base === '/'
      ? `\thandle {\n${serve}\t}\n`
      : `\tredir / ${base} 302\n\thandle_path ${base}* {\n${serve}\t}\n`;
  const current = q(`${input.root}/current`);
  return `# Written by sitepipe for the releases under ${input.root}. Do not edit: sitepipe rewrites it.
${httpRedirect(input)}${input.domains.join(', ')} {
${input.bind ? `\tbind ${input.bind.join(' ')}\n` : ''}\ttls${input.acme.email ? ` ${input.acme.email}` : ''} {
${tlsOptions.map((o) => `\t\t${o}\n`).join('')}\t}
${always('\t')}${liveRelease(input)}\tencode zstd gzip {
\t\tmatch {
${types}\t\t}
\t}
\t@static path_regexp ${STATIC_ASSET}
\theader @static Cache-Control "public, max-age=604800"
\thandle ${HEALTH_PATH} {
\t\trespond "ok" 200
\t}
${site}\thandle_errors {
${always('\t\t')}${input.releaseHeader ? `\t\theader ${RELEASE_HEADER} {sitepipe_release}\n` : ''}\t\t@notFound expression {err.status_code} == 404
\t\thandle @notFound {
\t\t\troot * ${current}
\t\t\trewrite * /404.html
\t\t\tfile_server
\t\t}
\t\trespond "{err.status_code} {err.status_text}"
\t}
}
`;
}

/** The site block before the first publish: the certificate is obtained already, visitors get a 503. */
export function placeholderConfig(
  input: Omit<SiteConfigInput, 'root' | 'releaseHeader' | 'basePath'>,
): string {
  const tlsOptions = [`ca ${acmeDirectory(input.acme)}`];
  if (input.acme.caRoot) tlsOptions.push(`ca_root ${JSON.stringify(input.acme.caRoot)}`);
  return `# Written by sitepipe host init: no release is published yet.
${httpRedirect(input)}${input.domains.join(', ')} {
${input.bind ? `\tbind ${input.bind.join(' ')}\n` : ''}\ttls${input.acme.email ? ` ${input.acme.email}` : ''} {
${tlsOptions.map((o) => `\t\t${o}\n`).join('')}\t}
\theader Strict-Transport-Security "max-age=31536000"
\thandle ${HEALTH_PATH} {
\t\trespond "ok" 200
\t}
\trespond "no release is published yet" 503
}
`;
}

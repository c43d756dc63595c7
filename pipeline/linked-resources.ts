import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Parser } from 'htmlparser2';

/** Attributes that load a resource when the page is shown, by element. */
const LOADED: Record<string, readonly string[]> = {
  script: ['src'],
  img: ['src', 'srcset'],
  source: ['src', 'srcset'],
  video: ['src', 'poster'],
  audio: ['src'],
  track: ['src'],
  iframe: ['src'],
  embed: ['src'],
};

/** <link rel=…> kinds whose href the browser fetches for the page itself. */
const LOADED_LINKS = new Set([
  'stylesheet',
  'icon',
  'shortcut',
  'apple-touch-icon',
  'preload',
  'modulepreload',
  'manifest',
]);

/**
 * "a.png 1x,b.png 2x" -> ["a.png", "b.png"], as HTML parses a srcset: a URL is a run of
 * non-space characters (it may hold commas), and its descriptors run to the next comma.
 */
function srcsetUrls(value: string): string[] {
  const urls: string[] = [];
  for (const m of value.matchAll(/[\s,]*(\S+)([^,]*)/g)) {
    const url = m[1] as string;
    // A URL ending in a comma had no descriptors: the comma ends the candidate.
    const bare = url.replace(/,+$/, '');
    if (bare) urls.push(bare);
    if (bare !== url && m[2]) urls.push(...srcsetUrls(m[2]));
  }
  return urls;
}

/** Every URL an HTML page loads (stylesheets, scripts, images, media), as written. */
export function pageResourceUrls(html: string): string[] {
  const urls: string[] = [];
  const parser = new Parser(
    {
      onopentag(name, attrs) {
        if (name === 'link') {
          const rel = (attrs.rel ?? '').toLowerCase().split(/\s+/);
          if (attrs.href && rel.some((r) => LOADED_LINKS.has(r))) urls.push(attrs.href);
          return;
        }
        for (const attr of LOADED[name] ?? []) {
          const value = attrs[attr];
          if (value) urls.push(...(attr === 'srcset' ? srcsetUrls(value) : [value]));
        }
      },
    },
    { decodeEntities: true },
  );
  parser.end(html);
  return urls;
}

/** Every url(…) a stylesheet loads (fonts, background images). */
export function stylesheetUrls(css: string): string[] {
  return [...css.matchAll(/url\(\s*(['"]?)([^'")]+)\1\s*\)/g)].map((m) => (m[2] as string).trim());
}

/**
 * The site's own file behind a URL path ("/blog/a/" -> "<out>/a/index.html"), or null when it
 * is not under the base path or not a file of the render.
 */
export function fileFor(outputDir: string, basePath: string, urlPath: string): string | null {
  if (!urlPath.startsWith(basePath)) return null;
  const rel = decodeURIComponent(urlPath.slice(basePath.length));
  for (const candidate of rel === '' || rel.endsWith('/')
    ? [`${rel}index.html`]
    : [rel, `${rel}/index.html`]) {
    const path = join(outputDir, candidate);
    if (statSync(path, { throwIfNoEntry: false })?.isFile()) return path;
  }
  return null;
}

/**
 * The same-site resources the given pages load, and the stylesheets those load in turn, as
 * URL paths (with any query), each once. `siteURL` is the site's baseURL: an absolute URL on
 * another origin is not ours to check.
 */
export function linkedResources(opts: {
  outputDir: string;
  basePath: string;
  siteURL: string;
  pages: readonly string[];
}): string[] {
  const site = new URL(opts.siteURL || 'http://site.invalid/', 'http://site.invalid/');
  const found = new Set<string>();
  const pages = new Set(opts.pages);
  const visit = (from: string, urls: readonly string[]) => {
    for (const raw of urls) {
      if (/^(data|mailto|javascript|blob):/i.test(raw)) continue;
      let url: URL;
      try {
        url = new URL(raw, new URL(from, site));
      } catch {
        continue;
      }
      if (!/^https?:$/.test(url.protocol) || url.host !== site.host) continue;
      const path = `${url.pathname}${url.search}`;
      if (pages.has(path) || found.has(path)) continue;
      found.add(path);
      if (url.pathname.endsWith('.css')) {
        const file = fileFor(opts.outputDir, opts.basePath, url.pathname);
        if (file) visit(url.pathname, stylesheetUrls(readFileSync(file, 'utf8')));
      }
    }
  };
  for (const page of opts.pages) {
    const file = fileFor(opts.outputDir, opts.basePath, page);
    if (file?.endsWith('.html')) visit(page, pageResourceUrls(readFileSync(file, 'utf8')));
  }
  return [...found].sort();
}

import { runProcess } from './process.js';

export interface SiteBaseOptions {
  hugoPath: string;
  siteDir: string;
  baseURL?: string;
  environment?: string;
  signal?: AbortSignal;
}

/**
 * The baseURL Hugo renders with (the config override, else what `hugo config` says for the
 * production environment) and the URL path the site lives under ("/" or e.g. "/blog/"). The
 * image serves the site under this path, so that its own links resolve.
 */
export async function siteBase(opts: SiteBaseOptions): Promise<{ url: string; path: string }> {
  const url = opts.baseURL ?? (await hugoBaseURL(opts));
  return { url, path: basePathOf(url) };
}

export async function siteBasePath(opts: SiteBaseOptions): Promise<string> {
  return (await siteBase(opts)).path;
}

async function hugoBaseURL(opts: SiteBaseOptions): Promise<string> {
  const { stdout } = await runProcess(
    opts.hugoPath,
    ['config', '--source', opts.siteDir, '--environment', opts.environment ?? 'production'],
    { signal: opts.signal, timeoutMs: 60_000, code: 'HUGO_CONFIG_FAILED', hint: 'fix the Hugo config' },
  );
  const line = /^baseurl\s*=\s*"([^"]*)"/m.exec(stdout);
  return line?.[1] ?? '';
}

/** "https://example.com/blog" -> "/blog/"; "", "/" or a bare host -> "/". */
export function basePathOf(baseURL: string): string {
  let path: string;
  try {
    path = new URL(baseURL, 'http://site.invalid/').pathname;
  } catch {
    return '/';
  }
  const trimmed = decodeURIComponent(path).replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? '/' : `/${trimmed}/`;
}

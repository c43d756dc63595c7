import { runProcess } from './process.js';

/**
 * The URL path the site lives under ("/" or e.g. "/blog/"), from the baseURL Hugo renders
 * with: the config override, else what `hugo config` says for the production environment.
 * The image serves the site under this path, so that its own links resolve.
 */
export async function siteBasePath(opts: {
  hugoPath: string;
  siteDir: string;
  baseURL?: string;
  environment?: string;
  signal?: AbortSignal;
}): Promise<string> {
  const baseURL = opts.baseURL ?? (await hugoBaseURL(opts));
  return basePathOf(baseURL);
}

async function hugoBaseURL(opts: {
  hugoPath: string;
  siteDir: string;
  environment?: string;
  signal?: AbortSignal;
}): Promise<string> {
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

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  // `hugo config` creates the publish and resource dirs; they must not appear in the site.
  const scratch = await mkdtemp(join(tmpdir(), 'sitepipe-hugo-config-'));
  try {
    const { stdout } = await runProcess(
      opts.hugoPath,
      ['config', '--source', opts.siteDir, '--environment', opts.environment ?? 'production'],
      {
        env: { HUGO_PUBLISHDIR: join(scratch, 'public'), HUGO_RESOURCEDIR: join(scratch, 'resources') },
        signal: opts.signal,
        timeoutMs: 60_000,
        code: 'HUGO_CONFIG_FAILED',
        hint: 'fix the Hugo config (the error above names the file)',
      },
    );
    return /^baseurl\s*=\s*"([^"]*)"/m.exec(stdout)?.[1] ?? '';
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
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

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from './config.js';
import { hugoConfigArgs } from './hugo-options.js';
import { runProcess } from './process.js';

export interface SiteBaseOptions {
  hugoPath: string;
  siteDir: string;
  baseURL?: string;
  environment?: string;
  /** hugo.args: those that change the config (--config, --themesDir, …) reach `hugo config` too. */
  args?: readonly string[];
  /** hugo.env: HUGO_* variables are config too (HUGO_PARAMS_…, a baseURL in a config they select). */
  env?: Record<string, string>;
  signal?: AbortSignal;
}

/** The options a site's config gives siteBase, so every caller asks Hugo what the build renders. */
export function siteBaseOptions(
  config: Config,
): Pick<SiteBaseOptions, 'baseURL' | 'environment' | 'args' | 'env'> {
  const { hugo } = config;
  return { baseURL: config.site.baseURL, environment: hugo.environment, args: hugo.args, env: hugo.env };
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
      [
        'config',
        '--source',
        opts.siteDir,
        '--environment',
        opts.environment ?? 'production',
        ...hugoConfigArgs(opts.args ?? []),
      ],
      {
        // Relative paths in hugo.args (--config) are the site's, as in the build.
        cwd: opts.siteDir,
        env: {
          ...opts.env,
          HUGO_PUBLISHDIR: join(scratch, 'public'),
          HUGO_RESOURCEDIR: join(scratch, 'resources'),
        },
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

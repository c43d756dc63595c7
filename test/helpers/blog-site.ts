import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Sets the baseURL in a copy of example/'s hugo.toml, with `topLevel` config lines put before
 * its first table (where TOML's top-level keys must be).
 */
export async function setHugoBaseURL(siteDir: string, baseURL: string, topLevel = ''): Promise<void> {
  const hugoToml = join(siteDir, 'hugo.toml');
  const toml = (await readFile(hugoToml, 'utf8')).replace(/^baseURL = .*$/m, `baseURL = '${baseURL}'`);
  const firstTable = toml.search(/^\[/m);
  await writeFile(hugoToml, `${toml.slice(0, firstTable)}${topLevel}${toml.slice(firstTable)}`);
}

/**
 * Links the posts' images under `basePath`, as a site living under a path is written: Hugo adds
 * the base path to what its templates link (relURL, .RelPermalink), not to a Markdown image's
 * root-relative /images/….
 */
export async function linkImagesUnder(siteDir: string, basePath: string): Promise<void> {
  for (const entry of await readdir(join(siteDir, 'content'), { recursive: true })) {
    if (!entry.endsWith('.md')) continue;
    const file = join(siteDir, 'content', entry);
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replaceAll('](/images/', `](${basePath}images/`));
  }
}

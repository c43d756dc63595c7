import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { packageRoot } from '../../pipeline/paths.js';

export const EXAMPLE_DIR = join(packageRoot(), 'example');

export interface SiteRepo {
  dir: string;
  config: string;
  git(...args: string[]): Promise<string>;
  remove(): Promise<void>;
}

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'Site Author',
  GIT_AUTHOR_EMAIL: 'author@example.com',
  GIT_COMMITTER_NAME: 'Site Author',
  GIT_COMMITTER_EMAIL: 'author@example.com',
  GIT_AUTHOR_DATE: '2026-03-01T12:00:00Z',
  GIT_COMMITTER_DATE: '2026-03-01T12:00:00Z',
};

/**
 * A temp git repo holding a copy of example/ on branch `branch`, committed, with the
 * config's YAML replaced by `configYaml` when given.
 */
export async function exampleRepo(opts: { branch?: string; configYaml?: string } = {}): Promise<SiteRepo> {
  const dir = await mkdtemp(join(tmpdir(), 'sitepipe-site-'));
  await cp(EXAMPLE_DIR, dir, {
    recursive: true,
    filter: (src) => !/\/(public|resources|\.sitepipe)$/.test(src),
  });
  if (opts.configYaml !== undefined) await writeFile(join(dir, 'sitepipe.yaml'), opts.configYaml);
  await writeFile(join(dir, '.gitignore'), '.sitepipe/\npublic/\nresources/\n');
  const git = async (...args: string[]) =>
    (await execa('git', args, { cwd: dir, env: GIT_ENV })).stdout.trim();
  await git('init', '-q', '-b', opts.branch ?? 'master');
  await git('add', '-A');
  await git('commit', '-q', '-m', 'site');
  return {
    dir,
    config: join(dir, 'sitepipe.yaml'),
    git,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * example/sitepipe.yaml pointed at `repository` with anonymous registry access, plus extra
 * `image:` keys and whole sections (e.g. a `deploy:` block) appended.
 */
export async function exampleConfig(
  repository: string,
  opts: { image?: readonly string[]; sections?: readonly string[] } = {},
): Promise<string> {
  const example = await readFile(join(EXAMPLE_DIR, 'sitepipe.yaml'), 'utf8');
  const imageKeys = [`repository: ${repository}`, ...(opts.image ?? [])].join('\n  ');
  return `${example.replace(/repository: .*/, imageKeys).replace(/credentials: .*/, 'credentials: none')}\n${(opts.sections ?? []).join('\n')}\n`;
}

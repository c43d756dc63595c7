import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';

/** A tiny Hugo site (a few pages) in a git repo, pushed to a bare remote: what `sitepipe serve` fetches from. */
export interface ServeSite {
  root: string;
  /** The bare repository, as serve.remote. */
  remote: string;
  /** A clone of the remote that tests commit in and push from. */
  work: string;
  git(...args: string[]): Promise<string>;
  /** Commits a change to one page on `branch` (created from master when new) and pushes it; returns the commit. */
  commitAndPush(branch: string, message: string): Promise<string>;
  remove(): Promise<void>;
}

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'Site Author',
  GIT_AUTHOR_EMAIL: 'author@example.com',
  GIT_COMMITTER_NAME: 'Site Author',
  GIT_COMMITTER_EMAIL: 'author@example.com',
};

const FILES: Record<string, string> = {
  'hugo.toml':
    "baseURL = 'https://example.com/'\ntitle = 'Tiny'\ndisableKinds = ['taxonomy', 'term', 'RSS']\n",
  'layouts/_default/baseof.html':
    '<!doctype html><html><head><title>{{ .Title }}</title></head><body>{{ block "main" . }}{{ end }}</body></html>\n',
  'layouts/index.html':
    '{{ define "main" }}<h1>{{ .Site.Title }}</h1>{{ range .Site.RegularPages }}<a href="{{ .RelPermalink }}">{{ .Title }}</a>{{ end }}{{ end }}\n',
  'layouts/_default/single.html': '{{ define "main" }}<h1>{{ .Title }}</h1>{{ .Content }}{{ end }}\n',
  'layouts/_default/list.html': '{{ define "main" }}<h1>{{ .Title }}</h1>{{ end }}\n',
  'layouts/404.html': '{{ define "main" }}<h1>Not found</h1>{{ end }}\n',
  'content/_index.md': '---\ntitle: Home\n---\n',
  'content/about.md': '---\ntitle: About\n---\nAbout this site.\n',
  'content/posts/first.md': '---\ntitle: First\n---\nThe first post.\n',
  'content/posts/second.md': '---\ntitle: Second\n---\nThe second post.\n',
  '.gitignore': '.sitepipe/\npublic/\nresources/\n',
};

export function siteConfig(repository: string, credentials = 'none'): string {
  return [
    'version: 1',
    'hugo: { version: 0.111.3 }',
    'pygments: { enabled: false }',
    'image:',
    `  repository: ${repository}`,
    '  base: 127.0.0.1:5000/library/nginx:stable',
    `registry: { credentials: ${credentials} }`,
    '',
  ].join('\n');
}

export async function serveSite(repository: string, credentials = 'none'): Promise<ServeSite> {
  const root = await mkdtemp(join(tmpdir(), 'sitepipe-serve-site-'));
  const remote = join(root, 'remote.git');
  const work = join(root, 'work');
  const git = async (...args: string[]) =>
    (await execa('git', args, { cwd: work, env: GIT_ENV })).stdout.trim();
  await execa('git', ['init', '-q', '--bare', '-b', 'master', remote]);
  await mkdir(work);
  for (const [path, text] of Object.entries({
    ...FILES,
    'sitepipe.yaml': siteConfig(repository, credentials),
  })) {
    await mkdir(dirname(join(work, path)), { recursive: true });
    await writeFile(join(work, path), text);
  }
  await git('init', '-q', '-b', 'master');
  await git('add', '-A');
  await git('commit', '-q', '-m', 'a tiny site');
  await git('remote', 'add', 'origin', remote);
  await git('push', '-q', 'origin', 'master');
  let n = 0;
  return {
    root,
    remote,
    work,
    git,
    async commitAndPush(branch, message) {
      const branches = await git('branch', '--list', branch);
      await git('checkout', '-q', ...(branches ? [branch] : ['-b', branch, 'master']));
      n++;
      await writeFile(
        join(work, 'content/posts/first.md'),
        `---\ntitle: First\n---\nEdit ${n} on ${branch}.\n`,
      );
      await git('commit', '-q', '-am', message);
      await git('push', '-q', 'origin', branch);
      return git('rev-parse', 'HEAD');
    },
    remove: () => rm(root, { recursive: true, force: true }),
  };
}

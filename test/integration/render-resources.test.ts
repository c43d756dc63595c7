import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { filesUnder } from '../../pipeline/paths.js';
import { runSteps } from '../helpers/run.js';
import { exampleConfig } from '../helpers/site-repo.js';

const RENDER = ['source', 'hugo', 'pygments', 'render'];

/** A site that makes Hugo generate resources: a resized page image and SCSS through toCSS. */
const SITE: Record<string, string | Buffer> = {
  'hugo.toml':
    "baseURL = 'https://www.example.com/'\ntitle = 'Resources'\ndisableKinds = ['taxonomy', 'term']\n",
  'layouts/index.html':
    '{{ $css := resources.Get "scss/main.scss" | toCSS }}<link rel="stylesheet" href="{{ $css.RelPermalink }}">{{ range .Site.RegularPages }}<a href="{{ .RelPermalink }}">{{ .Title }}</a>{{ end }}\n',
  'layouts/_default/single.html':
    '{{ with .Resources.GetMatch "*.png" }}<img src="{{ (.Resize "8x").RelPermalink }}">{{ end }}\n',
  'layouts/404.html': 'not found\n',
  'assets/scss/main.scss': '$ink: #123456;\nbody { color: $ink; }\n',
  'content/photo/index.md': '---\ntitle: Photo\n---\n',
};

describe("render keeps Hugo's generated resources out of the site (real git, hugo)", () => {
  let root = '';
  afterEach(() => rm(root, { recursive: true, force: true }));

  /** The site, committed; its .gitignore leaves resources/ visible, as many sites' do. */
  async function siteRepo(): Promise<{ dir: string; config: string; commit(): Promise<void> }> {
    root = await mkdtemp(join(tmpdir(), 'sitepipe-resources-'));
    const dir = join(root, 'site');
    for (const [path, text] of Object.entries(SITE)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), text);
    }
    await cp(
      join(import.meta.dirname, '../../example/static/images/forest.png'),
      join(dir, 'content/photo/photo.png'),
    );
    await writeFile(join(dir, '.gitignore'), '.sitepipe/\n');
    await writeFile(join(dir, 'sitepipe.yaml'), await exampleConfig('127.0.0.1:5000/resources'));
    const git = (...args: string[]) =>
      execa('git', ['-c', 'user.name=A', '-c', 'user.email=a@example.com', ...args], { cwd: dir });
    await git('init', '-q');
    const commit = async () => {
      await git('add', '-A');
      await git('commit', '-qm', 'site');
    };
    await commit();
    return { dir, config: join(dir, 'sitepipe.yaml'), commit };
  }

  it('runs twice in a row without --allow-dirty, leaving no resources/ files in the site', async () => {
    const site = await siteRepo();
    await runSteps({ config: site.config, only: RENDER });
    const { outputs } = await runSteps({ config: site.config, only: RENDER });
    const out = outputs.render?.outputDir as string;
    expect(filesUnder(out).some((f) => /^photo\/photo_hu.*\.png$/.test(f))).toBe(true);
    expect(await readFile(join(out, 'scss/main.css'), 'utf8')).toContain('#123456');
    const left = await readdir(join(site.dir, 'resources')).then(
      () => filesUnder(join(site.dir, 'resources')),
      () => [],
    );
    expect(left).toEqual([]);
    // Hugo's processed image is in the state dir, for the next render to reuse.
    expect(filesUnder(join(site.dir, '.sitepipe/hugo-resources')).some((f) => f.includes('photo_hu'))).toBe(
      true,
    );
  });

  it('gives Hugo the resources a site commits, as it found them in the site before', async () => {
    const site = await siteRepo();
    await runSteps({ config: site.config, only: RENDER });
    // Commit what Hugo generated, as a site commits resources/_gen, with the resized image marked
    // (another valid PNG): Hugo takes a processed image it finds there instead of making it again.
    await cp(join(site.dir, '.sitepipe/hugo-resources/_gen'), join(site.dir, 'resources/_gen'), {
      recursive: true,
    });
    const [resized] = filesUnder(join(site.dir, 'resources/_gen')).filter((f) => f.includes('photo_hu'));
    const marker = join(import.meta.dirname, '../../example/static/images/sunset.png');
    await cp(marker, join(site.dir, 'resources/_gen', resized as string));
    await site.commit();
    await rm(join(site.dir, '.sitepipe'), { recursive: true });

    const { outputs } = await runSteps({ config: site.config, only: RENDER });
    const out = outputs.render?.outputDir as string;
    const [published] = filesUnder(out).filter((f) => f.includes('photo_hu'));
    expect(await readFile(join(out, published as string))).toEqual(await readFile(marker));
    // The site is still as committed: another run finds nothing changed.
    await runSteps({ config: site.config, only: RENDER });
  });
});

import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../pipeline/config.js';
import type { HugoInstall, PygmentsInstall, SourceInfo } from '../../pipeline/records.js';
import type { RunContext } from '../../pipeline/step.js';
import { resolvePygments } from '../../steps/pygments.js';
import { countFiles, render } from '../../steps/render.js';

const EXAMPLE = resolve(import.meta.dirname, '../../example');
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const CONFIG = 'hugo: {version: 0.111.3}\nimage: {repository: 127.0.0.1:5000/website}\n';

const hugo: HugoInstall = { path: '/usr/bin/hugo', version: '0.111.3', extended: true, origin: 'path' };
const source: SourceInfo = {
  commit: COMMIT,
  shortSha: COMMIT.slice(0, 12),
  branch: 'main',
  commitTime: '2024-07-01T18:00:00.000Z',
  dirty: false,
  sourceUrl: null,
};
/** Made by the real pygments step with Debian's pygmentize, before the tests. */
let pygments: PygmentsInstall;

/** The render step with its inputs; git's and Pygments' outputs arrive as promises, as the runner hands them. */
const run = (ctx: RunContext, install: PygmentsInstall = pygments) =>
  render.run(ctx, { hugo }, { source: Promise.resolve(source), pygments: Promise.resolve(install) });

const roots: string[] = [];

interface Harness {
  ctx: RunContext;
  site: string;
  out: string;
  lines: string[];
  /** What the render left for the end of the run (the runner would run it then). */
  afterRun: Array<() => Promise<void>>;
}

/** A copy of example/ in a temp dir, and a RunContext for it built by hand. */
async function harness(configText = CONFIG): Promise<Harness> {
  const root = await mkdtemp(join(tmpdir(), 'sitepipe-render-'));
  roots.push(root);
  const site = join(root, 'site');
  // Build leftovers in a developer's checkout are not part of the site.
  const skip = new Set(['resources', 'public', '.hugo_build.lock', 'sitepipe.yaml', '.sitepipe']);
  await cp(EXAMPLE, site, { recursive: true, filter: (src) => src === EXAMPLE || !skip.has(basename(src)) });
  const lines: string[] = [];
  const afterRun: Array<() => Promise<void>> = [];
  const configPath = join(site, 'sitepipe.yaml');
  const ctx: RunContext = {
    config: parseConfig(configText, configPath),
    configPath,
    siteDir: site,
    stateDir: join(root, 'state'),
    cacheDir: join(root, 'cache'),
    dryRun: false,
    allowDirty: false,
    signal: new AbortController().signal,
    log: {
      info: (m) => lines.push(`info: ${m}`),
      warn: (m) => lines.push(`warn: ${m}`),
      secret: () => {},
    },
    afterRun: (task) => afterRun.push(task),
    env: process.env,
  };
  return { ctx, site, out: join(ctx.stateDir, 'public'), lines, afterRun };
}

const read = (path: string) => readFile(path, 'utf8');

/** The output and any temp or old render trees next to it. */
const renderDirs = async (h: Harness) =>
  (await readdir(h.ctx.stateDir).catch(() => [])).filter((n) => n.startsWith('public')).sort();

beforeAll(async () => {
  const { ctx } = await harness(`${CONFIG}pygments: {style: monokai}\n`);
  pygments = await resolvePygments({ ...ctx, env: { ...process.env, PATH: '/usr/bin:/bin' } });
});

afterAll(async () => {
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});

describe('render (real hugo and pygmentize)', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
  });

  it('renders the example site with RSS, sitemap, tags and highlighted code', async () => {
    const result = await run(h.ctx);

    expect(result).toMatchObject({ outputDir: h.out, hugoVersion: '0.111.3', commit: COMMIT });
    expect(result).toEqual(expect.objectContaining(countFiles(h.out)));
    expect(result.files).toBeGreaterThan(30);
    expect(render.summarize?.(result)).toMatch(/^\d+ files, \d+\.\d\d MB in \d+\.\d s$/);

    const top = await readdir(h.out);
    expect(top).toEqual(
      expect.arrayContaining([
        'index.html',
        'index.xml',
        'sitemap.xml',
        '404.html',
        'posts',
        'tags',
        'about',
      ]),
    );
    expect(await read(join(h.out, 'index.xml'))).toContain('<rss');
    expect(await read(join(h.out, 'tags/go/index.html'))).toContain('A tiny health endpoint in Go');
    expect(await read(join(h.out, 'tags/index.html'))).toContain('#typescript');

    const post = await read(join(h.out, 'posts/go-http-server/index.html'));
    expect(post).toContain('<div class="highlight">');
    expect(post).toContain('class="chroma"');
    expect(post).toContain('<span class="kn">package</span>');
    expect(post).toContain('href="/css/syntax.css"');

    const css = await read(join(h.out, 'css/syntax.css'));
    expect(css).toContain('.highlight .kn');
    expect(css).toContain('.highlight {');

    // Every page the sitemap lists was rendered.
    const sitemap = await read(join(h.out, 'sitemap.xml'));
    const locs = [...sitemap.matchAll(/<loc>https:\/\/www\.example\.com\/([^<]*)<\/loc>/g)].map(
      (m) => m[1] ?? '',
    );
    expect(locs.length).toBeGreaterThan(15);
    for (const loc of locs) await expect(read(join(h.out, loc, 'index.html'))).resolves.toContain('<html');

    // Nothing left behind: no temp dir next to the output, no build lock in the site.
    expect(await renderDirs(h)).toEqual(['public']);
    expect(await readdir(h.site)).not.toContain('.hugo_build.lock');
    expect(h.lines.filter((l) => l.startsWith('warn:'))).toEqual([]);
  });

  it('leaves no stale files from an earlier render', async () => {
    await run(h.ctx);
    await writeFile(join(h.out, 'stale.html'), 'left over');
    await rm(join(h.site, 'content/posts/field-notes.md'));

    const result = await run(h.ctx);

    const top = await readdir(h.out);
    expect(top).not.toContain('stale.html');
    expect(await readdir(join(h.out, 'posts'))).not.toContain('field-notes');
    expect(await readdir(join(h.out, 'tags'))).not.toContain('photos');
    expect(await read(join(h.out, 'sitemap.xml'))).not.toContain('field-notes');
    expect(result).toEqual(expect.objectContaining(countFiles(h.out)));
  });

  it('removes the previous tree once the run is over, and what a killed run left while Hugo runs', async () => {
    await run(h.ctx);
    await writeFile(join(h.out, 'first.txt'), 'from the first render');
    await mkdir(join(h.ctx.stateDir, 'public.tmp-killed', 'posts'), { recursive: true });
    await run(h.ctx);
    // The previous tree waits for the end of the run, so its removal slows no step.
    expect(await renderDirs(h)).toEqual(['public', 'public.old']);
    expect(await read(join(h.ctx.stateDir, 'public.old', 'first.txt'))).toBe('from the first render');
    await Promise.all(h.afterRun.splice(0).map((task) => task()));
    expect(await renderDirs(h)).toEqual(['public']);
    expect(await read(join(h.out, 'index.html'))).toContain('<html');
  });

  it("reports a broken template with Hugo's own error and keeps the previous output", async () => {
    await run(h.ctx);
    const before = countFiles(h.out);
    const single = join(h.site, 'layouts/_default/single.html');
    await writeFile(single, `${await read(single)}\n{{ .Foo `);

    const error = await run(h.ctx).catch((e: unknown) => e);

    expect(error).toMatchObject({ name: 'SitepipeError', code: 'HUGO_BUILD_FAILED' });
    const { message, details } = error as { message: string; details: string[] };
    expect(message).toMatch(/^hugo could not build the site:\nError: Error building site: /);
    expect(message).toContain('parse failed: template: _default/single.html');
    expect(message).toContain('unclosed action');
    expect(details.some((d) => d.includes('/usr/bin/hugo --source'))).toBe(true);
    expect(countFiles(h.out)).toEqual(before);
    expect(await renderDirs(h)).toEqual(['public']);
  });

  it('shows errors Hugo only logs (errorf), not just "logged N error(s)"', async () => {
    const single = join(h.site, 'layouts/_default/single.html');
    await writeFile(
      single,
      `${await read(single)}\n{{ if eq .Title "About" }}{{ errorf "no author for %s" .Title }}{{ end }}`,
    );

    await expect(run(h.ctx)).rejects.toMatchObject({
      code: 'HUGO_BUILD_FAILED',
      message: expect.stringMatching(/ERROR no author for About\nError: Error building site: logged 1 error/),
    });
  });

  it('overrides baseURL from sitepipe.yaml', async () => {
    const staging = await harness(`${CONFIG}site: {baseURL: 'https://staging.example.org/'}\n`);
    await run(staging.ctx);
    const sitemap = await read(join(staging.out, 'sitemap.xml'));
    expect(sitemap).toContain('<loc>https://staging.example.org/posts/</loc>');
    expect(sitemap).not.toContain('www.example.com');
  });

  it('writes no stylesheet when Pygments is disabled', async () => {
    const disabled: PygmentsInstall = {
      ...pygments,
      enabled: false,
      path: null,
      version: null,
      stylesheet: null,
      css: null,
    };
    await run(h.ctx, disabled);
    expect(await readdir(join(h.out, 'css'))).toEqual(['site.css']);
  });

  it('treats a cancelled render as an interruption and leaves no temp dir', async () => {
    const abort = new AbortController();
    h.ctx.signal = abort.signal;
    const running = run(h.ctx);
    setTimeout(() => abort.abort(), 50);
    await expect(running).rejects.toMatchObject({ name: 'AbortError' });
    expect(await renderDirs(h)).toEqual([]);
  });

  it('fails with SITE_DIR_MISSING when the site dir does not exist', async () => {
    h.ctx.siteDir = join(h.site, 'no-such-dir');
    await expect(run(h.ctx)).rejects.toMatchObject({
      code: 'SITE_DIR_MISSING',
      hint: expect.stringContaining('site.dir'),
    });
  });

  it('fails with SITE_NOT_HUGO when the dir has no Hugo config', async () => {
    const plain = join(h.site, 'content');
    await mkdir(plain, { recursive: true });
    h.ctx.siteDir = plain;
    await expect(run(h.ctx)).rejects.toMatchObject({
      code: 'SITE_NOT_HUGO',
      message: expect.stringContaining('hugo.toml'),
    });
  });
});

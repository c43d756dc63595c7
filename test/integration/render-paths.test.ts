import { randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filesUnder } from '../../pipeline/paths.js';
import { SETUP_REGISTRY } from '../helpers/registry.js';
import { runSteps } from '../helpers/run.js';
import { EXAMPLE_DIR, exampleConfig } from '../helpers/site-repo.js';

const BUILD = ['source', 'tag', 'hugo', 'pygments', 'render', 'image'];

/**
 * The example site plus the asset pipelines that write Hugo's working dir into the output:
 * SCSS with a source map (libsass sets its sourceRoot to the working dir and names a theme's
 * partial relative to the process's), and js.Build of a theme module (esbuild names it
 * "ns-hugo:<dir>/…" in the script, its map and an inline map).
 */
const EXTRA: Record<string, string> = {
  'themes/t/assets/scss/_vars.scss': '$ink: #123456;\n',
  'themes/t/assets/js/lib.js': 'export const greet = () => "hi";\n',
  'assets/scss/main.scss': '@import "vars";\nbody { color: $ink; }\n',
  'assets/js/main.js': 'import { greet } from "js/lib.js";\nconsole.log(greet());\n',
  'layouts/partials/assets.html': [
    '{{ $css := resources.Get "scss/main.scss" | toCSS (dict "enableSourceMap" true) }}',
    '{{ $js := resources.Get "js/main.js" | js.Build (dict "sourceMap" "external") }}',
    '{{ $inline := resources.Get "js/main.js" | js.Build (dict "sourceMap" "inline" "targetPath" "js/inline.js") }}',
    '<link rel="stylesheet" href="{{ $css.RelPermalink }}"><script src="{{ $js.RelPermalink }}"></script>',
    '<script src="{{ $inline.RelPermalink }}"></script>',
    '',
  ].join('\n'),
};

describe('the render does not depend on where the site is checked out (real git, hugo, registry)', () => {
  let root = '';
  const origin = () => join(root, 'origin');
  const repository = `${SETUP_REGISTRY}/paths-${randomBytes(4).toString('hex')}/website`;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'sitepipe-paths-'));
    const dir = origin();
    await cp(EXAMPLE_DIR, dir, {
      recursive: true,
      filter: (src) => !/\/(public|resources|\.sitepipe)$/.test(src),
    });
    for (const [path, text] of Object.entries(EXTRA)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), text);
    }
    const index = join(dir, 'layouts/index.html');
    await writeFile(index, `${await readFile(index, 'utf8')}{{ partial "assets.html" . }}\n`);
    await writeFile(join(dir, 'hugo.toml'), `theme = 't'\n${await readFile(join(dir, 'hugo.toml'), 'utf8')}`);
    await writeFile(join(dir, '.gitignore'), '.sitepipe/\n');
    await writeFile(join(dir, 'sitepipe.yaml'), await exampleConfig(repository));
    const git = (...args: string[]) =>
      execa('git', ['-c', 'user.name=A', '-c', 'user.email=a@example.com', ...args], { cwd: dir });
    await git('init', '-q');
    await git('add', '-A');
    await git('commit', '-qm', 'site');
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  /** Clones origin to `path` (under the temp root) and builds it up to the image. */
  async function build(path: string) {
    const dir = join(root, path);
    await execa('git', ['clone', '-q', origin(), dir]);
    const { outputs } = await runSteps({ config: join(dir, 'sitepipe.yaml'), only: BUILD });
    const out = outputs.render?.outputDir as string;
    const files = new Map<string, Buffer>();
    for (const f of filesUnder(out).sort()) files.set(f, await readFile(join(out, f)));
    return { dir, files, digest: outputs.image?.digest };
  }

  it('gives the same bytes and the same image from two checkouts, naming neither', async () => {
    const a = await build('a');
    const b = await build('a much/longer checkout path');
    expect([...b.files.keys()]).toEqual([...a.files.keys()]);
    for (const [name, bytes] of a.files) expect(b.files.get(name)?.equals(bytes), name).toBe(true);
    for (const [name, bytes] of a.files) expect(bytes.includes(root), name).toBe(false);
    // The Docker path renders at /src, and says so in the same places.
    expect(a.files.get('scss/main.css.map')?.toString()).toContain('"sourceRoot": "/src"');
    expect(a.files.get('scss/main.css.map')?.toString()).toContain('"themes/t/assets/scss/_vars.scss"');
    expect(a.files.get('js/main.js')?.toString()).toContain('ns-hugo:/src/themes/t/assets/js/lib.js');
    const inline = a.files.get('js/inline.js')?.toString() ?? '';
    const map = Buffer.from(/base64,([A-Za-z0-9+/=]+)/.exec(inline)?.[1] ?? '', 'base64').toString();
    expect(map).toContain('ns-hugo:/src/themes/t/assets/js/lib.js');
    expect(a.digest).toMatch(/^sha256:/);
    expect(b.digest).toBe(a.digest);
  });
});

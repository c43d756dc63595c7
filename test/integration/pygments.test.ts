import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configSchema } from '../../pipeline/config.js';
import type { RunContext } from '../../pipeline/step.js';
import { pygments } from '../../steps/pygments.js';
import { expectCode } from '../helpers/expect-code.js';

/** Debian's python3-pygments; the PATH of each test is built from links to it. */
const DEBIAN_PYGMENTIZE = '/usr/bin/pygmentize';
const DEBIAN_VERSION = '2.14.0';

let work: string;

interface TestContext extends RunContext {
  lines: string[];
}

function makeContext(pygmentsConfig: Record<string, unknown>, pathDirs: string[]): TestContext {
  const config = configSchema.parse({
    hugo: { version: '0.111.3' },
    image: { repository: '127.0.0.1:5000/site' },
    pygments: pygmentsConfig,
  });
  const lines: string[] = [];
  return {
    config,
    configPath: join(work, 'sitepipe.yaml'),
    siteDir: work,
    stateDir: join(work, '.sitepipe'),
    cacheDir: join(work, 'cache', 'sitepipe'),
    dryRun: false,
    allowDirty: false,
    signal: new AbortController().signal,
    log: { info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`), secret: () => {} },
    afterRun: () => {},
    env: { ...process.env, PATH: pathDirs.join(':'), PIP_RETRIES: '0' },
    lines,
  };
}

/** A dir holding only a link named `name` to `target`. */
async function linkDir(dirName: string, name: string, target: string): Promise<string> {
  const dir = join(work, dirName);
  await mkdir(dir, { recursive: true });
  await symlink(target, join(dir, name));
  return dir;
}

/** A dir holding a pygmentize that only claims to be `version` (and fails anything else). */
async function fakePygmentizeDir(version: string): Promise<string> {
  const dir = join(work, `fake-${version}`);
  await mkdir(dir, { recursive: true });
  const script = `#!/bin/sh\n[ "$1" = -V ] || exit 1\necho 'Pygments version ${version}, (c) 2006-present by Georg Brandl.'\n`;
  await writeFile(join(dir, 'pygmentize'), script);
  await chmod(join(dir, 'pygmentize'), 0o755);
  return dir;
}

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'sitepipe-pygments-'));
});

afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('pygments step', () => {
  it('outputs a disabled record when pygments.enabled is false', async () => {
    const ctx = makeContext({ enabled: false, style: 'friendly' }, []);
    expect(await pygments.run(ctx, {})).toEqual({
      enabled: false,
      path: null,
      version: null,
      style: 'friendly',
      stylesheet: null,
      css: null,
    });
  });

  it('picks the pygmentize whose version matches, past an earlier one that does not', async () => {
    const fake = await fakePygmentizeDir('2.99.0');
    const debian = await linkDir('debian', 'pygmentize', DEBIAN_PYGMENTIZE);
    const ctx = makeContext({ version: DEBIAN_VERSION, style: 'monokai' }, [fake, debian]);

    const out = await pygments.run(ctx, {});

    expect(out).toMatchObject({
      enabled: true,
      path: join(debian, 'pygmentize'),
      version: DEBIAN_VERSION,
      style: 'monokai',
      stylesheet: 'css/syntax.css',
    });
    expect(ctx.lines).toContain(`info not using ${join(fake, 'pygmentize')}: it is 2.99.0`);
  });

  it('asks the pygmentize that had the pinned version last time first, and still checks it', async () => {
    const fake = await linkDir('fake', 'pygmentize', join(await fakePygmentizeDir('2.99.0'), 'pygmentize'));
    const debian = await linkDir('debian', 'pygmentize', DEBIAN_PYGMENTIZE);
    const first = makeContext({ version: DEBIAN_VERSION }, [fake, debian]);
    await pygments.run(first, {});
    expect(first.lines.some((l) => l.startsWith(`info not using ${join(fake, 'pygmentize')}`))).toBe(true);

    const second = makeContext({ version: DEBIAN_VERSION }, [fake, debian]);
    expect(await pygments.run(second, {})).toMatchObject({ path: join(debian, 'pygmentize') });
    expect(second.lines.some((l) => l.startsWith('info not using'))).toBe(false);

    // Gone from PATH: the search starts over.
    const third = makeContext({ version: DEBIAN_VERSION }, [fake]);
    await expectCode(pygments.run(third, {}), 'PYGMENTS_UNAVAILABLE');
  });

  it('treats 2.14 and 2.14.0 as the same version', async () => {
    const debian = await linkDir('debian', 'pygmentize', DEBIAN_PYGMENTIZE);
    const out = await pygments.run(makeContext({ version: '2.14' }, [debian]), {});
    expect(out.version).toBe(DEBIAN_VERSION);
  });

  it('takes the first working pygmentize when no version is pinned', async () => {
    const debian = await linkDir('debian', 'pygmentize', DEBIAN_PYGMENTIZE);
    const out = await pygments.run(makeContext({ stylesheet: 'assets/code.css' }, [debian]), {});
    expect(out).toMatchObject({
      path: join(debian, 'pygmentize'),
      version: DEBIAN_VERSION,
      stylesheet: 'assets/code.css',
    });
  });

  it('rejects an unknown style with PYGMENTS_STYLE_UNKNOWN, listing the styles', async () => {
    const debian = await linkDir('debian', 'pygmentize', DEBIAN_PYGMENTIZE);
    const ctx = makeContext({ version: DEBIAN_VERSION, style: 'no-such-style' }, [debian]);

    const err = await expectCode(pygments.run(ctx, {}), 'PYGMENTS_STYLE_UNKNOWN');

    expect(err.message).toContain('no-such-style');
    expect(err.hint).toContain('-L styles');
    expect(err.details.join('\n')).toMatch(/available: .*\bmonokai\b/);
  });

  it('reports PYGMENTS_UNAVAILABLE with the versions found when none matches and none can be installed', async () => {
    const fake = await fakePygmentizeDir('2.99.0');
    const debian = await linkDir('debian', 'pygmentize', DEBIAN_PYGMENTIZE);
    // No python3 on this PATH, so no venv can be made.
    const ctx = makeContext({ version: '2.13.0' }, [fake, debian]);

    const err = await expectCode(pygments.run(ctx, {}), 'PYGMENTS_UNAVAILABLE');

    expect(err.hint).toContain('install python3-pygments (apt) or set pygments.version to one on PATH');
    expect(err.hint).toContain(`2.99.0 at ${join(fake, 'pygmentize')}`);
    expect(err.hint).toContain(`${DEBIAN_VERSION} at ${join(debian, 'pygmentize')}`);
    expect(existsSync(join(ctx.cacheDir, 'pygments', '2.13.0'))).toBe(false);
  });

  it('reports PYGMENTS_UNAVAILABLE when pip cannot install the version, and leaves no venv', async () => {
    const python = await linkDir('python', 'python3', '/usr/bin/python3');
    const ctx = makeContext({ version: '0.0.1' }, [python]);

    const err = await expectCode(pygments.run(ctx, {}), 'PYGMENTS_UNAVAILABLE');

    expect(err.message).toContain('pygments==0.0.1');
    expect(err.hint).toContain('(found: none)');
    expect(existsSync(join(ctx.cacheDir, 'pygments', '0.0.1'))).toBe(false);
  });

  // Only where pip can reach a Pygments release that no PATH pygmentize has (a local index here).
  it.skipIf(!existsSync('/opt/pypi/simple/pygments'))(
    'installs a venv in the cache when no PATH pygmentize matches, and reuses it',
    async () => {
      const python = await linkDir('python', 'python3', '/usr/bin/python3');
      const debian = await linkDir('debian', 'pygmentize', DEBIAN_PYGMENTIZE);
      const ctx = makeContext({ version: '2.21.0' }, [debian, python]);
      const venvBin = join(ctx.cacheDir, 'pygments', '2.21.0', 'bin', 'pygmentize');

      expect(await pygments.run(ctx, {})).toMatchObject({ path: venvBin, version: '2.21.0' });
      const again = makeContext({ version: '2.21.0' }, [debian]);
      expect(await pygments.run(again, {})).toMatchObject({ path: venvBin, version: '2.21.0' });
      expect(again.lines.some((l) => l.startsWith('info installing'))).toBe(false);
    },
  );
});

describe('the stylesheet', () => {
  it('is class-based CSS scoped to .highlight, made by the pygmentize found', async () => {
    const debian = await linkDir('debian', 'pygmentize', DEBIAN_PYGMENTIZE);
    const { css } = await pygments.run(
      makeContext({ version: DEBIAN_VERSION, style: 'monokai' }, [debian]),
      {},
    );

    expect(css).toContain('.highlight .k ');
    expect(css).toMatch(/^\.highlight \{ background: #272822/m);
    // Every rule is scoped, including the element rules Pygments leaves global.
    expect(css).toContain('.highlight pre { line-height: 125%; }');
    const rules = (css ?? '').split('\n').filter((l) => l.includes('{'));
    expect(rules.filter((l) => !l.startsWith('.highlight'))).toEqual([]);
  });
});

import { mkdir, readdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTarget } from '../../pipeline/deploy-target.js';
import { initHosts } from '../../pipeline/host/init.js';
import { requireHostDeploy } from '../../pipeline/host/layout.js';
import type { DeployResult } from '../../pipeline/records.js';
import { DOMAIN, type HostRig, startHostRig } from '../helpers/caddy-host.js';
import type { TestContext } from '../helpers/context.js';
import { expectCode } from '../helpers/expect-code.js';
import { hostDeployInputs } from '../helpers/host-inputs.js';

/** A rendered tree whose every page and asset names its release, so a mixed response shows. */
async function writeTree(
  dir: string,
  release: string,
  posts = 20,
): Promise<{ files: number; bytes: number }> {
  await mkdir(join(dir, 'css'), { recursive: true });
  await mkdir(join(dir, 'posts'), { recursive: true });
  const files: Record<string, string> = {
    'index.html': `<!doctype html><html><head><meta name="release" content="${release}"><link rel="stylesheet" href="/css/site.css"></head><body>${'home '.repeat(200)}</body></html>\n`,
    'css/site.css': `/* release ${release} */\nbody { color: #333; }\n${'.x { margin: 0 }\n'.repeat(100)}`,
    '404.html': `<!doctype html><p>not here (release ${release})</p>\n`,
  };
  for (let i = 0; i < posts; i++)
    files[`posts/${i}/index.html`] = `<!doctype html><p>post ${i}</p>${'text '.repeat(400)}\n`;
  let bytes = 0;
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), text);
    bytes += Buffer.byteLength(text);
  }
  return { files: Object.keys(files).length, bytes };
}

const COMMITS = {
  a: 'a'.repeat(40),
  b: 'b'.repeat(40),
  c: 'c'.repeat(40),
  d: 'd'.repeat(40),
  e: 'e'.repeat(40),
};

describe('the host target on real sshd, rsync, Caddy and Pebble', () => {
  let rig: HostRig;
  let ctx: TestContext;

  async function deployTree(
    name: keyof typeof COMMITS,
    c: TestContext = ctx,
    edit?: (dir: string) => Promise<void>,
  ): Promise<DeployResult> {
    const commit = COMMITS[name];
    const dir = join(rig.dir, 'public', name);
    const { files, bytes } = await writeTree(dir, commit.slice(0, 12));
    await edit?.(dir);
    const target = await openTarget(c);
    return target.deploy(hostDeployInputs(commit, dir, { files, bytes, baseURL: `https://${DOMAIN}/` }));
  }

  beforeAll(async () => {
    rig = await startHostRig();
    ctx = rig.context();
  });
  afterAll(async () => {
    await rig?.stop();
  });

  it('host init prepares the host and says what it changed; a second run changes nothing', async () => {
    const [first] = await initHosts(ctx, requireHostDeploy(ctx.config));
    expect(first?.changed.join('\n')).toContain(`import ${rig.siteFile}`);
    expect(first?.changed.join('\n')).toContain('reload Caddy');
    const [second] = await initHosts(ctx, requireHostDeploy(ctx.config));
    expect(second?.changed).toEqual([]);
  });

  it('publishes a release: Caddy serves it over HTTPS with an ACME certificate on IPv4 and IPv6', async () => {
    const result = await deployTree('a');
    expect(result.servers[0]?.serving).toBe('aaaaaaaaaaaa');
    expect(await readlink(join(rig.root, 'current'))).toBe('releases/aaaaaaaaaaaa');
    const v4 = await waitFor(
      () => rig.get('/'),
      (r) => r.status === 200,
    );
    const v6 = await rig.get('/', 6);
    expect(v4.headers['sitepipe-release']).toBe('aaaaaaaaaaaa');
    expect(v6.headers['sitepipe-release']).toBe('aaaaaaaaaaaa');
    expect(v4.serial).toBe(v6.serial);
    expect(v4.body).toContain('content="aaaaaaaaaaaa"');
    expect(v4.headers['strict-transport-security']).toBe('max-age=31536000');
    expect(v4.headers['content-encoding']).toBe('gzip');
    const css = await rig.get('/css/site.css');
    expect(css.headers['cache-control']).toContain('max-age=604800');
    const missing = await rig.get('/no/such/page/');
    expect(missing.status).toBe(404);
    expect(missing.body).toContain('not here');
    expect((await rig.get('/healthz')).body).toBe('ok');
    expect((await rig.get('/.sitepipe-release-aaaaaaaaaaaa')).status).toBe(404);
    const dir = await rig.get('/posts/1');
    expect(dir.status).toBe(308);
    expect(dir.headers.location).toBe('/posts/1/');
    const http = await rig.getHttp('/posts/1/');
    expect(http.status).toBe(308);
    expect(http.headers.location).toBe(`https://www.site.test:${rig.caddy.httpsPort}/posts/1/`);
    const history = JSON.parse(await readFile(join(rig.root, 'releases.json'), 'utf8'));
    expect(history[0]).toMatchObject({ action: 'deploy', outcome: 'live', commit: COMMITS.a });
  });

  it('a one-post edit sends the changed files only; the rest is hardlinked from the live release', async () => {
    const result = await deployTree('b', ctx, (dir) =>
      writeFile(join(dir, 'posts/3/index.html'), '<p>post 3, edited</p>\n'),
    );
    // The release marker is in the home page, the stylesheet and the 404 page; plus the edited post.
    expect(result.servers[0]?.filesSent).toBe(4);
    const a = await stat(join(rig.root, 'releases/aaaaaaaaaaaa/posts/0/index.html'));
    const b = await stat(join(rig.root, 'releases/bbbbbbbbbbbb/posts/0/index.html'));
    expect(b.ino).toBe(a.ino);
    expect((await rig.get('/posts/3/')).body).toContain('edited');
  });

  it('during a publish, a pin and a rollback, visitors on IPv4 and IPv6 see no failure and never a mixed release', async () => {
    const target = await openTarget(ctx);
    const loop = visitors(rig);
    await sleep(300);
    await deployTree('c');

    await sleep(300);
    const pinned = await target.roll(await target.resolve('aaaaaaa'));
    expect(pinned).toMatchObject({ action: 'pin', tag: 'aaaaaaaaaaaa', commit: COMMITS.a });
    await sleep(300);
    const back = await target.roll(await target.previous());
    expect(back).toMatchObject({ action: 'rollback', tag: 'cccccccccccc' });
    await sleep(300);
    const seen = await loop.stop();
    // The site config names no release: switches are renames, and Caddy was not reloaded.
    expect(ctx.lines.slice(-6).join('\n')).not.toContain('Caddy reloaded');
    expect(seen.problems).toEqual([]);
    expect(seen.visits).toBeGreaterThan(10);
    expect([...seen.releases].sort()).toEqual(['aaaaaaaaaaaa', 'bbbbbbbbbbbb', 'cccccccccccc']);
    expect(await readlink(join(rig.root, 'current'))).toBe('releases/cccccccccccc');
  });

  it("an asset request carrying the cookie of a page served before a switch gets that page's release", async () => {
    const page = await rig.get('/');
    const cookie = String(page.headers['set-cookie']).split(';')[0] as string;
    expect(cookie).toBe('sitepipe-release=cccccccccccc');
    const old = await rig.get('/css/site.css', 6, { cookie: 'sitepipe-release=bbbbbbbbbbbb' });
    expect(old.body).toContain('release bbbbbbbbbbbb');
    expect(old.headers['sitepipe-release']).toBe('bbbbbbbbbbbb');
    // A release no longer on the server, or a forged value: the live release.
    const gone = await rig.get('/css/site.css', 4, { cookie: 'sitepipe-release=0123456789ab' });
    expect(gone.body).toContain('release cccccccccccc');
    const forged = await rig.get('/css/site.css', 4, { cookie: 'sitepipe-release=../../etc' });
    expect(forged.body).toContain('release cccccccccccc');
  });

  it('releases lists the history newest first; pin to a commit with no release says so and changes nothing', async () => {
    const target = await openTarget(ctx);
    const history = await target.history();
    expect(history.map((r) => `${r.action} ${r.digest} ${r.outcome}`)).toEqual([
      'rollback cccccccccccc live',
      'pin aaaaaaaaaaaa live',
      'deploy cccccccccccc live',
      'deploy bbbbbbbbbbbb live',
      'deploy aaaaaaaaaaaa live',
    ]);
    const err = await expectCode(target.resolve('ddddddd'), 'PIN_NOT_FOUND');
    expect(err.message).toContain('nothing was changed');
    expect(await readlink(join(rig.root, 'current'))).toBe('releases/cccccccccccc');
  });

  it('--dry-run says what would be sent, switched and reloaded, and changes nothing', async () => {
    const dry = { ...rig.context(), dryRun: true };
    const result = await deployTree('d', dry);
    expect(result.deployed).toBe(false);
    expect(dry.lines.join('\n')).toMatch(/would send \d+ of \d+ files/);
    expect(dry.lines.join('\n')).toContain('would switch');
    expect(dry.lines.join('\n')).toContain('reload Caddy');
    expect(await readdir(join(rig.root, 'releases'))).not.toContain('dddddddddddd');
    expect(await readlink(join(rig.root, 'current'))).toBe('releases/cccccccccccc');
  });

  it('keeps deploy.host.keep releases besides the live one', async () => {
    await deployTree('e');
    const dirs = await readdir(join(rig.root, 'releases'));
    expect(dirs.length).toBeLessThanOrEqual(4);
    expect(dirs).toContain('eeeeeeeeeeee');
    expect(dirs).toContain('cccccccccccc');
  });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Visitors on IPv4 and IPv6, each a fresh browser: a page, then the stylesheet it links with
 * the cookie the page set. A problem is a failed request or a response from another release
 * than its page's (by the marker in each body and the release header).
 */
function visitors(rig: HostRig) {
  let running = true;
  const problems: string[] = [];
  const releases = new Set<string>();
  let visits = 0;
  const visitor = async (family: 4 | 6) => {
    while (running) {
      try {
        const page = await rig.get('/', family);
        const marker = /content="([0-9a-f]{12})"/.exec(page.body)?.[1];
        if (page.status !== 200 || !marker) {
          problems.push(`IPv${family} /: ${page.status}`);
          continue;
        }
        if (page.headers['sitepipe-release'] !== marker)
          problems.push(`IPv${family} /: header ${page.headers['sitepipe-release']}, body ${marker}`);
        const cookie = String(page.headers['set-cookie'] ?? '').split(';')[0] ?? '';
        const css = await rig.get('/css/site.css', family, { cookie });
        const cssMarker = /release ([0-9a-f]{12})/.exec(css.body)?.[1];
        if (css.status !== 200) problems.push(`IPv${family} css: ${css.status}`);
        else if (cssMarker !== marker)
          problems.push(`IPv${family}: page ${marker}, its stylesheet ${cssMarker}`);
        releases.add(marker);
        visits++;
      } catch (e) {
        problems.push(`IPv${family}: ${(e as Error).message}`);
      }
    }
  };
  const all = Promise.all([visitor(4), visitor(6), visitor(4), visitor(6)]);
  return {
    async stop() {
      running = false;
      await all;
      return { problems, releases, visits };
    },
  };
}

async function waitFor<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (ok(v)) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(
        `gave up waiting: ${String(last instanceof Error ? last.message : JSON.stringify(last))}`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

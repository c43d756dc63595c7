import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../pipeline/config.js';
import { initHosts } from '../../pipeline/host/init.js';
import { requireHostDeploy } from '../../pipeline/host/layout.js';
import { liveHostRelease } from '../../pipeline/host/live-release.js';
import { packageRoot } from '../../pipeline/paths.js';
import { linkImagesUnder } from '../helpers/blog-site.js';
import { type HostRig, startHostRig } from '../helpers/caddy-host.js';
import { testContext } from '../helpers/context.js';
import { SETUP_REGISTRY } from '../helpers/registry.js';
import { exampleConfig, exampleRepo, type SiteRepo } from '../helpers/site-repo.js';

const CLI = join(packageRoot(), 'dist', 'pipeline', 'cli.js');

describe('sitepipe run, releases, pin and rollback on a host target (built CLI, real Hugo, sshd, Caddy, Pebble)', () => {
  let rig: HostRig;
  let repo: SiteRepo;
  const repository = `${SETUP_REGISTRY}/host-${randomBytes(4).toString('hex')}/website`;
  const commits: string[] = [];

  const sitepipe = (...args: string[]) =>
    execa('node', [CLI, ...args], { cwd: repo.dir, reject: false, env: { CI: 'true' } });

  async function release(marker: string) {
    const post = join(repo.dir, 'content/posts/hello-sitepipe.md');
    await writeFile(post, `${await readFile(post, 'utf8')}\n${marker}\n`);
    await repo.git('commit', '-qam', marker);
    commits.push(await repo.git('rev-parse', 'HEAD'));
    const run = await sitepipe('run', '--json');
    expect(run.exitCode, `${run.stdout}\n${run.stderr}`).toBe(0);
    return run.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { event: string; step?: string; status?: string });
  }

  beforeAll(async () => {
    rig = await startHostRig();
    const full = rig.configYaml();
    const hostSections = full
      .slice(full.indexOf('deploy:'))
      .replace(
        /^verify: \{ (.*) \}$/m,
        `verify: { $1, httpPort: ${rig.caddy.httpPort}, addresses: ["127.0.0.1:${rig.caddy.httpsPort}", "[::1]:${rig.caddy.httpsPort}"], waitSeconds: 30 }`,
      );
    const config = (await exampleConfig(repository, { sections: [hostSections] })).replace(
      /^site:\n {2}dir: \.$/m,
      'site:\n  dir: .\n  baseURL: https://www.site.test/blog/',
    );
    repo = await exampleRepo({ configYaml: config });
    await linkImagesUnder(repo.dir, '/blog/');
    await repo.git('commit', '-qam', 'images under /blog/');
    const ctx = testContext({ siteDir: repo.dir, config: parseConfig(config, 'test') });
    await initHosts(ctx, requireHostDeploy(ctx.config));
  });
  afterAll(async () => {
    await rig?.stop();
    await repo?.remove();
  });

  it('the pipeline publishes the rendered tree under its base path, and its verify step checks Caddy', async () => {
    const events = await release('release-A');
    const ok = events.filter((e) => e.event === 'step-end' && e.status === 'ok');
    expect(ok.map((e) => e.step)).toEqual(expect.arrayContaining(['render', 'push', 'deploy', 'verify']));
    const tag = commits[0]?.slice(0, 12) as string;
    const page = await rig.get('/blog/posts/hello-sitepipe/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('release-A');
    expect(page.headers['sitepipe-release']).toBe(tag);
    expect((await rig.get('/', 6)).headers.location).toBe('/blog/');
    expect((await rig.get('/blog/no-such-page')).status).toBe(404);
  });

  it('a one-post edit sends a fraction of the site', async () => {
    await release('release-B');
    const record = async (step: string) =>
      JSON.parse(await readFile(join(repo.dir, '.sitepipe', 'records', `${step}.json`), 'utf8')).output;
    const server = (await record('deploy')).servers[0] as { filesSent: number; bytesSent: number };
    const render = (await record('render')) as { files: number };
    expect(server?.filesSent).toBeGreaterThan(0);
    expect(server?.filesSent).toBeLessThan((render?.files ?? 0) / 2);
    expect((await rig.get('/blog/posts/hello-sitepipe/')).body).toContain('release-B');
  });

  it('releases, pin and rollback speak of releases on the host', async () => {
    const [a, b] = commits as [string, string];
    const list = await sitepipe('releases');
    expect(list.exitCode, list.stderr).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(/^WHEN\s+ACTION\s+OUTCOME\s+COMMIT\s+BRANCH\s+RELEASE\s+BY$/);
    expect(list.stdout).toContain(b.slice(0, 12));
    const pin = await sitepipe('pin', a.slice(0, 8));
    expect(pin.exitCode, pin.stderr).toBe(0);
    expect(pin.stdout).toContain(`live: release ${a.slice(0, 12)}`);
    expect((await rig.get('/blog/posts/hello-sitepipe/')).headers['sitepipe-release']).toBe(a.slice(0, 12));
    const back = await sitepipe('rollback');
    expect(back.exitCode, back.stderr).toBe(0);
    expect((await rig.get('/blog/posts/hello-sitepipe/', 6)).headers['sitepipe-release']).toBe(
      b.slice(0, 12),
    );
    const none = await sitepipe('pin', '0123456789ab');
    expect(none.exitCode).toBe(1);
    expect(`${none.stdout}${none.stderr}`).toContain('PIN_NOT_FOUND');
    // What `sitepipe verify` without --release expects on a host target: the live release.
    const ctx = testContext({
      siteDir: repo.dir,
      config: parseConfig(await readFile(repo.config, 'utf8'), 'test'),
    });
    expect(await liveHostRelease(ctx.config, ctx.signal)).toMatchObject({
      mode: 'expect',
      release: b.slice(0, 12),
    });
    const verify = await sitepipe('verify', '--release', b.slice(0, 12));
    expect(verify.exitCode, `${verify.stdout}\n${verify.stderr}`).toBe(0);
    // …and the command itself asks the host, not a Deployment, when no release is given.
    const live = await sitepipe('verify');
    expect(live.exitCode, `${live.stdout}\n${live.stderr}`).toBe(0);
  });
});

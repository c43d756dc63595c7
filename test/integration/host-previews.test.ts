import { access, mkdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { previewSlug } from '../../pipeline/branches.js';
import { parseConfig } from '../../pipeline/config.js';
import { initHosts } from '../../pipeline/host/init.js';
import { requireHostDeploy } from '../../pipeline/host/layout.js';
import { deletePreview, findPreview, listPreviews } from '../../pipeline/host/previews.js';
import { packageRoot } from '../../pipeline/paths.js';
import type { DeployResult } from '../../pipeline/records.js';
import { previewReaper } from '../../pipeline/serve/previews.js';
import { deploy } from '../../steps/deploy.js';
import { DOMAIN, type HostRig, startHostRig } from '../helpers/caddy-host.js';
import { type TestContext, testContext } from '../helpers/context.js';
import { hostDeployInputs } from '../helpers/host-inputs.js';

const PREVIEWS = 'previews.site.test';
const BRANCHES = { main: 'main', a: 'feature/a', b: 'feature_a' } as const;
const COMMITS = { main: '1'.repeat(40), a: 'a'.repeat(40), b: 'b'.repeat(40) };

interface Got {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** GET over HTTPS on loopback for `host` (SNI and Host), trusting Pebble's root. */
function get(rig: HostRig, roots: string, host: string, path = '/'): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: rig.caddy.httpsPort,
        path,
        servername: host,
        headers: { host },
        ca: roots,
        agent: false,
        timeout: 10_000,
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

describe('host previews on real sshd, rsync, Caddy and Pebble', () => {
  let rig: HostRig;
  let ctx: TestContext;
  let configFile: string;
  let roots: string;
  const slugA = previewSlug(BRANCHES.a);
  const slugB = previewSlug(BRANCHES.b);
  const hostOf = (slug: string) => `${slug}.${PREVIEWS}`;

  /** The deploy step itself, on `branch`, with a tree whose pages name the commit. */
  async function run(name: keyof typeof BRANCHES): Promise<DeployResult> {
    const commit = COMMITS[name];
    const dir = join(rig.dir, 'public', name);
    await mkdir(join(dir, 'css'), { recursive: true });
    await writeFile(join(dir, 'index.html'), `<!doctype html><p>commit ${commit.slice(0, 12)}</p>\n`);
    await writeFile(join(dir, 'css/site.css'), `/* ${commit} */\n`);
    await writeFile(join(dir, '404.html'), '<p>not here</p>\n');
    const inputs = hostDeployInputs(commit, dir, { files: 3, bytes: 100 });
    inputs.source.branch = BRANCHES[name];
    return deploy.run(ctx, inputs) as Promise<DeployResult>;
  }

  beforeAll(async () => {
    rig = await startHostRig();
    const yaml = rig
      .configYaml()
      .replace('  lockTimeoutSeconds: 5\n', `  lockTimeoutSeconds: 5\n  previews: { domain: ${PREVIEWS} }\n`);
    configFile = join(rig.dir, 'sitepipe.yaml');
    await writeFile(configFile, yaml);
    ctx = testContext({ siteDir: rig.dir, config: parseConfig(yaml, 'test') });
    roots = await readFile(rig.rootsFile, 'utf8');
    await initHosts(ctx, requireHostDeploy(ctx.config));
  });
  afterAll(async () => {
    await rig?.stop();
  });

  it('host init imports the previews glob into the main Caddyfile', async () => {
    const main = await readFile(rig.caddy.configFile, 'utf8');
    expect(main).toContain(`import ${rig.siteFile.replace(/\.caddy$/, '.previews')}/*.caddy`);
  });

  it('a run on main publishes production; runs on two branches that slug alike get a preview each', async () => {
    const prod = await run('main');
    expect(prod.preview).toBeNull();
    const a = await run('a');
    const b = await run('b');
    expect(slugA).not.toBe(slugB);
    expect(a.preview).toMatchObject({ branch: BRANCHES.a, name: slugA });
    expect(a.preview?.url).toBe(`https://${hostOf(slugA)}:${rig.caddy.httpsPort}/`);
    expect(b.preview).toMatchObject({ branch: BRANCHES.b, name: slugB });
    expect(ctx.lines.join('\n')).toContain(`preview of ${BRANCHES.a}: ${a.preview?.url}`);

    for (const [slug, commit] of [
      [slugA, COMMITS.a],
      [slugB, COMMITS.b],
    ] as const) {
      const page = await get(rig, roots, hostOf(slug));
      expect(page.status).toBe(200);
      expect(page.body).toContain(`commit ${commit.slice(0, 12)}`);
      expect(page.headers['x-robots-tag']).toBe('noindex');
      expect(page.headers['sitepipe-release']).toBe(commit.slice(0, 12));
      const missing = await get(rig, roots, hostOf(slug), '/no/such/page/');
      expect(missing.status).toBe(404);
      expect(missing.headers['x-robots-tag']).toBe('noindex');
      expect(await readlink(join(rig.root, 'previews', slug, 'current'))).toBe(
        `releases/${commit.slice(0, 12)}`,
      );
    }

    // Production: untouched by the previews, its history main's alone, and no noindex.
    const live = await get(rig, roots, DOMAIN);
    expect(live.body).toContain(`commit ${COMMITS.main.slice(0, 12)}`);
    expect(live.headers['x-robots-tag']).toBeUndefined();
    expect(await readlink(join(rig.root, 'current'))).toBe(`releases/${COMMITS.main.slice(0, 12)}`);
    const history = JSON.parse(await readFile(join(rig.root, 'releases.json'), 'utf8')) as {
      branch: string;
    }[];
    expect(history.map((r) => r.branch)).toEqual(['main']);
    const previewHistory = JSON.parse(
      await readFile(join(rig.root, 'previews', slugA, 'releases.json'), 'utf8'),
    ) as { branch: string; commit: string }[];
    expect(previewHistory).toMatchObject([{ branch: BRANCHES.a, commit: COMMITS.a }]);
  });

  it('a second run on a branch switches its preview without reloading Caddy', async () => {
    COMMITS.a = 'c'.repeat(40);
    await run('a');
    expect(ctx.lines.slice(-3).join('\n')).not.toContain('Caddy reloaded');
    expect((await get(rig, roots, hostOf(slugA))).body).toContain(`commit ${'c'.repeat(12)}`);
  });

  it('lists the previews with branch, commit, URL and age', async () => {
    const all = await listPreviews(ctx);
    expect(all.map((p) => [p.branch, p.name, p.commit]).sort()).toEqual(
      [
        [BRANCHES.a, slugA, COMMITS.a],
        [BRANCHES.b, slugB, COMMITS.b],
      ].sort(),
    );
    expect(all[0]?.branch).toBe(BRANCHES.a); // newest deploy first
    expect(all.every((p) => p.deployedAt !== null)).toBe(true);

    const cli = await execa(
      'node',
      [
        '--import',
        'tsx',
        join(packageRoot(), 'pipeline', 'cli.ts'),
        'previews',
        'list',
        '--config',
        configFile,
      ],
      { reject: false, env: { CI: 'true' } },
    );
    expect(cli.exitCode, cli.stderr).toBe(0);
    expect(cli.stdout.split('\n')[0]).toMatch(/^BRANCH\s+COMMIT\s+URL\s+AGE$/);
    expect(cli.stdout).toContain(`${BRANCHES.b}`);
    expect(cli.stdout).toContain(`https://${hostOf(slugB)}`);
  });

  it('delete --dry-run removes nothing; delete removes exactly that preview', async () => {
    const preview = findPreview(await listPreviews(ctx), BRANCHES.b, ctx);
    const dry = await deletePreview({ ...ctx, dryRun: true }, preview);
    expect(dry.join('\n')).toContain(join(rig.root, 'previews', slugB));
    expect(await exists(join(rig.root, 'previews', slugB))).toBe(true);

    const removed = await deletePreview(ctx, preview);
    expect(removed).toHaveLength(2);
    expect(await exists(join(rig.root, 'previews', slugB))).toBe(false);
    const sites = rig.siteFile.replace(/\.caddy$/, '.previews');
    expect(await exists(join(sites, `${slugB}.caddy`))).toBe(false);
    // Caddy no longer has a site for it; the other preview and production serve as before.
    await expect(get(rig, roots, hostOf(slugB))).rejects.toThrow();
    expect((await get(rig, roots, hostOf(slugA))).status).toBe(200);
    expect((await get(rig, roots, DOMAIN)).body).toContain(`commit ${COMMITS.main.slice(0, 12)}`);
    expect((await listPreviews(ctx)).map((p) => p.branch)).toEqual([BRANCHES.a]);
  });

  it('prune removes the preview whose branch is gone from the remote, and nothing else', async () => {
    await run('b'); // back again
    const remote = join(rig.dir, 'remote.git');
    const work = join(rig.dir, 'work');
    await execa('git', ['init', '-q', '--bare', remote]);
    await execa('git', ['init', '-q', '-b', 'main', work]);
    const git = (...args: string[]) =>
      execa('git', ['-C', work, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args]);
    await git('commit', '-q', '--allow-empty', '-m', 'x');
    // feature/a is gone from the remote; feature_a is still there.
    await git('push', '-q', remote, 'main', `main:refs/heads/${BRANCHES.b}`);
    const cli = await execa(
      'node',
      [
        '--import',
        'tsx',
        join(packageRoot(), 'pipeline', 'cli.ts'),
        'previews',
        'prune',
        '--remote',
        remote,
        '--config',
        configFile,
        '--json',
      ],
      { reject: false, env: { CI: 'true' } },
    );
    expect(cli.exitCode, `${cli.stdout}\n${cli.stderr}`).toBe(0);
    expect(cli.stdout).toContain(`"pruned":["${BRANCHES.a}"]`);
    expect(await exists(join(rig.root, 'previews', slugA))).toBe(false);
    expect(await exists(join(rig.root, 'previews', slugB))).toBe(true);
    expect((await get(rig, roots, hostOf(slugB))).status).toBe(200);
    expect(await readlink(join(rig.root, 'current'))).toBe(`releases/${COMMITS.main.slice(0, 12)}`);
  });

  it("serve's reaper removes a deleted branch's preview on the host target", async () => {
    const lines: string[] = [];
    const reap = previewReaper(
      ctx.config,
      { configPath: configFile, siteDir: rig.dir, stateDir: ctx.stateDir, cacheDir: ctx.cacheDir },
      process.env,
      (l) => lines.push(l),
    );
    expect(reap).not.toBeNull();
    await reap?.(BRANCHES.b);
    expect(lines.join('\n')).toContain(`${BRANCHES.b} was deleted, so its preview is gone`);
    expect(await exists(join(rig.root, 'previews', slugB))).toBe(false);
    expect(await listPreviews(ctx)).toEqual([]);
    expect(await readlink(join(rig.root, 'current'))).toBe(`releases/${COMMITS.main.slice(0, 12)}`);
  });
});

import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectKube } from '../../pipeline/clients/kube.js';
import { resolveRelease } from '../../pipeline/commands/deploy.js';
import type { SitepipeError } from '../../pipeline/errors.js';
import { withDeployLock } from '../../pipeline/kube/lock.js';
import { readReleases } from '../../pipeline/kube/releases.js';
import { rollTo } from '../../pipeline/kube/roll.js';
import { testContext } from '../helpers/context.js';
import { SETUP_REGISTRY } from '../helpers/registry.js';
import { runSteps } from '../helpers/run.js';
import { exampleConfig, exampleRepo, type SiteRepo } from '../helpers/site-repo.js';
import { type KubeSim, startKubeSim } from '../kube-sim/index.js';

const NS = 'website';
const NAME = 'website';

/** Real kubectl against the simulator, with a cache of its own. */
async function kubectl(sim: KubeSim, home: string, ...args: string[]) {
  return execa('kubectl', ['--kubeconfig', sim.kubeconfigPath, '--cache-dir', join(home, 'cache'), ...args], {
    env: { HOME: home },
    reject: false,
  });
}

describe('deploy, pin, rollback against the Kubernetes simulator (real registry, real kubectl)', () => {
  let sim: KubeSim;
  let repo: SiteRepo;
  let home: string;
  let cacheDir: string;
  const path = `deploy-${randomBytes(4).toString('hex')}/website`;
  const repository = `${SETUP_REGISTRY}/${path}`;
  const env = () => ({ KUBECONFIG: sim.kubeconfigPath });
  const digests: Record<string, string> = {};

  /** Commits an edit and runs the whole pipeline (deploy included); returns the pushed digest. */
  async function ship(label: string): Promise<string> {
    const post = join(repo.dir, 'content/posts/hello-sitepipe.md');
    await writeFile(post, `${await readFile(post, 'utf8')}\nRelease ${label}.\n`);
    await repo.git('commit', '-qam', `release ${label}`);
    const { outputs } = await runSteps({ config: repo.config, cacheDir, env: env() });
    digests[label] = outputs.push?.digest as string;
    return digests[label] as string;
  }

  /** A field of the Deployment, as real kubectl reads it. */
  const deployField = async (jsonpath: string) =>
    (await kubectl(sim, home, '-n', NS, 'get', 'deploy', NAME, '-o', `jsonpath={${jsonpath}}`)).stdout;
  const liveImage = () => deployField('.spec.template.spec.containers[0].image');

  beforeAll(async () => {
    sim = await startKubeSim({ timeScale: 0.2 });
    home = await mkdtemp(join(tmpdir(), 'sitepipe-kubectl-'));
    cacheDir = await mkdtemp(join(tmpdir(), 'sitepipe-cache-'));
    const configYaml = await exampleConfig(repository, {
      sections: [
        'deploy:',
        `  namespace: ${NS}`,
        `  name: ${NAME}`,
        '  hosts: [www.example.com]',
        '  progressDeadlineSeconds: 20',
        '  lockTimeoutSeconds: 2',
        '  tls: { email: ops@example.com }',
        // www.example.com has no frontend here (verify.test.ts checks real ones).
        'verify: { enabled: false }',
      ],
    });
    repo = await exampleRepo({ configYaml });
  });
  afterAll(async () => {
    await sim?.stop();
    await repo?.remove();
    await Promise.all([home, cacheDir].filter(Boolean).map((d) => rm(d, { recursive: true, force: true })));
  });

  it('rolls the Deployment to the pushed digest; kubectl reads the same state', async () => {
    const digest = await ship('one');
    expect(await liveImage()).toBe(`${repository}@${digest}`);
    const status = await kubectl(sim, home, '-n', NS, 'rollout', 'status', `deploy/${NAME}`, '--timeout=30s');
    expect(status.exitCode, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/successfully rolled out/);
    const annotations = await deployField('.spec.template.metadata.annotations');
    expect(JSON.parse(annotations)['sitepipe.io/commit']).toBe(await repo.git('rev-parse', 'HEAD'));
  });

  it('rolls back by itself when the new pods never become ready, and says so', async () => {
    const good = digests.one as string;
    await ship('two');
    // A third release whose image cannot be pulled: the rollout must fail and go back to "two".
    const post = join(repo.dir, 'content/posts/hello-sitepipe.md');
    await writeFile(post, `${await readFile(post, 'utf8')}\nBroken release.\n`);
    await repo.git('commit', '-qam', 'broken');
    const built = await runSteps({
      config: repo.config,
      cacheDir,
      only: ['source', 'tag', 'hugo', 'pygments', 'render', 'image'],
    });
    const bad = built.outputs.image?.digest as string;
    sim.controls.setImageBehavior((image) => image.endsWith(bad), 'pull-error');
    const err = (await runSteps({
      config: repo.config,
      cacheDir,
      env: env(),
      only: ['smoke', 'push', 'deploy'],
    }).catch((e) => e)) as SitepipeError;
    expect(err.code).toBe('ROLLOUT_FAILED');
    expect(err.message).toMatch(/ProgressDeadlineExceeded/);
    expect(err.message).toContain(`rolled back to ${repository}@${digests.two}`);
    expect(await liveImage()).toBe(`${repository}@${digests.two}`);
    const status = await kubectl(sim, home, '-n', NS, 'rollout', 'status', `deploy/${NAME}`, '--timeout=30s');
    expect(status.exitCode, status.stderr).toBe(0);
    expect(good).not.toBe(digests.two);
  });

  it('pins any earlier commit by its short sha, and refuses one with no image without changing anything', async () => {
    const ctx = {
      ...testContext({ siteDir: repo.dir, env: { ...process.env, ...env() } }),
      ...(await loadedConfig()),
    };
    const first = (await repo.git('rev-list', '--reverse', 'HEAD')).split('\n')[1] as string; // "release one"
    const target = await resolveRelease(ctx, first.slice(0, 8));
    expect(target.digest).toBe(digests.one);
    expect(target.commit).toBe(first);
    await rollTo(ctx, target);
    expect(await liveImage()).toBe(`${repository}@${digests.one}`);

    await expect(resolveRelease(ctx, 'deadbeefdeadbeef')).rejects.toMatchObject({ code: 'PIN_NOT_FOUND' });
    expect(await liveImage()).toBe(`${repository}@${digests.one}`);
  });

  it('lists the releases newest first', async () => {
    const history = await readReleases(connectKube(env()), NS, NAME);
    expect(history.map((r) => `${r.action}:${r.outcome}`)).toEqual([
      'pin:live',
      'deploy:rolled-back',
      'deploy:live',
      'deploy:live',
    ]);
    expect(history[0]?.digest).toBe(digests.one);
    expect(history[1]?.commit).toBe(await repo.git('rev-parse', 'HEAD'));
  });

  it('a second deploy waits for the one holding the Lease, and fails clearly if it waits too long', async () => {
    const kube = connectKube(env());
    const ctx = {
      ...testContext({ siteDir: repo.dir, env: { ...process.env, ...env() } }),
      ...(await loadedConfig()),
    };
    const hold = (ms: number) =>
      withDeployLock(
        kube,
        { namespace: NS, name: NAME, waitMs: 0, signal: new AbortController().signal, log: () => undefined },
        () => new Promise((r) => setTimeout(r, ms)),
      );
    const two = {
      repository,
      digest: digests.two as string,
      commit: null,
      branch: null,
      tag: null,
      action: 'pin' as const,
    };

    // Held for less than lockTimeoutSeconds (2 s): the deploy waits its turn, then rolls.
    const short = hold(1000);
    await new Promise((r) => setTimeout(r, 200));
    await rollTo(ctx, two);
    await short;
    expect(ctx.lines.join('\n')).toMatch(/waiting for sitepipe@/);
    expect(await liveImage()).toBe(`${repository}@${digests.two}`);

    // Held for longer: DEPLOY_LOCKED, and nothing changes.
    const long = hold(4000);
    await new Promise((r) => setTimeout(r, 200));
    const one = { ...two, digest: digests.one as string };
    await expect(rollTo(ctx, one)).rejects.toMatchObject({ code: 'DEPLOY_LOCKED' });
    expect(await liveImage()).toBe(`${repository}@${digests.two}`);
    await long;
  });

  async function loadedConfig() {
    const { loadConfig } = await import('../../pipeline/config.js');
    const loaded = await loadConfig(repo.config);
    return { config: loaded.config, configPath: loaded.path, siteDir: loaded.siteDir };
  }
});

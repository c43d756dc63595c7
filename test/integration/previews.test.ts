import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { previewSlug } from '../../pipeline/branches.js';
import { remoteBranches } from '../../pipeline/commands/previews.js';
import { loadConfig } from '../../pipeline/config.js';
import { deletePreview, listPreviews, prunable } from '../../pipeline/kube/previews.js';
import { testContext } from '../helpers/context.js';
import { SETUP_REGISTRY } from '../helpers/registry.js';
import { runSteps } from '../helpers/run.js';
import { exampleConfig, exampleRepo, type SiteRepo } from '../helpers/site-repo.js';
import { type KubeSim, startKubeSim } from '../kube-sim/index.js';

const PREVIEWS_NS = 'website-previews';
const KINDS = 'deploy,svc,cm,httproute,healthcheckpolicy,lease';

interface Listed {
  items: { kind: string; metadata: { name: string; namespace?: string; resourceVersion: string } }[];
}

describe('previews: production only from production branches, a site per other branch (kube-sim, real kubectl)', () => {
  let sim: KubeSim;
  let repo: SiteRepo;
  let remote: string;
  let home: string;
  let cacheDir: string;
  const repository = `${SETUP_REGISTRY}/previews-${randomBytes(4).toString('hex')}/website`;
  const env = () => ({ KUBECONFIG: sim.kubeconfigPath });
  const digests: Record<string, string> = {};

  const kubectl = async (...args: string[]) => {
    const r = await execa(
      'kubectl',
      ['--kubeconfig', sim.kubeconfigPath, '--cache-dir', join(home, 'cache'), ...args],
      { env: { HOME: home }, reject: false },
    );
    expect(r.exitCode, r.stderr).toBe(0);
    return r.stdout;
  };
  const getJson = async (...args: string[]) => JSON.parse(await kubectl(...args, '-o', 'json')) as Listed;
  const names = async (namespace: string, kinds = KINDS) =>
    (await getJson('-n', namespace, 'get', kinds)).items.map((o) => `${o.kind}/${o.metadata.name}`).sort();
  const liveImage = async (namespace: string, name: string) =>
    kubectl(
      '-n',
      namespace,
      'get',
      'deploy',
      name,
      '-o',
      'jsonpath={.spec.template.spec.containers[0].image}',
    );

  /** Commits an edit on `branch` (created from main when new) and runs the whole pipeline. */
  async function ship(branch: string, config = repo.config) {
    const branches = await repo.git('branch', '--list', branch);
    await repo.git('checkout', '-q', ...(branches ? [branch] : ['-b', branch, 'main']));
    const post = join(repo.dir, 'content/posts/hello-sitepipe.md');
    await writeFile(post, `${await readFile(post, 'utf8')}\nOn ${branch}.\n`);
    await repo.git('commit', '-qam', `edit on ${branch}`);
    const run = await runSteps({ config, cacheDir, env: env() });
    digests[branch] = run.outputs.push?.digest as string;
    return run;
  }

  beforeAll(async () => {
    sim = await startKubeSim({ timeScale: 0.2 });
    home = await mkdtemp(join(tmpdir(), 'sitepipe-kubectl-'));
    cacheDir = await mkdtemp(join(tmpdir(), 'sitepipe-cache-'));
    remote = await mkdtemp(join(tmpdir(), 'sitepipe-remote-'));
    await execa('git', ['init', '-q', '--bare', remote]);
    const configYaml = await exampleConfig(repository, {
      sections: [
        'deploy:',
        '  hosts: [www.example.com]',
        '  progressDeadlineSeconds: 20',
        '  lockTimeoutSeconds: 2',
        '  tls: { email: ops@example.com, cloudDNS: { project: my-project } }',
        '  frontends: { mode: gateway }',
        '  previews: { domain: previews.example.com }',
        'verify: { enabled: false }',
      ],
    });
    repo = await exampleRepo({ configYaml, branch: 'main' });
    await repo.git('remote', 'add', 'origin', remote);
  });
  afterAll(async () => {
    await sim?.stop();
    await repo?.remove();
    await Promise.all(
      [home, cacheDir, remote].filter(Boolean).map((d) => rm(d, { recursive: true, force: true })),
    );
  });

  it('main rolls production; two feature branches that slug alike get two previews; production stays at main', async () => {
    await ship('main');
    expect(await liveImage('website', 'website')).toBe(`${repository}@${digests.main}`);
    const history = await kubectl(
      '-n',
      'website',
      'get',
      'cm',
      'website-sitepipe-releases',
      '-o',
      'jsonpath={.data}',
    );

    const a = await ship('feature/a');
    const b = await ship('feature_a');
    const [slugA, slugB] = [previewSlug('feature/a'), previewSlug('feature_a')];
    expect(slugA).not.toBe(slugB);
    expect(a.outputs.deploy?.preview).toEqual({
      branch: 'feature/a',
      name: slugA,
      namespace: PREVIEWS_NS,
      url: `https://${slugA}.previews.example.com/`,
    });
    expect(a.lines).toContain(`https://${slugA}.previews.example.com/`);
    expect(b.outputs.deploy?.preview?.url).toBe(`https://${slugB}.previews.example.com/`);

    // Production: the same image and the same history as after main's run.
    expect(await liveImage('website', 'website')).toBe(`${repository}@${digests.main}`);
    expect(
      await kubectl('-n', 'website', 'get', 'cm', 'website-sitepipe-releases', '-o', 'jsonpath={.data}'),
    ).toBe(history);

    expect(await liveImage(PREVIEWS_NS, slugA)).toBe(`${repository}@${digests['feature/a']}`);
    expect(await liveImage(PREVIEWS_NS, slugB)).toBe(`${repository}@${digests.feature_a}`);
    for (const slug of [slugA, slugB]) {
      const route = JSON.parse(await kubectl('-n', PREVIEWS_NS, 'get', 'httproute', slug, '-o', 'json'));
      expect(route.spec.hostnames).toEqual([`${slug}.previews.example.com`]);
      expect(JSON.stringify(route.spec.rules)).toContain('X-Robots-Tag');
      const status = await execa(
        'kubectl',
        [
          '--kubeconfig',
          sim.kubeconfigPath,
          '--cache-dir',
          join(home, 'cache'),
          '-n',
          PREVIEWS_NS,
          'rollout',
          'status',
          `deploy/${slug}`,
          '--timeout=30s',
        ],
        { env: { HOME: home }, reject: false },
      );
      expect(status.stdout).toMatch(/successfully rolled out/);
    }
    // Production's Gateway carries the previews listener.
    const listeners = await kubectl(
      '-n',
      'website',
      'get',
      'gateway',
      'website',
      '-o',
      'jsonpath={.spec.listeners[*].name}',
    );
    expect(listeners.split(' ')).toContain('previews');

    const ctx = testContext({
      siteDir: repo.dir,
      config: (await loadConfig(repo.config)).config,
      env: env(),
    });
    const listed = await listPreviews(ctx);
    expect(listed.map((p) => p.branch).sort()).toEqual(['feature/a', 'feature_a']);
    expect(listed.find((p) => p.branch === 'feature/a')?.commit).toBe(
      await repo.git('rev-parse', 'feature/a'),
    );
  });

  it('a second run on a feature branch rolls its preview only', async () => {
    const before = await liveImage(PREVIEWS_NS, previewSlug('feature_a'));
    await ship('feature/a');
    expect(await liveImage(PREVIEWS_NS, previewSlug('feature/a'))).toBe(
      `${repository}@${digests['feature/a']}`,
    );
    expect(await liveImage(PREVIEWS_NS, previewSlug('feature_a'))).toBe(before);
    expect(await liveImage('website', 'website')).toBe(`${repository}@${digests.main}`);
  });

  it('prune after the remote loses one branch removes exactly that preview', async () => {
    await repo.git('push', '-q', 'origin', 'main', 'feature/a', 'feature_a');
    await repo.git('push', '-q', 'origin', '--delete', 'feature_a');
    const slugB = previewSlug('feature_a');
    const before = await names(PREVIEWS_NS);
    const ctx = testContext({
      siteDir: repo.dir,
      config: (await loadConfig(repo.config)).config,
      env: env(),
    });
    const heads = await remoteBranches(repo.dir, 'origin', ctx.signal);
    expect([...heads].sort()).toEqual(['feature/a', 'main']);
    const doomed = prunable(await listPreviews(ctx), heads, null);
    expect(doomed.map((d) => d.preview.branch)).toEqual(['feature_a']);
    for (const { preview } of doomed) await deletePreview(ctx, preview);

    const after = await names(PREVIEWS_NS);
    const removed = before.filter((n) => !after.includes(n));
    expect(removed.sort()).toEqual(
      [
        `ConfigMap/${slugB}-sitepipe-releases`,
        `Deployment/${slugB}`,
        `HTTPRoute/${slugB}`,
        `HealthCheckPolicy/${slugB}`,
        `Service/${slugB}`,
      ].sort(),
    );
    expect(after.filter((n) => !before.includes(n))).toEqual([]);
    expect(await liveImage(PREVIEWS_NS, previewSlug('feature/a'))).toBe(
      `${repository}@${digests['feature/a']}`,
    );
  });

  it('with previews off, a feature branch run changes nothing in the cluster and says why', async () => {
    const config = join(repo.dir, 'sitepipe.yaml');
    const text = await readFile(config, 'utf8');
    await repo.git('checkout', '-q', '-b', 'draft/post', 'main');
    await writeFile(config, text.replace(/^ {2}previews: .*\n/m, ''));
    await repo.git('commit', '-qam', 'no previews');
    const snapshot = async () =>
      (await getJson('get', `${KINDS},ns,gateway,certificate`, '-A')).items
        .map(
          (o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}@${o.metadata.resourceVersion}`,
        )
        .sort();
    const before = await snapshot();
    const run = await ship('draft/post');
    expect(run.outputs.deploy).toMatchObject({ deployed: false, preview: null });
    expect(run.lines).toContain(
      'draft/post is not a production branch (deploy.production.branches: main, master); nothing was deployed',
    );
    expect(await snapshot()).toEqual(before);
  });
});

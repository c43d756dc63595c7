import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { previewSlug } from '../../pipeline/branches.js';
import { loadConfig, parseConfig } from '../../pipeline/config.js';
import { manifestsToYaml } from '../../pipeline/kube/manifests.js';
import { previewManifests } from '../../pipeline/kube/manifests-previews.js';
import { previewReaper } from '../../pipeline/serve/previews.js';
import { ServeServer } from '../../pipeline/serve/server.js';
import { sendGithubPush } from '../helpers/serve-deliveries.js';
import { removeServeConfigs, serveConfig, WEBHOOK_SECRET } from '../helpers/serve-server.js';
import { type ServeSite, serveSite } from '../helpers/serve-site.js';
import { type KubeSim, startKubeSim } from '../kube-sim/index.js';

const NS = 'website-previews';
const CONFIG = parseConfig(
  [
    'hugo: { version: 0.111.3 }',
    'image: { repository: 127.0.0.1:5000/unused }',
    'deploy:',
    '  hosts: [www.example.com]',
    '  tls: { email: ops@example.com, cloudDNS: { project: my-project } }',
    '  frontends: { mode: gateway }',
    '  previews: { domain: previews.example.com }',
  ].join('\n'),
  'sitepipe.yaml',
);

describe('sitepipe serve: a deleted branch takes its preview with it (kube-sim, real kubectl)', () => {
  let sim: KubeSim;
  let site: ServeSite;
  let serve: ServeServer;
  let base: string;
  let home: string;
  const lines: string[] = [];
  let stopped = false;

  const kubectl = (...args: string[]) =>
    execa('kubectl', ['--kubeconfig', sim.kubeconfigPath, '--cache-dir', join(home, 'cache'), ...args], {
      env: { HOME: home },
      reject: false,
    });
  const exists = async (name: string) => (await kubectl('-n', NS, 'get', 'deploy', name)).exitCode === 0;

  beforeAll(async () => {
    sim = await startKubeSim({ timeScale: 0.2 });
    home = await mkdtemp(join(tmpdir(), 'sitepipe-kubectl-'));
    for (const branch of ['feature/gone', 'feature/stays']) {
      const file = join(home, `${previewSlug(branch)}.yaml`);
      const image = `127.0.0.1:5000/unused@sha256:${'a'.repeat(64)}`;
      await writeFile(file, manifestsToYaml(previewManifests(CONFIG, branch, image)));
      const applied = await kubectl('apply', '--server-side', '--field-manager', 'sitepipe', '-f', file);
      expect(applied.exitCode, applied.stderr).toBe(0);
    }
    site = await serveSite('127.0.0.1:5000/unused');
    const file = await serveConfig(site.remote);
    const { config } = await loadConfig(file);
    if (!config.serve) throw new Error('no serve section');
    const paths = {
      configPath: file,
      siteDir: dirname(file),
      stateDir: join(home, 'state'),
      cacheDir: join(home, 'cache'),
    };
    const env = { ...process.env, KUBECONFIG: sim.kubeconfigPath, SITEPIPE_WEBHOOK_SECRET: WEBHOOK_SECRET };
    serve = new ServeServer({
      serve: config.serve,
      baseDir: dirname(file),
      env,
      log: (l) => lines.push(l),
      branchDeleted: previewReaper(CONFIG, paths, env, (l) => lines.push(l)) ?? undefined,
    });
    base = await serve.start();
  });
  afterAll(async () => {
    if (!stopped) await serve?.stop(0);
    await sim?.stop();
    await site?.remove();
    await removeServeConfigs();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it('removes the preview of the deleted branch only, and says so', async () => {
    expect(await exists(previewSlug('feature/gone'))).toBe(true);
    const answer = await sendGithubPush(base, WEBHOOK_SECRET, {
      branch: 'feature/gone',
      after: null,
      before: 'b'.repeat(40),
    });
    expect(answer.status).toBe(202);
    expect(answer.json()).toMatchObject({ status: 'deleted', branch: 'feature/gone' });
    await expect
      .poll(() => exists(previewSlug('feature/gone')), { timeout: 30_000, interval: 250 })
      .toBe(false);
    expect(await exists(previewSlug('feature/stays'))).toBe(true);
    const route = await kubectl('-n', NS, 'get', 'httproute', previewSlug('feature/gone'));
    expect(route.exitCode).not.toBe(0);
    expect(lines.join('\n')).toContain('feature/gone was deleted, so its preview is gone');
  });

  it('a deleted branch that never had a preview changes nothing', async () => {
    const before = (await kubectl('-n', NS, 'get', 'deploy,svc,httproute', '-o', 'name')).stdout;
    const answer = await sendGithubPush(base, WEBHOOK_SECRET, {
      branch: 'never/previewed',
      after: null,
      before: 'c'.repeat(40),
    });
    expect(answer.status).toBe(202);
    // stop waits for the clean-ups in progress.
    await serve.stop(0);
    stopped = true;
    expect(lines.join('\n')).toContain('never/previewed was deleted');
    expect((await kubectl('-n', NS, 'get', 'deploy,svc,httproute', '-o', 'name')).stdout).toBe(before);
    expect(lines.join('\n')).not.toContain('cleaning up after the deletion of never/previewed failed');
  });
});

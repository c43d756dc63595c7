import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectKube } from '../../pipeline/clients/kube.js';
import { openTarget } from '../../pipeline/deploy-target.js';
import { readReleases } from '../../pipeline/kube/releases.js';
import { type RollTarget, rollTo } from '../../pipeline/kube/roll.js';
import { testContext } from '../helpers/context.js';
import { SETUP_REGISTRY } from '../helpers/registry.js';
import { type KubeSim, startKubeSim } from '../kube-sim/index.js';

const configYaml = (namespace: string) =>
  [
    'hugo: { version: 0.111.3 }',
    `image: { repository: ${SETUP_REGISTRY}/website }`,
    'deploy:',
    `  namespace: ${namespace}`,
    '  name: website',
    '  hosts: [www.example.com]',
    '  progressDeadlineSeconds: 20',
    '  lockTimeoutSeconds: 2',
    '  tls: { email: ops@example.com }',
  ].join('\n');

const MANIFESTS = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** Images the simulated kubelet can pull (it asks the real registry): the setup's base images, by digest. */
const IMAGES = { a: 'library/nginx:stable', b: 'library/debian:bookworm-slim' };
const digests: Record<string, string> = {};

const target = (which: keyof typeof IMAGES): RollTarget => ({
  repository: `${SETUP_REGISTRY}/${IMAGES[which].split(':')[0]}`,
  digest: digests[which] as string,
  commit: which.repeat(40),
  branch: 'main',
  tag: 'main',
  action: 'deploy',
});
const imageOf = (which: keyof typeof IMAGES) => `${target(which).repository}@${target(which).digest}`;

describe('deploy applies all or nothing and leaves what people changed (kube-sim, real kubectl)', () => {
  let sim: KubeSim;
  let dir: string;
  const env = () => ({ ...process.env, KUBECONFIG: sim.kubeconfigPath });
  const context = (namespace: string) =>
    testContext({ siteDir: dir, configYaml: configYaml(namespace), env: env() });
  const kubectl = (...args: string[]) =>
    execa('kubectl', ['--kubeconfig', sim.kubeconfigPath, '--cache-dir', join(dir, 'cache'), ...args], {
      env: { HOME: dir },
      reject: false,
    });
  const field = async (namespace: string, jsonpath: string) =>
    (await kubectl('-n', namespace, 'get', 'deploy', 'website', '-o', `jsonpath={${jsonpath}}`)).stdout;

  beforeAll(async () => {
    sim = await startKubeSim({ timeScale: 0.2 });
    dir = await mkdtemp(join(tmpdir(), 'sitepipe-apply-'));
    for (const [which, image] of Object.entries(IMAGES)) {
      const [repo, tag] = image.split(':');
      const res = await fetch(`http://${SETUP_REGISTRY}/v2/${repo}/manifests/${tag}`, {
        method: 'HEAD',
        headers: { accept: MANIFESTS },
      });
      digests[which] = res.headers.get('docker-content-digest') as string;
      expect(digests[which]).toMatch(/^sha256:/);
    }
  });
  afterAll(async () => {
    await sim?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a deploy that changes nothing adds no release to the history', async () => {
    const ctx = context('noop');
    await rollTo(ctx, target('a'));
    await rollTo(ctx, target('a'));
    const history = await readReleases(connectKube(env()), 'noop', 'website');
    expect(history.map((r) => `${r.image}:${r.outcome}`)).toEqual([`${imageOf('a')}:live`]);
    expect(ctx.lines.join('\n')).toContain(`already runs ${imageOf('a')}`);
  });

  it('keeps a kubectl scale, takes the image back from kubectl set image, and says both', async () => {
    const ctx = context('people');
    await rollTo(ctx, target('a'));
    expect((await kubectl('-n', 'people', 'scale', 'deploy/website', '--replicas=5')).exitCode).toBe(0);
    const other = `${SETUP_REGISTRY}/library/nginx:stable`;
    expect((await kubectl('-n', 'people', 'set', 'image', 'deploy/website', `nginx=${other}`)).exitCode).toBe(
      0,
    );

    await rollTo(ctx, target('b'));
    expect(await field('people', '.spec.replicas')).toBe('5');
    expect(await field('people', '.spec.template.spec.containers[0].image')).toBe(imageOf('b'));
    const warnings = ctx.lines.filter((l) => l.startsWith('warning:')).join('\n');
    expect(warnings).toMatch(/\.spec\.replicas is managed by "kubectl[^"]*"; sitepipe leaves it/);
    expect(warnings).toMatch(
      /containers\[name="nginx"\]\.image was set by "kubectl[^"]*"; sitepipe takes it back/,
    );
  });

  it('writes nothing when the API server would refuse any object', async () => {
    // A Deployment made by hand with another selector: the selector is immutable, so the apply would fail.
    expect((await kubectl('create', 'namespace', 'refused')).exitCode).toBe(0);
    const made = await kubectl(
      '-n',
      'refused',
      'create',
      'deployment',
      'website',
      `--image=${SETUP_REGISTRY}/library/nginx:stable`,
    );
    expect(made.exitCode, made.stderr).toBe(0);
    const before = await field('refused', '.metadata.generation');

    const err = await rollTo(context('refused'), target('a')).catch((e) => e);
    expect(err).toMatchObject({ code: 'KUBE_APPLY_REFUSED', message: /nothing was changed/ });
    expect(err.details.join('\n')).toMatch(/Deployment refused\/website: .*selector.*immutable/);
    expect(await field('refused', '.metadata.generation')).toBe(before);
    const services = await kubectl('-n', 'refused', 'get', 'svc,cm', '-o', 'name');
    expect(services.stdout).toBe('');
  });

  it('names what to install when the cluster lacks a kind the deploy writes, before anything else', async () => {
    const bare = await startKubeSim({ bare: true });
    try {
      const ctx = testContext({
        siteDir: dir,
        configYaml: configYaml('bare'),
        env: { ...process.env, KUBECONFIG: bare.kubeconfigPath },
      });
      const err = await (await openTarget(ctx)).preflight().catch((e) => e);
      expect(err).toMatchObject({ code: 'KUBE_KINDS_MISSING', hint: /cert-manager/ });
      expect(err.details.join('\n')).toMatch(/ClusterIssuer \(cert-manager\.io\/v1\)/);
      expect(bare.get('v1', 'Namespace', undefined, 'bare')).toBeUndefined();
    } finally {
      await bare.stop();
    }
  });
});

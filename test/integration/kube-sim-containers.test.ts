// kube-sim with realContainers: replicas run as real nginx containers (host network, own
// loopback ports) from images in the setup registry; the Service proxy spreads connections
// over ready pods only, so a client loop sees no failed request through a rollout and a
// rollback.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenConf, SITE_ROOT, serverConf } from '../../pipeline/nginx.js';
import { type KubeSim, SIM_LABEL, startKubeSim } from '../kube-sim/index.js';
import {
  type Kubectl,
  kubectlFor,
  MISSING_IMAGE,
  ok,
  until,
  webDeployment,
  webService,
} from '../kube-sim/testing.js';

const BASE = '127.0.0.1:5000/library/nginx:stable';
const REPO = '127.0.0.1:5000/kube-sim-test/site';

/** Builds and pushes a tiny sitepipe-shaped image whose index page says `version`. */
async function buildImage(version: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kube-sim-image-'));
  const tag = `${REPO}:${version}`;
  try {
    await writeFile(join(dir, 'default.conf'), serverConf());
    await writeFile(join(dir, 'listen.conf'), listenConf(8080));
    await writeFile(join(dir, 'index.html'), `site ${version}\n`);
    await writeFile(
      join(dir, 'Dockerfile'),
      [
        `FROM ${BASE}`,
        'COPY default.conf /etc/nginx/conf.d/default.conf',
        'COPY listen.conf /etc/nginx/sitepipe/listen.conf',
        `COPY index.html ${SITE_ROOT}/index.html`,
        '',
      ].join('\n'),
    );
    // Never the default bridge: host network only.
    await execa('docker', ['build', '--network', 'host', '-q', '-t', tag, dir]);
    await execa('docker', ['push', '-q', tag]);
    return tag;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** GET on a fresh connection (no keep-alive), so each request goes through the proxy's balancing. */
function fetchOnce(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

interface LoopResult {
  ok: number;
  failures: string[];
  bodies: Set<string>;
}

/** Requests the URL back to back until stopped; records every failure. */
function clientLoop(url: string): { stop(): Promise<LoopResult> } {
  const result: LoopResult = { ok: 0, failures: [], bodies: new Set() };
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const r = await fetchOnce(url);
        if (r.status === 200) {
          result.ok++;
          result.bodies.add(r.body.trim());
        } else result.failures.push(`HTTP ${r.status}`);
      } catch (e) {
        result.failures.push((e as Error).message);
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return result;
    },
  };
}

describe('kube-sim with real containers', () => {
  let sim: KubeSim;
  let kubectl: Kubectl;
  let v1: string;
  let v2: string;
  const docker = new Docker({ socketPath: '/var/run/docker.sock' });

  const ourContainers = async () =>
    docker.listContainers({ all: true, filters: { label: [`${SIM_LABEL}=${sim.id}`] } });

  beforeAll(async () => {
    [v1, v2] = await Promise.all([buildImage('v1'), buildImage('v2')]);
    sim = await startKubeSim({ realContainers: true, timeScale: 0.2 });
    kubectl = await kubectlFor(sim);
  });
  afterAll(async () => {
    await kubectl?.cleanup();
    await sim?.stop();
  });

  it('rolls out and back with no failed request through the Service proxy', async () => {
    const file = await kubectl.manifest('web.yaml', [
      webDeployment({ image: v1, progressDeadlineSeconds: 600 }),
      webService(),
    ]);
    ok(await kubectl('apply', '--server-side', '-f', file));
    ok(await kubectl('rollout', 'status', 'deploy/web', '--timeout=120s'));
    expect(await ourContainers()).toHaveLength(3);

    const address = await sim.serviceAddress('default', 'web');
    const annotation = await kubectl(
      'get',
      'svc',
      'web',
      '-o',
      'jsonpath={.metadata.annotations.proxy\\.kube-sim\\.sitepipe\\.dev/80}',
    );
    expect(annotation.stdout).toBe(`127.0.0.1:${address.port}`);
    expect((await fetchOnce(`${address.url}/`)).body).toBe('site v1\n');
    expect((await fetchOnce(`${address.url}/healthz`)).status).toBe(200);
    const pod = sim.list('v1', 'Pod', 'default', 'app=web')[0];
    const hostPort = sim.podHostPort('default', pod?.metadata.name ?? '');
    expect((await fetchOnce(`http://127.0.0.1:${hostPort}/`)).body).toBe('site v1\n');

    const loop = clientLoop(`${address.url}/`);
    ok(await kubectl('set', 'image', 'deploy/web', `site=${v2}`));
    ok(await kubectl('rollout', 'status', 'deploy/web', '--timeout=120s'));
    await until(async () => (await fetchOnce(`${address.url}/`)).body === 'site v2\n', 10_000, 'v2 to serve');
    ok(await kubectl('rollout', 'undo', 'deploy/web'));
    ok(await kubectl('rollout', 'status', 'deploy/web', '--timeout=120s'));
    const result = await loop.stop();

    expect(result.failures).toEqual([]);
    expect(result.ok).toBeGreaterThan(50);
    expect([...result.bodies].sort()).toEqual(['site v1', 'site v2']);
    expect((await fetchOnce(`${address.url}/`)).body).toBe('site v1\n');
    await until(async () => (await ourContainers()).length === 3, 30_000, 'old containers to go');
    const name = sim.list('v1', 'Pod', 'default', 'app=web')[0]?.metadata.name ?? '';
    await fetchOnce(`http://127.0.0.1:${sim.podHostPort('default', name)}/`);
    const logs = ok(await kubectl('logs', name));
    expect(logs.stdout).toContain('"GET / HTTP/1.1" 200');
  });

  it('never starts a container for a missing image', async () => {
    // Docker's own pace is not scaled: only this rollout gets a short deadline (15 s x 0.2).
    ok(await kubectl('patch', 'deploy/web', '-p', '{"spec":{"progressDeadlineSeconds":15}}'));
    ok(await kubectl('set', 'image', 'deploy/web', `site=${MISSING_IMAGE}`));
    const failed = await kubectl('rollout', 'status', 'deploy/web', '--timeout=120s');
    expect(failed.stderr).toContain('exceeded its progress deadline');
    const pods = await kubectl('get', 'pods', '-l', 'app=web');
    expect(pods.stdout).toMatch(/ErrImagePull|ImagePullBackOff/);
    expect(await ourContainers()).toHaveLength(3);
    // The Service still answers from the old pods.
    const address = await sim.serviceAddress('default', 'web');
    expect((await fetchOnce(`${address.url}/`)).body).toBe('site v1\n');
  });

  it('removes every container on stop', async () => {
    await sim.stop();
    expect(await ourContainers()).toEqual([]);
  });
});

// Real kubectl (1.27, 1.30, 1.33 through the gcloud dispatcher) against kube-sim: the
// rollout facts a deploy step relies on must read the same through kubectl.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KubeSim, startKubeSim } from '../kube-sim/index.js';
import {
  type Kubectl,
  kubectlFor,
  MISSING_IMAGE,
  ok,
  PRESENT_IMAGE,
  until,
  webDeployment,
  webService,
} from '../kube-sim/testing.js';

const OTHER_IMAGE = '127.0.0.1:5000/library/debian:bookworm-slim';

const VERSIONS = [
  { server: '1.27.16', client: 'v1.27.' },
  { server: '1.30.5', client: 'v1.30.' },
  { server: '1.33.1', client: 'v1.33.' },
];

describe.each(VERSIONS)('kubectl $client against kube-sim', ({ server, client }) => {
  let sim: KubeSim;
  let kubectl: Kubectl;

  beforeAll(async () => {
    sim = await startKubeSim({ kubernetesVersion: server, timeScale: 0.2 });
    kubectl = await kubectlFor(sim);
  });
  afterAll(async () => {
    await kubectl?.cleanup();
    await sim?.stop();
  });

  it('is served by the kubectl binary the server version selects', async () => {
    const r = await kubectl('version', '-o', 'json');
    expect(r.exitCode, r.stderr).toBe(0);
    const v = JSON.parse(r.stdout) as {
      clientVersion: { gitVersion: string };
      serverVersion: { gitVersion: string };
    };
    expect(v.clientVersion.gitVersion.startsWith(client)).toBe(true);
    expect(v.serverVersion.gitVersion).toBe(`v${server}`);
  });

  it('applies server-side, rolls out, sets an image, undoes it, and fails on a missing image', async () => {
    const file = await kubectl.manifest('web.yaml', [
      webDeployment({ image: PRESENT_IMAGE, changeCause: 'first' }),
      webService(),
    ]);
    const apply = await kubectl('apply', '--server-side', '-f', file);
    expect(apply.exitCode, apply.stderr).toBe(0);
    expect(apply.stdout).toContain('deployment.apps/web serverside-applied');
    expect(apply.stdout).toContain('service/web serverside-applied');

    const status = await kubectl('rollout', 'status', 'deploy/web', '--timeout=60s');
    expect(status.exitCode, status.stderr).toBe(0);
    expect(status.stdout).toContain('deployment "web" successfully rolled out');
    const image = () =>
      kubectl('get', 'deploy', 'web', '-o', 'jsonpath={.spec.template.spec.containers[0].image}');
    expect((await image()).stdout).toBe(PRESENT_IMAGE);
    expect((await kubectl('get', 'deploy', 'web', '-o', 'jsonpath={.status.readyReplicas}')).stdout).toBe(
      '3',
    );

    const set = await kubectl('set', 'image', 'deploy/web', `site=${OTHER_IMAGE}`);
    expect(set.exitCode, set.stderr).toBe(0);
    ok(await kubectl('rollout', 'status', 'deploy/web', '--timeout=60s'));
    expect((await image()).stdout).toBe(OTHER_IMAGE);
    const rs = await kubectl(
      'get',
      'rs',
      '-l',
      'app=web',
      '-o',
      'jsonpath={range .items[*]}{.metadata.annotations.deployment\\.kubernetes\\.io/revision}={.spec.replicas} {end}',
    );
    expect(rs.stdout.trim().split(' ').sort()).toEqual(['1=0', '2=3']);

    const undo = await kubectl('rollout', 'undo', 'deploy/web');
    expect(undo.exitCode, undo.stderr).toBe(0);
    expect(undo.stdout).toContain('rolled back');
    ok(await kubectl('rollout', 'status', 'deploy/web', '--timeout=60s'));
    expect((await image()).stdout).toBe(PRESENT_IMAGE);
    const history = await kubectl('rollout', 'history', 'deploy/web');
    expect(history.stdout).toMatch(/3\s+first/);

    ok(await kubectl('set', 'image', 'deploy/web', `site=${MISSING_IMAGE}`));
    const failed = await kubectl('rollout', 'status', 'deploy/web', '--timeout=60s');
    expect(failed.exitCode).toBe(1);
    expect(failed.stderr).toContain('deployment "web" exceeded its progress deadline');
    // maxUnavailable 0: the old pods kept serving, the new one cannot pull.
    expect((await kubectl('get', 'deploy', 'web', '-o', 'jsonpath={.status.availableReplicas}')).stdout).toBe(
      '3',
    );
    await until(
      async () => {
        const pods = await kubectl('get', 'pods', '-l', 'app=web');
        return pods.stdout.includes('ImagePullBackOff');
      },
      30_000,
      'a pod in ImagePullBackOff',
    );
    const reason = await kubectl(
      'get',
      'deploy',
      'web',
      '-o',
      'jsonpath={.status.conditions[?(@.type=="Progressing")].reason}',
    );
    expect(reason.stdout).toBe('ProgressDeadlineExceeded');

    ok(await kubectl('rollout', 'undo', 'deploy/web'));
    ok(await kubectl('rollout', 'status', 'deploy/web', '--timeout=60s'));
    expect((await image()).stdout).toBe(PRESENT_IMAGE);
    expect(sim.controllerErrors).toEqual([]);
  });

  it('serves client-side apply, get -A tables, describe, scale and delete', async () => {
    const file = await kubectl.manifest('other.yaml', [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'other' } },
      webDeployment({ name: 'other', namespace: 'other', image: PRESENT_IMAGE, replicas: 2 }),
    ]);
    const apply = await kubectl('apply', '-f', file);
    expect(apply.exitCode, apply.stderr).toBe(0);
    expect((await kubectl('apply', '-f', file)).stdout).toContain('unchanged');
    ok(await kubectl('-n', 'other', 'wait', '--for=condition=Available', 'deploy/other', '--timeout=60s'));
    const all = await kubectl('get', 'deploy', '-A');
    expect(all.stdout).toMatch(/NAMESPACE\s+NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE/);
    expect(all.stdout).toMatch(/other\s+other\s+2\/2\s+2\s+2/);
    expect((await kubectl('-n', 'other', 'describe', 'deploy', 'other')).stdout).toContain(
      'NewReplicaSetAvailable',
    );
    ok(await kubectl('-n', 'other', 'scale', 'deploy/other', '--replicas=1'));
    ok(await kubectl('-n', 'other', 'rollout', 'status', 'deploy/other', '--timeout=60s'));
    // As on a real cluster, the pod scaled away is listed until its graceful deletion ends.
    await until(
      async () =>
        (await kubectl('-n', 'other', 'get', 'pods', '-o', 'name')).stdout.trim().split('\n').length === 1,
      30_000,
      'the scaled-away pod to go',
    );
    ok(await kubectl('delete', 'namespace', 'other'));
    await until(
      async () => (await kubectl('get', 'ns', 'other')).exitCode !== 0,
      30_000,
      'namespace deletion',
    );
    expect(sim.list('apps/v1', 'ReplicaSet', 'other')).toEqual([]);
  });

  it('creates objects with the generators (kubectl 1.33 sends them as protobuf)', async () => {
    ok(await kubectl('create', 'namespace', 'gen'));
    const secret = await kubectl('-n', 'gen', 'create', 'secret', 'generic', 's', '--from-literal=token=abc');
    expect(secret.exitCode, secret.stderr).toBe(0);
    const data = await kubectl('-n', 'gen', 'get', 'secret', 's', '-o', 'jsonpath={.data.token}');
    expect(Buffer.from(data.stdout, 'base64').toString()).toBe('abc');
    const dep = await kubectl(
      '-n',
      'gen',
      'create',
      'deployment',
      'd',
      `--image=${PRESENT_IMAGE}`,
      '--replicas=2',
    );
    expect(dep.exitCode, dep.stderr).toBe(0);
    ok(await kubectl('-n', 'gen', 'rollout', 'status', 'deploy/d', '--timeout=60s'));
  });
});

// @kubernetes/client-node against kube-sim: the calls a deploy step makes (server-side apply
// through KubernetesObjectApi, AppsV1Api reads and patches, a Lease as a lock, Watch) see
// the same rollout facts as kubectl.
import {
  ApiException,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
  V1MicroTime,
  Watch,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KubeSim, rolloutVerdict, startKubeSim } from '../kube-sim/index.js';
import { MISSING_IMAGE, PRESENT_IMAGE, until, webDeployment, webService } from '../kube-sim/testing.js';

const OTHER_IMAGE = '127.0.0.1:5000/library/debian:bookworm-slim';
const NS = 'site';

interface StatusBody {
  kind: string;
  reason: string;
  code: number;
  message: string;
  details?: { causes?: { reason: string; field?: string }[] };
}

/** What a failed call answered: the HTTP code and the Status body. */
async function failure(p: Promise<unknown>): Promise<{ code: number; status: StatusBody }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApiException) return { code: e.code, status: JSON.parse(String(e.body)) as StatusBody };
    throw e;
  }
  throw new Error('the call succeeded');
}

describe('@kubernetes/client-node against kube-sim', () => {
  let sim: KubeSim;
  let kc: KubeConfig;
  let apps: AppsV1Api;
  let core: CoreV1Api;
  let objects: KubernetesObjectApi;

  const apply = (obj: object, force = false, manager = 'sitepipe') =>
    objects.patch(
      obj as KubernetesObject,
      undefined,
      undefined,
      manager,
      force,
      PatchStrategy.ServerSideApply,
    );

  /** Watches the Deployment until kubectl's rollout verdict is final. */
  async function watchRollout(name: string): Promise<{ verdict: string; events: number }> {
    const watch = new Watch(kc);
    let events = 0;
    return new Promise((resolve, reject) => {
      let controller: AbortController | undefined;
      watch
        .watch(
          `/apis/apps/v1/namespaces/${NS}/deployments`,
          { fieldSelector: `metadata.name=${name}` },
          (_type, obj: V1Deployment) => {
            events++;
            const verdict = rolloutVerdict(obj as never);
            if (verdict === 'complete' || verdict === 'failed') {
              controller?.abort();
              resolve({ verdict, events });
            }
          },
          (err) => {
            if (err && (err as Error).name !== 'AbortError' && !String(err).includes('aborted')) reject(err);
          },
        )
        .then((c) => {
          controller = c;
        }, reject);
    });
  }

  beforeAll(async () => {
    sim = await startKubeSim({ timeScale: 0.2, token: 'kube-sim-secret-token', requireToken: true });
    kc = new KubeConfig();
    kc.loadFromFile(sim.kubeconfigPath);
    apps = kc.makeApiClient(AppsV1Api);
    core = kc.makeApiClient(CoreV1Api);
    objects = KubernetesObjectApi.makeApiClient(kc);
    await core.createNamespace({ body: { metadata: { name: NS } } });
  });
  afterAll(async () => {
    await sim?.stop();
  });

  it('applies server-side, watches the rollout, patches the image and reads it back', async () => {
    const created = await apply(webDeployment({ namespace: NS, image: PRESENT_IMAGE }));
    expect(created.metadata?.managedFields?.map((m) => [m.manager, m.operation])).toEqual([
      ['sitepipe', 'Apply'],
    ]);
    await apply(webService('web', NS));
    expect((await watchRollout('web')).verdict).toBe('complete');

    const d = await apps.readNamespacedDeployment({ name: 'web', namespace: NS });
    expect(d.spec?.template.spec?.containers[0]?.image).toBe(PRESENT_IMAGE);
    expect(d.status?.observedGeneration).toBe(d.metadata?.generation);
    expect(d.status?.conditions?.find((c) => c.type === 'Progressing')?.reason).toBe(
      'NewReplicaSetAvailable',
    );
    expect(d.metadata?.annotations?.['deployment.kubernetes.io/revision']).toBe('1');

    await apps.patchNamespacedDeployment(
      {
        name: 'web',
        namespace: NS,
        fieldManager: 'kubectl-set',
        body: { spec: { template: { spec: { containers: [{ name: 'site', image: OTHER_IMAGE }] } } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    expect((await watchRollout('web')).verdict).toBe('complete');
    const after = await apps.readNamespacedDeployment({ name: 'web', namespace: NS });
    expect(after.spec?.template.spec?.containers[0]?.image).toBe(OTHER_IMAGE);
    expect(after.metadata?.generation).toBe(2);

    // The image now belongs to kubectl-set: applying another one conflicts unless forced.
    const conflict = await failure(apply(webDeployment({ namespace: NS, image: PRESENT_IMAGE })));
    expect(conflict.code).toBe(409);
    expect(conflict.status.reason).toBe('Conflict');
    expect(conflict.status.message).toContain('conflict with "kubectl-set"');
    expect(conflict.status.details?.causes?.[0]).toMatchObject({
      reason: 'FieldManagerConflict',
      field: '.spec.template.spec.containers[name="site"].image',
    });
    await apply(webDeployment({ namespace: NS, image: PRESENT_IMAGE }), true);
    expect((await watchRollout('web')).verdict).toBe('complete');
  });

  it('rolls back the way kubectl rollout undo does: ReplicaSets by revision, JSON patch of the template', async () => {
    const d = await apps.readNamespacedDeployment({ name: 'web', namespace: NS });
    const selector = Object.entries(d.spec?.selector.matchLabels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const rss = (
      await apps.listNamespacedReplicaSet({ namespace: NS, labelSelector: selector })
    ).items.filter((rs) =>
      rs.metadata?.ownerReferences?.some((o) => o.controller && o.uid === d.metadata?.uid),
    );
    const revision = (rs: (typeof rss)[number]) =>
      Number(rs.metadata?.annotations?.['deployment.kubernetes.io/revision']);
    rss.sort((a, b) => revision(b) - revision(a));
    expect(rss.map(revision)).toEqual([3, 2]);
    const previous = rss[1];
    expect(previous?.spec?.template?.spec?.containers[0]?.image).toBe(OTHER_IMAGE);
    const template = structuredClone(previous?.spec?.template);
    delete template?.metadata?.labels?.['pod-template-hash'];
    await apps.patchNamespacedDeployment(
      { name: 'web', namespace: NS, body: [{ op: 'replace', path: '/spec/template', value: template }] },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
    expect((await watchRollout('web')).verdict).toBe('complete');
    const rolled = await apps.readNamespacedDeployment({ name: 'web', namespace: NS });
    expect(rolled.spec?.template.spec?.containers[0]?.image).toBe(OTHER_IMAGE);
    // The old ReplicaSet came back as the newest revision; no new one was made.
    expect(rolled.metadata?.annotations?.['deployment.kubernetes.io/revision']).toBe('4');
    expect((await apps.listNamespacedReplicaSet({ namespace: NS })).items).toHaveLength(2);
  });

  it('reports a missing image as ImagePullBackOff and the rollout as past its deadline', async () => {
    await apply(webDeployment({ namespace: NS, image: MISSING_IMAGE }), true);
    expect((await watchRollout('web')).verdict).toBe('failed');
    const d = await apps.readNamespacedDeployment({ name: 'web', namespace: NS });
    const progressing = d.status?.conditions?.find((c) => c.type === 'Progressing');
    expect(progressing?.status).toBe('False');
    expect(progressing?.reason).toBe('ProgressDeadlineExceeded');
    expect(progressing?.message).toMatch(/^ReplicaSet "web-\w+" has timed out progressing\.$/);
    expect(d.status?.availableReplicas).toBe(3);
    expect(d.status?.updatedReplicas).toBe(1);

    const waiting = await until(
      async () => {
        const pods = await core.listNamespacedPod({ namespace: NS, labelSelector: 'app=web' });
        return pods.items
          .map((p) => p.status?.containerStatuses?.[0]?.state?.waiting)
          .find((w) => w?.reason === 'ImagePullBackOff');
      },
      30_000,
      'ImagePullBackOff',
    );
    expect(waiting.message).toBe(`Back-off pulling image "${MISSING_IMAGE}"`);
    const events = await core.listNamespacedEvent({ namespace: NS });
    expect(
      events.items.some((e) => e.reason === 'Failed' && e.message?.includes(`${MISSING_IMAGE}: not found`)),
    ).toBe(true);
  });

  it('treats any non-loopback registry as unreachable', async () => {
    await apply(
      webDeployment({ name: 'far', namespace: NS, image: 'gcr.io/some-project/website:1', replicas: 1 }),
    );
    const message = await until(async () => {
      const pods = await core.listNamespacedPod({ namespace: NS, labelSelector: 'app=far' });
      return pods.items.map((p) => p.status?.containerStatuses?.[0]?.state?.waiting?.message).find(Boolean);
    });
    expect(message).toContain('kube-sim pulls only from loopback registries');
  });

  it('pulls by digest, as sitepipe pins images, and reports the digest it runs', async () => {
    const head = await fetch('http://127.0.0.1:5000/v2/library/nginx/manifests/stable', {
      method: 'HEAD',
      headers: {
        Accept:
          'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
      },
    });
    const digest = head.headers.get('docker-content-digest') ?? '';
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const pinned = `127.0.0.1:5000/library/nginx@${digest}`;
    await apply(webDeployment({ name: 'pinned', namespace: NS, image: pinned, replicas: 2 }));
    expect((await watchRollout('pinned')).verdict).toBe('complete');
    const pods = await core.listNamespacedPod({ namespace: NS, labelSelector: 'app=pinned' });
    expect(pods.items.map((p) => p.status?.containerStatuses?.[0]?.imageID)).toEqual([pinned, pinned]);
    expect(pods.items[0]?.spec?.containers[0]?.imagePullPolicy).toBe('IfNotPresent');

    const wrong = `127.0.0.1:5000/library/nginx@sha256:${'0'.repeat(64)}`;
    await apply(webDeployment({ name: 'pinned', namespace: NS, image: wrong, replicas: 2 }));
    expect((await watchRollout('pinned')).verdict).toBe('failed');
  });

  it('keeps a Lease as a lock with optimistic concurrency', async () => {
    const coordination = kc.makeApiClient(CoordinationV1Api);
    const lease = await coordination.createNamespacedLease({
      namespace: NS,
      body: {
        metadata: { name: 'sitepipe-deploy' },
        spec: {
          holderIdentity: 'run-1',
          leaseDurationSeconds: 60,
          acquireTime: new V1MicroTime(),
          renewTime: new V1MicroTime(),
        },
      },
    });
    const again = await failure(
      coordination.createNamespacedLease({ namespace: NS, body: { metadata: { name: 'sitepipe-deploy' } } }),
    );
    expect(again.code).toBe(409);
    expect(again.status.reason).toBe('AlreadyExists');
    expect(again.status.message).toBe('leases.coordination.k8s.io "sitepipe-deploy" already exists');

    const renewed = await coordination.replaceNamespacedLease({
      name: 'sitepipe-deploy',
      namespace: NS,
      body: { ...lease, spec: { ...lease.spec, holderIdentity: 'run-1', renewTime: new V1MicroTime() } },
    });
    expect(Number(renewed.metadata?.resourceVersion)).toBeGreaterThan(
      Number(lease.metadata?.resourceVersion),
    );
    // A second holder with the stale resourceVersion loses.
    const stale = await failure(
      coordination.replaceNamespacedLease({
        name: 'sitepipe-deploy',
        namespace: NS,
        body: { ...lease, spec: { ...lease.spec, holderIdentity: 'run-2' } },
      }),
    );
    expect(stale.code).toBe(409);
    expect(stale.status.reason).toBe('Conflict');
    expect(stale.status.message).toContain('the object has been modified');
    await coordination.deleteNamespacedLease({ name: 'sitepipe-deploy', namespace: NS });
    const gone = await failure(coordination.readNamespacedLease({ name: 'sitepipe-deploy', namespace: NS }));
    expect(gone.code).toBe(404);
    expect(gone.status.reason).toBe('NotFound');
  });

  it('rejects what the real server rejects, with Status bodies', async () => {
    const bad = webDeployment({ name: 'bad', namespace: NS, image: PRESENT_IMAGE });
    bad.spec.template.metadata.labels = { app: 'other' };
    const invalid = await failure(apply(bad));
    expect(invalid.code).toBe(422);
    expect(invalid.status.reason).toBe('Invalid');
    expect(invalid.status.message).toContain(
      'Deployment.apps "bad" is invalid: spec.template.metadata.labels',
    );
    const noNamespace = await failure(apply(webDeployment({ namespace: 'nowhere', image: PRESENT_IMAGE })));
    expect(noNamespace.code).toBe(404);
    expect(noNamespace.status.message).toBe('namespaces "nowhere" not found');
  });

  it('wants the bearer token from the kubeconfig', async () => {
    const res = await fetch(`${sim.url}/api/v1/namespaces`, { headers: { Authorization: 'Bearer wrong' } });
    expect(res.status).toBe(401);
    expect(sim.requests.some((r) => r.path === '/api/v1/namespaces' && r.status === 401)).toBe(true);
    expect(sim.controllerErrors).toEqual([]);
  });
});

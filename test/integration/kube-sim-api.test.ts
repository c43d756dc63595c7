// kube-sim's API semantics over plain HTTP: discovery, errors, concurrency, patch types,
// watches, subresources, deletion, add-on kinds and the controls tests use.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KubeSim, startKubeSim } from '../kube-sim/index.js';
import { MISSING_IMAGE, PRESENT_IMAGE, until, webDeployment } from '../kube-sim/testing.js';

type Json = Record<string, unknown> & { metadata?: Record<string, unknown> };

describe('kube-sim API', () => {
  let sim: KubeSim;

  async function call(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
    accept?: string,
  ) {
    const res = await fetch(`${sim.url}${path}`, {
      method,
      headers: {
        ...(body !== undefined ? { 'Content-Type': contentType } : {}),
        ...(accept ? { Accept: accept } : {}),
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let json: Json = {};
    try {
      json = JSON.parse(text) as Json;
    } catch {
      // not JSON
    }
    return { status: res.status, json, text, contentType: res.headers.get('content-type') ?? '' };
  }
  const deployments = (ns = 'default') => `/apis/apps/v1/namespaces/${ns}/deployments`;
  const applyDeployment = (name: string, body: unknown, manager = 'test', force = false) =>
    call(
      'PATCH',
      `${deployments()}/${name}?fieldManager=${manager}${force ? '&force=true' : ''}`,
      body,
      'application/apply-patch+yaml',
    );

  beforeAll(async () => {
    sim = await startKubeSim({ timeScale: 0.1, staticIps: { 'website-ipv6': '::1' } });
  });
  afterAll(async () => {
    await sim?.stop();
  });

  it('serves discovery in the aggregated and the legacy form', async () => {
    const v2 = await call(
      'GET',
      '/apis',
      undefined,
      undefined,
      'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json',
    );
    expect(v2.contentType).toBe('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
    const groups = (v2.json.items as { metadata: { name: string } }[]).map((g) => g.metadata.name);
    expect(groups).toEqual(
      expect.arrayContaining([
        'apps',
        'networking.k8s.io',
        'coordination.k8s.io',
        'cert-manager.io',
        'networking.gke.io',
        'gateway.networking.k8s.io',
      ]),
    );
    const legacy = await call('GET', '/apis/apps/v1');
    const deploy = (legacy.json.resources as { name: string; shortNames?: string[] }[]).find(
      (r) => r.name === 'deployments',
    );
    expect(deploy?.shortNames).toEqual(['deploy']);
    expect((await call('GET', '/api')).json.versions).toEqual(['v1']);
    const openapi = await call('GET', '/openapi/v3');
    const appsDoc = await call(
      'GET',
      (openapi.json.paths as Record<string, { serverRelativeURL: string }>)['apis/apps/v1']
        ?.serverRelativeURL ?? '',
    );
    const patch = (appsDoc.json.paths as Record<string, { patch?: { parameters: { name: string }[] } }>)[
      '/apis/apps/v1/namespaces/{namespace}/deployments/{name}'
    ]?.patch;
    expect(patch?.parameters.map((p) => p.name)).toContain('fieldValidation');
    expect((await call('GET', '/version')).json).toMatchObject({ major: '1', minor: '33' });
  });

  it('keeps metadata like the real server: uid, resourceVersion, generation on spec changes only', async () => {
    const created = await applyDeployment(
      'meta',
      webDeployment({ name: 'meta', image: PRESENT_IMAGE, replicas: 1 }),
    );
    expect(created.status).toBe(201);
    const m = created.json.metadata as {
      uid: string;
      resourceVersion: string;
      generation: number;
      creationTimestamp: string;
    };
    expect(m.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(m.generation).toBe(1);
    expect(m.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const labelled = await call(
      'PATCH',
      `${deployments()}/meta`,
      { metadata: { labels: { x: 'y' } } },
      'application/merge-patch+json',
    );
    expect((labelled.json.metadata as { generation: number }).generation).toBe(1);
    expect(Number((labelled.json.metadata as { resourceVersion: string }).resourceVersion)).toBeGreaterThan(
      Number(m.resourceVersion),
    );
    const scaled = await call(
      'PATCH',
      `${deployments()}/meta`,
      { spec: { replicas: 2 } },
      'application/merge-patch+json',
    );
    expect((scaled.json.metadata as { generation: number }).generation).toBe(2);
    // Defaults are filled in as the API server does.
    expect(scaled.json.spec).toMatchObject({ revisionHistoryLimit: 10, strategy: { type: 'RollingUpdate' } });
    // Writes to the main resource cannot touch status; the status subresource cannot touch spec.
    const current = (await call('GET', `${deployments()}/meta`)).json;
    const put = await call('PUT', `${deployments()}/meta`, { ...current, status: { replicas: 99 } });
    expect((put.json.status as { replicas?: number } | undefined)?.replicas).not.toBe(99);
  });

  it('answers optimistic concurrency and errors with Status objects', async () => {
    const current = (await call('GET', `${deployments()}/meta`)).json;
    const stale = { ...current, metadata: { ...current.metadata, resourceVersion: '1' } };
    const conflict = await call('PUT', `${deployments()}/meta`, stale);
    expect(conflict.status).toBe(409);
    expect(conflict.json).toMatchObject({
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      reason: 'Conflict',
      code: 409,
      message:
        'Operation cannot be fulfilled on deployments.apps "meta": the object has been modified; please apply your changes to the latest version and try again',
    });
    const exists = await call('POST', deployments(), webDeployment({ name: 'meta', image: PRESENT_IMAGE }));
    expect(exists.json).toMatchObject({ reason: 'AlreadyExists', code: 409 });
    const missing = await call('GET', `${deployments()}/nope`);
    expect(missing.json).toMatchObject({
      reason: 'NotFound',
      code: 404,
      message: 'deployments.apps "nope" not found',
    });
    const invalid = await call('POST', deployments(), { ...webDeployment({ name: 'Bad_Name', image: '' }) });
    expect(invalid.status).toBe(422);
    expect(invalid.json.message).toContain('metadata.name: Invalid value: "Bad_Name"');
    expect(invalid.json.message).toContain('spec.template.spec.containers[0].image: Required value');
    const noManager = await call('PATCH', `${deployments()}/meta`, {}, 'application/apply-patch+yaml');
    expect(noManager.status).toBe(400);
    const crdStrategic = await call(
      'PATCH',
      '/apis/cert-manager.io/v1/namespaces/default/certificates/x',
      {},
      'application/strategic-merge-patch+json',
    );
    expect(crdStrategic.status).toBe(415);
    const selectorChange = await call(
      'PATCH',
      `${deployments()}/meta`,
      {
        spec: {
          selector: { matchLabels: { app: 'other' } },
          template: { metadata: { labels: { app: 'other' } } },
        },
      },
      'application/merge-patch+json',
    );
    expect(selectorChange.status).toBe(422);
    expect(selectorChange.json.message).toContain('field is immutable');
  });

  it('applies the three patch types', async () => {
    const smp = await call(
      'PATCH',
      `${deployments()}/meta`,
      {
        spec: {
          template: {
            spec: {
              '$setElementOrder/containers': [{ name: 'site' }],
              containers: [{ name: 'site', image: MISSING_IMAGE }],
            },
          },
        },
      },
      'application/strategic-merge-patch+json',
    );
    expect(smp.status).toBe(200);
    const containers = (
      smp.json.spec as {
        template: { spec: { containers: { name: string; image: string; ports: unknown[] }[] } };
      }
    ).template.spec.containers;
    expect(containers).toHaveLength(1);
    expect(containers[0]).toMatchObject({ name: 'site', image: MISSING_IMAGE });
    expect(containers[0]?.ports).toHaveLength(1);
    const json = await call(
      'PATCH',
      `${deployments()}/meta`,
      [
        { op: 'test', path: '/spec/replicas', value: 2 },
        { op: 'replace', path: '/spec/template/spec/containers/0/image', value: PRESENT_IMAGE },
      ],
      'application/json-patch+json',
    );
    expect(json.status).toBe(200);
    const failedTest = await call(
      'PATCH',
      `${deployments()}/meta`,
      [{ op: 'test', path: '/spec/replicas', value: 7 }],
      'application/json-patch+json',
    );
    expect(failedTest.status).toBe(422);
    const merge = await call(
      'PATCH',
      `${deployments()}/meta`,
      { metadata: { labels: { x: null } } },
      'application/merge-patch+json',
    );
    expect((merge.json.metadata as { labels?: Record<string, string> }).labels?.x).toBeUndefined();
  });

  it('honours server-side apply ownership, pruning and dry runs', async () => {
    const first = await applyDeployment('ssa', {
      ...webDeployment({ name: 'ssa', image: PRESENT_IMAGE, replicas: 1 }),
      metadata: { name: 'ssa', labels: { app: 'ssa', tier: 'web' } },
    });
    expect(first.status).toBe(201);
    // Applying without the label removes it: the manager no longer claims it.
    const second = await applyDeployment(
      'ssa',
      webDeployment({ name: 'ssa', image: PRESENT_IMAGE, replicas: 1 }),
    );
    expect((second.json.metadata as { labels: Record<string, string> }).labels).toEqual({ app: 'ssa' });
    // Another manager setting a different value conflicts unless forced.
    const other = await applyDeployment(
      'ssa',
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'ssa' }, spec: { replicas: 2 } },
      'other',
    );
    expect(other.status).toBe(409);
    expect(other.json.message).toBe(
      // "test" applied the field: an applier is named without an API version.
      'Apply failed with 1 conflict: conflict with "test": .spec.replicas',
    );
    const forced = await applyDeployment(
      'ssa',
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'ssa' }, spec: { replicas: 2 } },
      'other',
      true,
    );
    expect(forced.status).toBe(200);
    const managers = (
      forced.json.metadata as { managedFields: { manager: string; fieldsV1: Record<string, unknown> }[] }
    ).managedFields;
    expect(managers.find((m) => m.manager === 'other')?.fieldsV1).toEqual({ 'f:spec': { 'f:replicas': {} } });
    const dry = await call(
      'PATCH',
      `${deployments()}/ssa?fieldManager=other&dryRun=All`,
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'ssa' }, spec: { replicas: 3 } },
      'application/apply-patch+yaml',
    );
    expect((dry.json.spec as { replicas: number }).replicas).toBe(3);
    expect(sim.get('apps/v1', 'Deployment', 'default', 'ssa')?.spec).toMatchObject({ replicas: 2 });
  });

  it('lists with selectors and pages, and serves Tables', async () => {
    const byLabel = await call(
      'GET',
      `${deployments()}?labelSelector=${encodeURIComponent('app in (ssa,meta)')}`,
    );
    expect((byLabel.json.items as Json[]).map((i) => i.metadata?.name).sort()).toEqual(['meta', 'ssa']);
    expect(byLabel.json.kind).toBe('DeploymentList');
    expect((byLabel.json.items as Json[])[0]?.kind).toBeUndefined();
    const byName = await call('GET', `${deployments()}?fieldSelector=metadata.name%3Dssa`);
    expect((byName.json.items as Json[]).map((i) => i.metadata?.name)).toEqual(['ssa']);
    const page1 = await call('GET', `${deployments()}?limit=1`);
    const token = (page1.json.metadata as { continue: string }).continue;
    expect(token).toBeTruthy();
    const page2 = await call('GET', `${deployments()}?limit=1&continue=${token}`);
    expect((page2.json.items as Json[])[0]?.metadata?.name).not.toBe(
      (page1.json.items as Json[])[0]?.metadata?.name,
    );
    const table = await call(
      'GET',
      '/apis/apps/v1/deployments',
      undefined,
      undefined,
      'application/json;as=Table;v=v1;g=meta.k8s.io',
    );
    expect(table.json.kind).toBe('Table');
    expect((table.json.columnDefinitions as { name: string }[]).map((c) => c.name).slice(0, 5)).toEqual([
      'Name',
      'Ready',
      'Up-to-date',
      'Available',
      'Age',
    ]);
  });

  it('streams watches from a resourceVersion, one JSON event per line', async () => {
    const rv = (await call('GET', deployments())).json.metadata?.resourceVersion as string;
    const lines: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const req = request(
        `${sim.url}${deployments()}?watch=true&resourceVersion=${rv}&timeoutSeconds=2&fieldSelector=metadata.name%3Dwatched`,
        (res) => {
          expect(res.headers['transfer-encoding']).toBe('chunked');
          let buf = '';
          res.on('data', (chunk: Buffer) => {
            buf += chunk.toString();
            const parts = buf.split('\n');
            buf = parts.pop() ?? '';
            lines.push(...parts);
          });
          res.on('end', () => resolve());
        },
      );
      req.on('error', reject);
      req.end();
    });
    await applyDeployment('watched', webDeployment({ name: 'watched', image: PRESENT_IMAGE, replicas: 1 }));
    expect(await sim.waitForRollout('default', 'watched', 20_000)).toBe('complete');
    await call('DELETE', `${deployments()}/watched`);
    await done;
    const events = lines.map((l) => JSON.parse(l) as { type: string; object: Json });
    expect(events[0]).toMatchObject({
      type: 'ADDED',
      object: { kind: 'Deployment', metadata: { name: 'watched' } },
    });
    expect(events.map((e) => e.type)).toContain('MODIFIED');
    expect(events[events.length - 1]?.type).toBe('DELETED');
    // No event for other objects, none before the resourceVersion.
    expect(events.every((e) => e.object.metadata?.name === 'watched')).toBe(true);
    const initial = await new Promise<string>((resolve) => {
      request(
        `${sim.url}${deployments()}?watch=1&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1`,
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => {
            text += c.toString();
          });
          res.on('end', () => resolve(text));
        },
      ).end();
    });
    const kinds = initial
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { type: string }).type);
    expect(kinds.at(-1)).toBe('BOOKMARK');
    expect(kinds.slice(0, -1).every((k) => k === 'ADDED')).toBe(true);
  });

  it('answers 410 Gone to a watch from a compacted resourceVersion', async () => {
    const rv = (await call('GET', deployments())).json.metadata?.resourceVersion as string;
    await call('POST', '/api/v1/namespaces/default/configmaps', {
      metadata: { name: 'compacted' },
      data: { a: 'b' },
    });
    sim.store.compact();
    const res = await call('GET', `${deployments()}?watch=true&resourceVersion=${rv}&timeoutSeconds=5`);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text.trim())).toMatchObject({
      type: 'ERROR',
      object: { kind: 'Status', code: 410, reason: 'Expired' },
    });
  });

  it('deletes with background propagation and graceful pods', async () => {
    await applyDeployment('gone', webDeployment({ name: 'gone', image: PRESENT_IMAGE, replicas: 2 }));
    expect(await sim.waitForRollout('default', 'gone', 20_000)).toBe('complete');
    const del = await call('DELETE', `${deployments()}/gone`);
    expect(del.json).toMatchObject({
      kind: 'Status',
      status: 'Success',
      details: { name: 'gone', kind: 'deployments' },
    });
    await until(() => sim.list('v1', 'Pod', 'default', 'app=gone').length === 0, 20_000, 'pods to go');
    expect(sim.list('apps/v1', 'ReplicaSet', 'default', 'app=gone')).toEqual([]);
  });

  it('lets tests break images: not ready, crashing, unpullable', async () => {
    sim.controls.setImageBehavior(/:stable$/, 'not-ready');
    await applyDeployment(
      'slow',
      webDeployment({ name: 'slow', image: PRESENT_IMAGE, replicas: 1, progressDeadlineSeconds: 10 }),
    );
    expect(await sim.waitForRollout('default', 'slow', 20_000)).toBe('failed');
    const pod = sim.list('v1', 'Pod', 'default', 'app=slow')[0];
    expect(pod?.status).toMatchObject({
      phase: 'Running',
      containerStatuses: [{ ready: false, state: { running: {} } }],
    });
    sim.controls.clearImageBehaviors();
    sim.controls.setImageBehavior(PRESENT_IMAGE, 'crash');
    await applyDeployment('crash', webDeployment({ name: 'crash', image: PRESENT_IMAGE, replicas: 1 }));
    await until(
      () =>
        sim
          .list('v1', 'Pod', 'default', 'app=crash')
          .some((p) => JSON.stringify(p.status).includes('CrashLoopBackOff')),
      20_000,
      'CrashLoopBackOff',
    );
    sim.controls.clearImageBehaviors();
    // An image the registry has, made unpullable by the test.
    sim.controls.setImageBehavior((image) => image === PRESENT_IMAGE, 'pull-error');
    await applyDeployment('nopull', webDeployment({ name: 'nopull', image: PRESENT_IMAGE, replicas: 1 }));
    const waiting = await until(() => {
      const pod = sim.list('v1', 'Pod', 'default', 'app=nopull')[0];
      const w = (
        pod?.status as { containerStatuses?: { state: { waiting?: { reason: string } } }[] } | undefined
      )?.containerStatuses?.[0]?.state.waiting;
      return w?.reason === 'ImagePullBackOff' ? w : undefined;
    }, 20_000);
    expect(waiting.reason).toBe('ImagePullBackOff');
    const stuck = sim.list('v1', 'Pod', 'default', 'app=nopull')[0]?.metadata.name ?? '';
    const logs = await call('GET', `/api/v1/namespaces/default/pods/${stuck}/log`);
    expect(logs.status).toBe(400);
    expect(logs.json.message).toBe(
      `container "site" in pod "${stuck}" is waiting to start: trying and failing to pull image`,
    );
    sim.controls.clearImageBehaviors();
  });

  it('rolls out with Recreate and scales through the scale subresource', async () => {
    const d = webDeployment({ name: 'recreate', image: PRESENT_IMAGE, replicas: 2 });
    (d.spec as Record<string, unknown>).strategy = { type: 'Recreate' };
    await applyDeployment('recreate', d);
    expect(await sim.waitForRollout('default', 'recreate', 20_000)).toBe('complete');
    const scale = await call(
      'PATCH',
      `${deployments()}/recreate/scale`,
      { spec: { replicas: 3 } },
      'application/merge-patch+json',
    );
    expect(scale.json).toMatchObject({
      kind: 'Scale',
      spec: { replicas: 3 },
      status: { selector: 'app=recreate' },
    });
    await until(
      () =>
        (sim.get('apps/v1', 'Deployment', 'default', 'recreate')?.status as { readyReplicas?: number })
          ?.readyReplicas === 3,
      20_000,
    );
  });

  it('runs stand-ins for cert-manager, GKE and Gateway API controllers', async () => {
    const post = (path: string, body: unknown) => call('POST', path, body);
    await post('/apis/cert-manager.io/v1/clusterissuers', {
      apiVersion: 'cert-manager.io/v1',
      kind: 'ClusterIssuer',
      metadata: { name: 'letsencrypt' },
      spec: {
        acme: {
          server: 'https://acme-v02.api.letsencrypt.org/directory',
          email: 'a@example.com',
          privateKeySecretRef: { name: 'k' },
          solvers: [{ http01: { ingress: {} } }],
        },
      },
    });
    await post('/apis/cert-manager.io/v1/namespaces/default/certificates', {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: { name: 'site' },
      spec: {
        secretName: 'site-tls',
        dnsNames: ['www.example.com'],
        issuerRef: { kind: 'ClusterIssuer', name: 'letsencrypt' },
      },
    });
    await post('/apis/networking.gke.io/v1/namespaces/default/managedcertificates', {
      apiVersion: 'networking.gke.io/v1',
      kind: 'ManagedCertificate',
      metadata: { name: 'site' },
      spec: { domains: ['www.example.com'] },
    });
    await post('/apis/networking.k8s.io/v1/namespaces/default/ingresses', {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: {
        name: 'v6',
        annotations: { 'kubernetes.io/ingress.global-static-ip-name': 'website-ipv6' },
      },
      spec: { defaultBackend: { service: { name: 'web', port: { number: 80 } } } },
    });
    await post('/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways', {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'gw' },
      spec: {
        gatewayClassName: 'gke-l7-global-external-managed',
        listeners: [{ name: 'https', port: 443, protocol: 'HTTPS' }],
      },
    });
    await post('/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes', {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'site' },
      spec: { parentRefs: [{ name: 'gw' }], rules: [{ backendRefs: [{ name: 'nope', port: 80 }] }] },
    });
    const cert = await until(
      () => {
        const c = sim.get('cert-manager.io/v1', 'Certificate', 'default', 'site');
        return JSON.stringify(c?.status).includes('"Ready","status":"True"') ? c : undefined;
      },
      20_000,
      'certificate Ready',
    );
    expect(cert.status).toMatchObject({ revision: 1 });
    expect(sim.get('v1', 'Secret', 'default', 'site-tls')).toMatchObject({ type: 'kubernetes.io/tls' });
    const issuer = sim.get('cert-manager.io/v1', 'ClusterIssuer', undefined, 'letsencrypt');
    expect(issuer?.status).toMatchObject({
      conditions: [{ type: 'Ready', status: 'True', reason: 'ACMEAccountRegistered' }],
    });
    await until(
      () =>
        (
          sim.get('networking.gke.io/v1', 'ManagedCertificate', 'default', 'site')?.status as {
            certificateStatus?: string;
          }
        )?.certificateStatus === 'Active',
      20_000,
    );
    expect(sim.get('networking.k8s.io/v1', 'Ingress', 'default', 'v6')?.status).toEqual({
      loadBalancer: { ingress: [{ ip: '::1' }] },
    });
    expect(sim.get('gateway.networking.k8s.io/v1', 'Gateway', 'default', 'gw')?.status).toMatchObject({
      addresses: [{ type: 'IPAddress', value: '127.0.0.1' }],
      conditions: [{ type: 'Accepted' }, { type: 'Programmed', status: 'True' }],
      listeners: [{ name: 'https', attachedRoutes: 1 }],
    });
    const route = sim.get('gateway.networking.k8s.io/v1', 'HTTPRoute', 'default', 'site');
    expect(JSON.stringify(route?.status)).toContain('BackendNotFound');
  });

  it('reports PodDisruptionBudget status from the pods it selects', async () => {
    await call('POST', '/apis/policy/v1/namespaces/default/poddisruptionbudgets', {
      metadata: { name: 'recreate' },
      spec: { minAvailable: 1, selector: { matchLabels: { app: 'recreate' } } },
    });
    const pdb = await until(() => {
      const p = sim.get('policy/v1', 'PodDisruptionBudget', 'default', 'recreate');
      return (p?.status as { expectedPods?: number } | undefined)?.expectedPods === 3 ? p : undefined;
    }, 20_000);
    expect(pdb.status).toMatchObject({ currentHealthy: 3, desiredHealthy: 1, disruptionsAllowed: 2 });
  });

  it('injects faults and records requests', async () => {
    sim.faults.push({
      method: 'GET',
      path: `${deployments()}/meta`,
      code: 503,
      reason: 'ServiceUnavailable',
    });
    expect((await call('GET', `${deployments()}/meta`)).status).toBe(503);
    expect((await call('GET', `${deployments()}/meta`)).status).toBe(200);
    expect(
      sim.requests
        .filter((r) => r.path === `${deployments()}/meta` && r.method === 'GET')
        .map((r) => r.status)
        .slice(-2),
    ).toEqual([503, 200]);
    expect(sim.controllerErrors).toEqual([]);
  });
});

describe('kube-sim without add-ons', () => {
  it('has no cert-manager, GKE or Gateway API kinds when they are not installed', async () => {
    const sim = await startKubeSim({ addons: [] });
    try {
      const res = await fetch(`${sim.url}/apis/cert-manager.io/v1/namespaces/default/certificates`);
      expect(res.status).toBe(404);
      const groups = (await (await fetch(`${sim.url}/apis`)).json()) as { groups: { name: string }[] };
      expect(groups.groups.map((g) => g.name).sort()).toEqual([
        'apps',
        'coordination.k8s.io',
        'discovery.k8s.io',
        'networking.k8s.io',
        'policy',
      ]);
    } finally {
      await sim.stop();
    }
  });
});

// Where kube-sim used to differ from a real kube-apiserver and kube-controller-manager
// (issue 11): each behaviour below is the real server's, pinned through plain HTTP,
// @kubernetes/client-node's wire format or the real kubectl.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rolloutState } from '../../pipeline/kube/rollout-status.js';
import { type KubeObject, type KubeSim, startKubeSim } from '../kube-sim/index.js';
import {
  type Kubectl,
  kubectlFor,
  ok,
  PRESENT_IMAGE,
  until,
  webDeployment,
  webService,
} from '../kube-sim/testing.js';

const OTHER_IMAGE = '127.0.0.1:5000/library/debian:bookworm-slim';
const ADDON_GROUPS = [
  'cert-manager.io',
  'networking.gke.io',
  'cloud.google.com',
  'gateway.networking.k8s.io',
];

type Json = Record<string, unknown> & { metadata?: Record<string, unknown> };
type Entry = {
  manager: string;
  operation: string;
  subresource?: string;
  time?: string;
  fieldsV1: Record<string, unknown>;
};

function client(sim: () => KubeSim) {
  return async (method: string, path: string, body?: unknown, contentType = 'application/json') => {
    const res = await fetch(`${sim().url}${path}`, {
      method,
      headers: body !== undefined ? { 'Content-Type': contentType } : {},
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let json: Json = {};
    try {
      json = JSON.parse(text) as Json;
    } catch {
      // plain text
    }
    return { status: res.status, json, text, contentType: res.headers.get('content-type') ?? '' };
  };
}

const deployments = '/apis/apps/v1/namespaces/default/deployments';
const generationOf = (o: Json) => (o.metadata as { generation: number }).generation;
const observedOf = (o: Json) => (o.status as { observedGeneration?: number } | undefined)?.observedGeneration;
const entries = (o: Json | KubeObject | undefined) => (o?.metadata?.managedFields ?? []) as Entry[];

describe('kube-sim as the real server: generation, managedFields, conflicts', () => {
  let sim: KubeSim;
  let kubectl: Kubectl;
  const call = client(() => sim);
  const apply = (name: string, body: unknown, manager: string, force = false) =>
    call(
      'PATCH',
      `${deployments}/${name}?fieldManager=${manager}${force ? '&force=true' : ''}`,
      body,
      'application/apply-patch+yaml',
    );

  beforeAll(async () => {
    sim = await startKubeSim({ timeScale: 0.1 });
    kubectl = await kubectlFor(sim);
  });
  afterAll(async () => {
    await kubectl?.cleanup();
    await sim?.stop();
  });

  it('bumps a Deployment generation on an annotation change alone, not on a label change', async () => {
    const created = await call('POST', deployments, webDeployment({ name: 'gen', image: PRESENT_IMAGE }));
    expect(created.status).toBe(201);
    expect(generationOf(created.json)).toBe(1);
    const labelled = await call(
      'PATCH',
      `${deployments}/gen`,
      { metadata: { labels: { tier: 'web' } } },
      'application/merge-patch+json',
    );
    expect(generationOf(labelled.json)).toBe(1);
    ok(await kubectl('annotate', 'deployment/gen', 'example.com/pinned=same-digest'));
    const annotated = await call('GET', `${deployments}/gen`);
    expect((annotated.json.metadata as { annotations: Record<string, string> }).annotations).toMatchObject({
      'example.com/pinned': 'same-digest',
    });
    expect(generationOf(annotated.json)).toBe(2);
    // The controller's own revision annotation goes through the status subresource: no bump.
    const observed = await until(async () => {
      const d = (await call('GET', `${deployments}/gen`)).json;
      return observedOf(d) === 2 ? d : undefined;
    });
    expect(generationOf(observed)).toBe(2);
    expect((observed.metadata as { annotations: Record<string, string> }).annotations).toHaveProperty(
      'deployment.kubernetes.io/revision',
    );
    // A ReplicaSet's generation follows its spec only.
    const rs = sim.list('apps/v1', 'ReplicaSet', 'default', 'app=gen')[0];
    expect(rs).toBeDefined();
    const rsPath = `/apis/apps/v1/namespaces/default/replicasets/${rs?.metadata.name}`;
    const before = generationOf((await call('GET', rsPath)).json);
    const rsAnnotated = await call(
      'PATCH',
      rsPath,
      { metadata: { annotations: { 'example.com/note': 'x' } } },
      'application/merge-patch+json',
    );
    expect(generationOf(rsAnnotated.json)).toBe(before);
  });

  it('words apply conflicts as the real server: appliers by name, updaters with version and subresource', async () => {
    const manifest = webDeployment({ name: 'owned', image: PRESENT_IMAGE, replicas: 2 });
    expect((await apply('owned', manifest, 'sitepipe')).status).toBe(201);
    const byApplier = await apply(
      'owned',
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'owned' }, spec: { replicas: 3 } },
      'gitops',
    );
    expect(byApplier.status).toBe(409);
    expect(byApplier.json.message).toBe(
      'Apply failed with 1 conflict: conflict with "sitepipe": .spec.replicas',
    );
    expect(byApplier.json.details).toMatchObject({
      causes: [
        { reason: 'FieldManagerConflict', message: 'conflict with "sitepipe"', field: '.spec.replicas' },
      ],
    });

    ok(await kubectl('set', 'image', 'deployment/owned', `site=${OTHER_IMAGE}`));
    ok(await kubectl('scale', 'deployment/owned', '--replicas=4'));
    const again = await apply('owned', manifest, 'sitepipe');
    expect(again.status).toBe(409);
    expect(again.json.message).toBe(
      [
        'Apply failed with 2 conflicts: conflicts with "kubectl" with subresource "scale" using apps/v1:',
        '- .spec.replicas',
        'conflicts with "kubectl-set" using apps/v1:',
        '- .spec.template.spec.containers[name="site"].image',
      ].join('\n'),
    );
    expect(again.json.details).toMatchObject({
      causes: [
        {
          reason: 'FieldManagerConflict',
          message: 'conflict with "kubectl" with subresource "scale" using apps/v1',
          field: '.spec.replicas',
        },
        {
          reason: 'FieldManagerConflict',
          message: 'conflict with "kubectl-set" using apps/v1',
          field: '.spec.template.spec.containers[name="site"].image',
        },
      ],
    });

    // Several fields of one manager: one heading, one line each, in field-set order.
    const edited = await call(
      'PATCH',
      `${deployments}/owned?fieldManager=kubectl-edit`,
      { spec: { revisionHistoryLimit: 3, minReadySeconds: 5 } },
      'application/merge-patch+json',
    );
    expect(edited.status).toBe(200);
    const both = await apply(
      'owned',
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'owned' },
        spec: { revisionHistoryLimit: 10, minReadySeconds: 0 },
      },
      'other',
    );
    expect(both.status).toBe(409);
    expect(both.json.message).toBe(
      [
        'Apply failed with 2 conflicts: conflicts with "kubectl-edit" using apps/v1:',
        '- .spec.minReadySeconds',
        '- .spec.revisionHistoryLimit',
      ].join('\n'),
    );
  });

  it('records kubectl scale as the scale subresource, without a main-resource kubectl entry', async () => {
    const d = sim.get('apps/v1', 'Deployment', 'default', 'owned');
    const scale = entries(d).filter((e) => e.manager === 'kubectl');
    expect(scale).toEqual([
      {
        apiVersion: 'apps/v1',
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:spec': { 'f:replicas': {} } },
        manager: 'kubectl',
        operation: 'Update',
        subresource: 'scale',
      },
    ]);
  });

  it('records managedFields as the real server does: no entry for fields a zero object has, atomic label selectors', async () => {
    const manifest = webDeployment({ name: 'fields', image: PRESENT_IMAGE, replicas: 1 });
    const spec: Record<string, unknown> = manifest.spec.template.spec;
    spec.volumes = [{ name: 'cache', emptyDir: {} }];
    spec.topologySpreadConstraints = [
      {
        maxSkew: 1,
        topologyKey: 'kubernetes.io/hostname',
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: { app: 'fields' } },
      },
    ];
    const file = await kubectl.manifest('fields.yaml', [manifest]);
    ok(await kubectl('create', '-f', file));
    const created = await until(() => {
      const o = sim.get('apps/v1', 'Deployment', 'default', 'fields');
      return entries(o).some((e) => e.subresource === 'status') ? o : undefined;
    });
    const create = entries(created).find((e) => e.manager === 'kubectl-create');
    const f = create?.fieldsV1 as Record<string, Record<string, Record<string, Record<string, unknown>>>>;
    // Metadata, spec, template, its metadata and spec, strategy and containers exist in a zero
    // Deployment: the entry owns what is in them, not them.
    expect(Object.keys(f['f:metadata'] ?? {})).not.toContain('.');
    expect(Object.keys(f['f:spec'] ?? {})).not.toContain('.');
    expect(Object.keys(f['f:spec']?.['f:strategy'] ?? {}).sort()).toEqual(['f:rollingUpdate', 'f:type']);
    expect(f['f:spec']?.['f:strategy']?.['f:rollingUpdate']).toEqual({
      '.': {},
      'f:maxSurge': {},
      'f:maxUnavailable': {},
    });
    const template = f['f:spec']?.['f:template'] as Record<string, Record<string, Record<string, unknown>>>;
    expect(Object.keys(template).sort()).toEqual(['f:metadata', 'f:spec']);
    const podSpec = template['f:spec'] as Record<string, Record<string, unknown>>;
    expect(Object.keys(podSpec['f:containers'] ?? {})).toEqual(['k:{"name":"site"}']);
    // An Update owns the empty emptyDir it added (structured-merge-diff's Compare adds every
    // new map); an apply does not (its ToFieldSet has no entry for a map without fields).
    expect(podSpec['f:volumes']).toEqual({
      '.': {},
      'k:{"name":"cache"}': { '.': {}, 'f:emptyDir': {}, 'f:name': {} },
    });
    // metav1.LabelSelector is atomic: one field, nothing inside it.
    const tsc = podSpec['f:topologySpreadConstraints'] as Record<string, Record<string, unknown>>;
    expect(
      tsc['k:{"topologyKey":"kubernetes.io/hostname","whenUnsatisfiable":"ScheduleAnyway"}']?.[
        'f:labelSelector'
      ],
    ).toEqual({});
    expect(f['f:spec']?.['f:selector']).toEqual({});
    // The controller's status entry: status exists in a zero Deployment too.
    const status = entries(created).find((e) => e.subresource === 'status');
    expect(status?.manager).toBe('kube-controller-manager');
    expect(Object.keys((status?.fieldsV1['f:status'] ?? {}) as object)).not.toContain('.');

    // Server-side apply records the same atomic selector.
    const applied = await apply(
      'tsc',
      { ...manifest, metadata: { name: 'tsc', labels: { app: 'fields' } } },
      'sitepipe',
    );
    const mine = entries(applied.json).find((e) => e.manager === 'sitepipe');
    type Tree = Record<string, Record<string, Record<string, unknown>>>;
    const appliedTemplate = ((mine?.fieldsV1['f:spec'] ?? {}) as Tree)['f:template'] ?? {};
    const appliedSpec = (appliedTemplate['f:spec'] ?? {}) as Tree;
    expect(appliedSpec['f:volumes']).toEqual({ 'k:{"name":"cache"}': { '.': {}, 'f:name': {} } });
    expect(
      appliedSpec['f:topologySpreadConstraints']?.[
        'k:{"topologyKey":"kubernetes.io/hostname","whenUnsatisfiable":"ScheduleAnyway"}'
      ]?.['f:labelSelector'],
    ).toEqual({});
  });

  it('lets client-side kubectl apply build its patch from the OpenAPI v3 schemas, without warnings', async () => {
    const manifest = webDeployment({ name: 'csa', image: PRESENT_IMAGE, replicas: 1 });
    const first = await kubectl(
      'apply',
      '-f',
      await kubectl.manifest('csa-1.yaml', [manifest, webService('csa')]),
    );
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stderr).toBe('');
    await until(() => sim.get('apps/v1', 'Deployment', 'default', 'csa')?.status);
    const container = manifest.spec.template.spec.containers[0] as Record<string, unknown>;
    container.image = OTHER_IMAGE;
    container.env = [{ name: 'SITE', value: 'csa' }];
    manifest.metadata = { ...manifest.metadata, annotations: { 'kubernetes.io/change-cause': 'second' } };
    const service = webService('csa');
    service.spec.ports.push({ name: 'metrics', port: 9090, targetPort: 'http' });
    const second = await kubectl('apply', '-f', await kubectl.manifest('csa-2.yaml', [manifest, service]));
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stderr).not.toContain('unable to find api field');
    expect(second.stderr).toBe('');
    expect(second.stdout).toContain('deployment.apps/csa configured');
    // The patch was a strategic merge patch built from the schema: containers merged by name.
    const patch = sim.requests
      .filter((r) => r.method === 'PATCH' && r.path.endsWith('/deployments/csa'))
      .pop();
    expect(patch?.contentType).toBe('application/strategic-merge-patch+json');
    expect(JSON.stringify(patch?.body)).toContain('$setElementOrder/containers');
    const d = sim.get('apps/v1', 'Deployment', 'default', 'csa');
    expect(d?.spec).toMatchObject({
      template: {
        spec: { containers: [{ name: 'site', image: OTHER_IMAGE, env: [{ name: 'SITE', value: 'csa' }] }] },
      },
    });
    const openapi = await call('GET', '/openapi/v3/apis/apps/v1');
    const schemas = (openapi.json.components as { schemas: Record<string, Json> }).schemas;
    expect(schemas['io.k8s.api.apps.v1.Deployment']).toMatchObject({
      'x-kubernetes-group-version-kind': [{ group: 'apps', version: 'v1', kind: 'Deployment' }],
    });
    expect(schemas['io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector']).toMatchObject({
      'x-kubernetes-map-type': 'atomic',
    });
  });

  it('prints PodDisruptionBudgets with their budget columns', async () => {
    ok(
      await kubectl(
        'apply',
        '-f',
        await kubectl.manifest('pdb.yaml', [
          {
            apiVersion: 'policy/v1',
            kind: 'PodDisruptionBudget',
            metadata: { name: 'site' },
            spec: { minAvailable: 1, selector: { matchLabels: { app: 'gen' } } },
          },
        ]),
      ),
    );
    await until(() => sim.get('policy/v1', 'PodDisruptionBudget', 'default', 'site')?.status);
    await until(
      () =>
        (
          sim.get('policy/v1', 'PodDisruptionBudget', 'default', 'site')?.status as {
            currentHealthy?: number;
          }
        )?.currentHealthy === 3,
    );
    const r = ok(await kubectl('get', 'pdb', 'site'));
    const [header, row] = r.stdout.trim().split('\n');
    expect(header?.split(/\s{2,}/)).toEqual([
      'NAME',
      'MIN AVAILABLE',
      'MAX UNAVAILABLE',
      'ALLOWED DISRUPTIONS',
      'AGE',
    ]);
    expect(row?.split(/\s+/).slice(0, 4)).toEqual(['site', '1', 'N/A', '2']);
  });
});

describe('kube-sim deployment controller lag', () => {
  let sim: KubeSim;
  let kubectl: Kubectl;
  const call = client(() => sim);

  afterAll(async () => {
    await kubectl?.cleanup();
    await sim?.stop();
  });

  it('leaves observedGeneration behind until the controller sees the new generation', async () => {
    // A lag far longer than the test: every read below sees the unobserved state.
    sim = await startKubeSim({ timeScale: 0.1, observeDelayMs: 600_000 });
    kubectl = await kubectlFor(sim);
    const created = await call('POST', deployments, webDeployment({ name: 'lag', image: PRESENT_IMAGE }));
    expect(created.status).toBe(201);
    for (let i = 0; i < 3; i++) sim.controls.reconcile();
    const read = (await call('GET', `${deployments}/lag`)).json;
    expect(generationOf(read)).toBe(1);
    expect(observedOf(read)).toBeUndefined();
    expect(sim.list('apps/v1', 'ReplicaSet', 'default', 'app=lag')).toEqual([]);
    expect(sim.rolloutState('default', 'lag')).toBe('progressing');
    // sitepipe's reading of that state
    expect(rolloutState(read as Parameters<typeof rolloutState>[0])).toEqual({
      phase: 'progressing',
      message: 'waiting for the controller to see the new spec',
    });
    const status = await kubectl('rollout', 'status', 'deployment/lag', '--timeout=2s');
    expect(status.exitCode).toBe(1);
    expect(status.stdout).toContain('Waiting for deployment spec update to be observed...');
  });

  it('observes a new generation after the default lag and completes the rollout', async () => {
    await kubectl?.cleanup();
    await sim?.stop();
    sim = await startKubeSim({ timeScale: 0.1 });
    kubectl = await kubectlFor(sim);
    await call('POST', deployments, webDeployment({ name: 'lag', image: PRESENT_IMAGE }));
    expect(await sim.waitForRollout('default', 'lag', 30_000)).toBe('complete');
    const scaled = await call(
      'PATCH',
      `${deployments}/lag`,
      { spec: { replicas: 1 } },
      'application/merge-patch+json',
    );
    // The write's answer is the object before any controller saw it.
    expect(generationOf(scaled.json)).toBe(2);
    expect(observedOf(scaled.json)).toBe(1);
    const observed = await until(async () => {
      const d = (await call('GET', `${deployments}/lag`)).json;
      return observedOf(d) === 2 ? d : undefined;
    });
    expect(generationOf(observed)).toBe(2);
    expect(await sim.waitForRollout('default', 'lag', 30_000)).toBe('complete');
    const status = await kubectl('rollout', 'status', 'deployment/lag', '--timeout=60s');
    expect(status.exitCode, status.stderr).toBe(0);
    expect(status.stdout).toContain('deployment "lag" successfully rolled out');
    expect(sim.controllerErrors).toEqual([]);
  });
});

describe('kube-sim EndpointSlices', () => {
  let sim: KubeSim;
  let kubectl: Kubectl;

  beforeAll(async () => {
    sim = await startKubeSim({ timeScale: 0.1 });
    kubectl = await kubectlFor(sim);
  });
  afterAll(async () => {
    await kubectl?.cleanup();
    await sim?.stop();
  });

  const slices = () =>
    sim.list('discovery.k8s.io/v1', 'EndpointSlice', 'default', 'kubernetes.io/service-name=web');
  const readyEndpoints = () =>
    slices().flatMap((s) =>
      ((s.endpoints ?? []) as { conditions: { ready: boolean } }[]).filter((e) => e.conditions.ready),
    );

  it('keeps an EndpointSlice per Service in step with its ready pods', async () => {
    const file = await kubectl.manifest('web.yaml', [
      webDeployment({ image: PRESENT_IMAGE, replicas: 3 }),
      webService(),
    ]);
    ok(await kubectl('apply', '--server-side', '-f', file));
    expect(await sim.waitForRollout('default', 'web', 30_000)).toBe('complete');
    await until(() => readyEndpoints().length === 3);
    const [slice] = slices();
    const svc = sim.get('v1', 'Service', 'default', 'web');
    expect(slices()).toHaveLength(1);
    expect(slice).toMatchObject({
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      metadata: {
        generateName: 'web-',
        labels: {
          'kubernetes.io/service-name': 'web',
          'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
        },
        ownerReferences: [{ kind: 'Service', name: 'web', uid: svc?.metadata.uid, controller: true }],
      },
    });
    const pods = sim
      .list('v1', 'Pod', 'default', 'app=web')
      .map((p) => p.metadata.name)
      .sort();
    expect(
      ((slice?.endpoints ?? []) as { targetRef: { name: string } }[]).map((e) => e.targetRef.name).sort(),
    ).toEqual(pods);

    ok(await kubectl('scale', 'deployment/web', '--replicas=1'));
    await until(() => ((slices()[0]?.endpoints ?? []) as unknown[]).length === 1);
    expect(readyEndpoints()).toHaveLength(1);

    const listed = ok(await kubectl('get', 'endpointslices', '-l', 'kubernetes.io/service-name=web'));
    expect(listed.stdout).toMatch(/^NAME\s+ADDRESSTYPE\s+PORTS\s+ENDPOINTS\s+AGE/);
    expect(listed.stdout).toContain('IPv4');

    ok(await kubectl('delete', 'service', 'web'));
    await until(() => slices().length === 0);
  });
});

describe('kube-sim as a bare cluster', () => {
  let sim: KubeSim;
  let kubectl: Kubectl;
  const call = client(() => sim);

  beforeAll(async () => {
    sim = await startKubeSim({ bare: true });
    kubectl = await kubectlFor(sim);
  });
  afterAll(async () => {
    await kubectl?.cleanup();
    await sim?.stop();
  });

  it('has only the built-in groups in discovery', async () => {
    const legacy = (await call('GET', '/apis')).json as { groups: { name: string }[] };
    const names = legacy.groups.map((g) => g.name);
    for (const g of ADDON_GROUPS) expect(names).not.toContain(g);
    expect(names).toEqual(
      expect.arrayContaining(['apps', 'policy', 'networking.k8s.io', 'discovery.k8s.io']),
    );
    const resources = ok(await kubectl('api-resources', '-o', 'name'));
    expect(resources.stdout).toContain('deployments.apps');
    expect(resources.stdout).not.toMatch(
      /certificates\.cert-manager\.io|gateways\.gateway\.networking|backendconfigs/,
    );
    const applied = await kubectl(
      'apply',
      '--server-side',
      '-f',
      await kubectl.manifest('cert.yaml', [
        {
          apiVersion: 'cert-manager.io/v1',
          kind: 'Certificate',
          metadata: { name: 'site' },
          spec: { secretName: 'site-tls', dnsNames: ['example.com'] },
        },
      ]),
    );
    expect(applied.exitCode).not.toBe(0);
    expect(applied.stderr).toContain('no matches for kind "Certificate" in version "cert-manager.io/v1"');
  });

  it('answers plain-text 404 page not found for groups and versions it does not serve', async () => {
    for (const path of [
      '/apis/cert-manager.io/v1/namespaces/default/certificates',
      '/apis/cert-manager.io/v1',
      '/apis/cert-manager.io',
      '/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes/site',
      '/apis/cloud.google.com/v1/namespaces/default/backendconfigs',
      '/apis/policy/v1beta1/namespaces/default/poddisruptionbudgets',
      '/api/v2/namespaces',
    ]) {
      const r = await call('GET', path);
      expect({ path, status: r.status, type: r.contentType, text: r.text }).toEqual({
        path,
        status: 404,
        type: 'text/plain; charset=utf-8',
        text: '404 page not found\n',
      });
    }
    const put = await call(
      'PATCH',
      '/apis/cert-manager.io/v1/namespaces/default/certificates/site',
      {},
      'application/apply-patch+yaml',
    );
    expect(put.status).toBe(404);
    expect(put.text).toBe('404 page not found\n');
    // A served group and version still answer a Status for what is missing in them.
    const missing = await call('GET', `${deployments}/nope`);
    expect(missing.status).toBe(404);
    expect(missing.contentType).toBe('application/json');
    expect(missing.json).toMatchObject({ kind: 'Status', reason: 'NotFound' });
  });
});

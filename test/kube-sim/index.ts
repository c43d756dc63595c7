/**
 * kube-sim: an in-memory Kubernetes API server with the controllers a Deployment needs,
 * on 127.0.0.1, for tests of sitepipe's deploy step with real kubectl and
 * @kubernetes/client-node. A test double: see README.md for what it models and what not.
 *
 *   const sim = await startKubeSim({ timeScale: 0.2 });
 *   // KUBECONFIG=sim.kubeconfigPath kubectl ...; new KubeConfig().loadFromFile(sim.kubeconfigPath)
 *   await sim.stop();
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { connectDocker } from '../../pipeline/clients/docker.js';
import { Api } from './api.js';
import { AddonController } from './controllers/addons.js';
import {
  type CertificateBehavior,
  ControllerContext,
  Controls,
  type ImageBehavior,
  type ImageMatcher,
  NODE_NAME,
} from './controllers/context.js';
import { DeploymentController } from './controllers/deployment.js';
import { DisruptionController } from './controllers/disruption.js';
import { GarbageCollector } from './controllers/gc.js';
import { Kubelet } from './controllers/kubelet.js';
import { ControllerManager } from './controllers/manager.js';
import { ReplicaSetController } from './controllers/replicaset.js';
import { ServiceController } from './controllers/services.js';
import { OpenApi } from './discovery.js';
import { writeKubeconfig } from './kubeconfig.js';
import { type Addon, ALL_ADDONS, ResourceRegistry } from './resources.js';
import { DockerRuntime } from './runtime/docker.js';
import { type PodRuntime, SimulatedRuntime } from './runtime/runtime.js';
import { type Fault, KubeApiServer, type RecordedRequest } from './server.js';
import { Store } from './store.js';
import type { KubeObject } from './types.js';
import { asNumber, getPath, sleep, timestamp } from './util.js';

export { HOST_PORT_ANNOTATION } from './controllers/kubelet.js';
export { PROXY_ANNOTATION_PREFIX } from './controllers/services.js';
export type { Addon } from './resources.js';
export { SIM_LABEL } from './runtime/docker.js';
export type { Fault, RecordedRequest } from './server.js';
export type { KubeObject } from './types.js';
export type { CertificateBehavior, ImageBehavior, ImageMatcher };

export interface KubeSimOptions {
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** What /version reports; its major.minor picks the kubectl binary of the gcloud dispatcher. Default 1.33.0. */
  kubernetesVersion?: string;
  /** Multiplies every simulated duration (deadlines, back-offs, probe periods): 0.1 = ten times faster. Default 1. */
  timeScale?: number;
  /** Run replicas as real containers through Docker (host network, loopback ports). Default false. */
  realContainers?: boolean;
  /** Docker client for realContainers; default from DOCKER_HOST or /var/run/docker.sock. */
  docker?: Docker;
  /** Add-on API groups the cluster has (CRDs installed). Default: all. */
  addons?: readonly Addon[];
  /**
   * A bare cluster: only the built-in kinds, no add-on CRDs (cert-manager, GKE, Gateway API),
   * as a fresh cluster has. Same as `addons: []`; an explicit `addons` wins. Default false.
   */
  bare?: boolean;
  /**
   * Real milliseconds before the deployment controller acts on a Deployment's new
   * generation: until then status.observedGeneration lags behind metadata.generation (kubectl:
   * "Waiting for deployment spec update to be observed..."), as behind a real controller's
   * informer and work queue. Not scaled by timeScale. 0 = at once. Default 200.
   */
  observeDelayMs?: number;
  /**
   * A bearer token to write into the kubeconfig (e.g. to test that it is never logged). Not
   * checked unless requireToken: kubectl does not send a bearer token to an http:// server.
   */
  token?: string;
  /** Answer 401 to requests without `Authorization: Bearer <token>` (client-node sends it; kubectl does not). */
  requireToken?: boolean;
  /** GKE static IP name -> address for Ingress/Gateway status; unmapped names get 127.0.0.1. */
  staticIps?: Record<string, string>;
  /** Simulated seconds a simulated container takes to start, before readiness. Default 1. */
  podStartSeconds?: number;
  /** Simulated seconds a simulated container takes to stop. Default 0.5. */
  podStopSeconds?: number;
  /** Simulated seconds from a Certificate/ManagedCertificate spec to issuance. Default 2. */
  certificateSeconds?: number;
  /** Directory for the kubeconfig (default: a new temp dir, removed by stop()). */
  dir?: string;
  log?: (line: string) => void;
}

export interface SimControls {
  /** Makes matching images behave as given regardless of the registry (the last matching rule wins). */
  setImageBehavior(match: ImageMatcher, behavior: ImageBehavior): void;
  clearImageBehaviors(): void;
  /** What cert-manager / GKE certificates do: issue (default), stay pending, or fail. */
  setCertificates(behavior: CertificateBehavior): void;
  /** Stops all controllers (the API keeps serving); resume() starts them again. */
  pause(): void;
  resume(): void;
  /** One pass of every controller, now. */
  reconcile(): void;
}

export type RolloutState = 'complete' | 'progressing' | 'failed' | 'missing';

export interface KubeSim {
  /** Labels this simulator's containers: `${SIM_LABEL}=<id>`. */
  id: string;
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  kubeconfigPath: string;
  /** The bearer token in the kubeconfig (undefined: none). */
  token: string | undefined;
  api: Api;
  store: Store;
  resources: ResourceRegistry;
  /** Every request served, in order, with its status. */
  requests: RecordedRequest[];
  /** Push a Fault to make matching requests fail. */
  faults: Fault[];
  controls: SimControls;
  /** Errors thrown inside controller passes (should stay empty). */
  controllerErrors: string[];
  /** An object by apiVersion/kind, or undefined. */
  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): KubeObject | undefined;
  list(apiVersion: string, kind: string, namespace?: string, labelSelector?: string): KubeObject[];
  /** kubectl's rollout status verdict for a Deployment. */
  rolloutState(namespace: string, name: string): RolloutState;
  /** Waits until the rollout is complete or failed (or the timeout passes: 'progressing'). */
  waitForRollout(namespace: string, name: string, timeoutMs: number): Promise<RolloutState>;
  /** realContainers: the loopback address of a Service port's proxy (waits for it to exist). */
  serviceAddress(
    namespace: string,
    name: string,
    port?: number,
    timeoutMs?: number,
  ): Promise<{ host: string; port: number; url: string }>;
  /** realContainers: the loopback port a pod's nginx listens on. */
  podHostPort(namespace: string, pod: string): number | undefined;
  stop(): Promise<void>;
}

/** How long the simulated deployment controller takes to see a new generation (real ms). */
export const DEFAULT_OBSERVE_DELAY_MS = 200;

function kind(sim: { resources: ResourceRegistry }, apiVersion: string, k: string) {
  const rt = sim.resources.byKind(apiVersion, k);
  if (!rt) throw new Error(`kube-sim serves no ${apiVersion} ${k}`);
  return rt;
}

/** kubectl's DeploymentStatusViewer, as a verdict. */
export function rolloutVerdict(d: KubeObject | undefined): RolloutState {
  if (!d) return 'missing';
  const n = (...p: string[]) => asNumber(getPath(d, ...p)) ?? 0;
  if ((d.metadata.generation ?? 0) > n('status', 'observedGeneration')) return 'progressing';
  const conditions = getPath(d, 'status', 'conditions');
  if (
    Array.isArray(conditions) &&
    conditions.some(
      (c) => getPath(c, 'type') === 'Progressing' && getPath(c, 'reason') === 'ProgressDeadlineExceeded',
    )
  )
    return 'failed';
  const want = getPath(d, 'spec', 'replicas');
  if (typeof want === 'number' && n('status', 'updatedReplicas') < want) return 'progressing';
  if (n('status', 'replicas') > n('status', 'updatedReplicas')) return 'progressing';
  if (n('status', 'availableReplicas') < n('status', 'updatedReplicas')) return 'progressing';
  return 'complete';
}

function seed(api: Api, resources: ResourceRegistry): void {
  const ns = resources.byKey('/namespaces');
  const nodes = resources.byKey('/nodes');
  if (!ns || !nodes) return;
  for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease'])
    api.create(
      ns,
      undefined,
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
      { fieldManager: 'kube-apiserver' },
    );
  api.create(
    nodes,
    undefined,
    {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: NODE_NAME,
        labels: { 'kubernetes.io/hostname': NODE_NAME, 'kubernetes.io/os': 'linux' },
      },
      spec: {},
    },
    { fieldManager: 'kubelet' },
  );
  const node = api.get(nodes, undefined, NODE_NAME);
  node.status = {
    addresses: [
      { type: 'InternalIP', address: '127.0.0.1' },
      { type: 'Hostname', address: NODE_NAME },
    ],
    capacity: { cpu: '4', memory: '8Gi', pods: '110' },
    allocatable: { cpu: '4', memory: '8Gi', pods: '110' },
    conditions: [
      {
        type: 'Ready',
        status: 'True',
        reason: 'KubeletReady',
        message: 'kubelet is posting ready status',
        lastHeartbeatTime: timestamp(),
        lastTransitionTime: timestamp(),
      },
    ],
    nodeInfo: {
      kubeletVersion: 'v1.33.0',
      containerRuntimeVersion: 'kube-sim',
      operatingSystem: 'linux',
      architecture: 'amd64',
    },
  };
  api.write(nodes, node, 'kubelet', 'status');
}

export async function startKubeSim(opts: KubeSimOptions = {}): Promise<KubeSim> {
  const version = opts.kubernetesVersion ?? '1.33.0';
  const timeScale = opts.timeScale ?? 1;
  const log = opts.log ?? (() => {});
  const token = opts.token;
  const resources = new ResourceRegistry(opts.addons ?? (opts.bare ? [] : ALL_ADDONS));
  const store = new Store();
  const api = new Api(store, resources);
  seed(api, resources);

  const controls = new Controls();
  const simId = randomBytes(4).toString('hex');
  const runtime: PodRuntime = opts.realContainers
    ? new DockerRuntime(opts.docker ?? (await connectDocker(process.env)), simId)
    : new SimulatedRuntime();
  let manager: ControllerManager | undefined;
  const ctx = new ControllerContext(api, timeScale, controls, log, () => manager?.trigger());
  const kubelet = new Kubelet(ctx, runtime, {
    podStartSeconds: opts.podStartSeconds ?? 1,
    podStopSeconds: opts.podStopSeconds ?? 0.5,
  });
  const services = new ServiceController(ctx, kubelet, runtime.real);
  manager = new ControllerManager(
    [
      new DeploymentController(ctx, opts.observeDelayMs ?? DEFAULT_OBSERVE_DELAY_MS),
      new ReplicaSetController(ctx, (uid) => kubelet.readySince(uid)),
      kubelet,
      services,
      new GarbageCollector(ctx),
      new DisruptionController(ctx),
      new AddonController(ctx, {
        certificateSeconds: opts.certificateSeconds ?? 2,
        staticIps: opts.staticIps ?? {},
      }),
    ],
    controls,
    log,
  );
  const unsubscribe = store.subscribe(() => manager?.trigger());

  const server = new KubeApiServer(api, resources, new OpenApi(resources, version), {
    version,
    token: opts.requireToken ? token : undefined,
    logs: (namespace, pod, container, tail) => kubelet.logs(namespace, pod, container, tail),
  });
  const port = await server.listen(opts.port ?? 0);
  const url = `http://127.0.0.1:${port}`;
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'kube-sim-')));
  const kubeconfigPath = join(dir, 'kubeconfig');
  await writeKubeconfig(kubeconfigPath, url, token);
  manager.start();
  log(`kube-sim ${version} on ${url} (kubeconfig ${kubeconfigPath})`);

  let stopped: Promise<void> | undefined;
  const sim: KubeSim = {
    id: simId,
    url,
    port,
    kubeconfigPath,
    token,
    api,
    store,
    resources,
    requests: server.requests,
    faults: server.faults,
    controllerErrors: manager.errors,
    controls: {
      setImageBehavior: (m, b) => {
        controls.setImageBehavior(m, b);
        manager?.trigger();
      },
      clearImageBehaviors: () => controls.clearImageBehaviors(),
      setCertificates: (b) => {
        controls.certificates = b;
        manager?.trigger();
      },
      pause: () => {
        controls.paused = true;
      },
      resume: () => {
        controls.paused = false;
        manager?.trigger();
      },
      reconcile: () => manager?.pass(),
    },
    get: (apiVersion, k, namespace, name) => api.tryGet(kind(sim, apiVersion, k), namespace, name),
    list: (apiVersion, k, namespace, labelSelector) =>
      api.list(kind(sim, apiVersion, k), namespace, labelSelector ? { labelSelector } : {}),
    rolloutState: (namespace, name) => rolloutVerdict(api.tryGet(ctx.types.deployments, namespace, name)),
    async waitForRollout(namespace, name, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const state = sim.rolloutState(namespace, name);
        if (state === 'complete' || state === 'failed' || Date.now() > deadline) return state;
        await sleep(50);
      }
    },
    async serviceAddress(namespace, name, servicePort, timeoutMs = 30_000) {
      if (!runtime.real) throw new Error('kube-sim: Service proxies exist only with realContainers: true');
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const svc = api.tryGet(ctx.types.services, namespace, name);
        const p = svc && services.proxyPort(svc, servicePort);
        if (p !== undefined) return { host: '127.0.0.1', port: p, url: `http://127.0.0.1:${p}` };
        if (Date.now() > deadline)
          throw new Error(`kube-sim: no proxy for service ${namespace}/${name} after ${timeoutMs} ms`);
        await sleep(50);
      }
    },
    podHostPort: (namespace, pod) => kubelet.hostPort(namespace, pod),
    stop() {
      stopped ??= (async () => {
        manager?.stop();
        unsubscribe();
        await server.close();
        await services.close();
        await kubelet.close();
        await runtime.close();
        if (ownDir) await rm(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
  return sim;
}

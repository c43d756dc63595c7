/**
 * The kubelet of the one node: pulls (asks the registry), starts containers (simulated or
 * real), runs readiness probes, backs off on ErrImagePull/ImagePullBackOff and
 * CrashLoopBackOff, terminates pods gracefully, and writes pod status the way the real
 * kubelet does (phase, conditions, containerStatuses with waiting reasons).
 */
import { errors } from '../errors.js';
import type { RegistryCredential } from '../images.js';
import type { PodRuntime, RunningContainer } from '../runtime/runtime.js';
import { StartError } from '../runtime/runtime.js';
import type { Condition, KubeObject } from '../types.js';
import {
  asArray,
  asNumber,
  asString,
  clone,
  deepEqual,
  getPath,
  isObject,
  type JsonObject,
  sleep,
  timestamp,
} from '../util.js';
import { type ControllerContext, type ImageBehavior, NODE_NAME, SIM_PREFIX } from './context.js';

const MANAGER = 'kubelet';
const COMPONENT = 'kubelet';
export const HOST_PORT_ANNOTATION = `${SIM_PREFIX}/host-port`;
const MAX_BACKOFF_S = 300;
const INITIAL_BACKOFF_S = 10;

interface ContainerRecord {
  name: string;
  image: string;
  spec: JsonObject;
  state: 'waiting' | 'running' | 'terminated';
  reason: string;
  message?: string;
  exitCode?: number;
  ready: boolean;
  started: boolean;
  everStarted: boolean;
  restartCount: number;
  startedAt?: string;
  imageID: string;
  containerID?: string;
  handle?: RunningContainer;
  lastTerminated?: JsonObject;
}

interface PodRecord {
  uid: string;
  namespace: string;
  name: string;
  pod: KubeObject;
  containers: ContainerRecord[];
  startTime: string;
  readySince: number | undefined;
  terminating: boolean;
  abort: AbortController;
  conditionTimes: Map<string, { status: string; time: string }>;
}

/** A pod the Service proxies and Endpoints may send traffic to. */
export interface Backend {
  pod: KubeObject;
  ready: boolean;
  terminating: boolean;
  hostPort: number | undefined;
}

export interface KubeletOptions {
  /** Simulated seconds a simulated container takes to start (before readiness is probed). */
  podStartSeconds: number;
  /** Simulated seconds a simulated container takes to stop. */
  podStopSeconds: number;
}

function qosClass(spec: unknown): string {
  const containers = asArray(getPath(spec, 'containers'));
  const resources = containers.map((c) => getPath(c, 'resources'));
  const any = resources.some((r) => isObject(r) && (isObject(r.requests) || isObject(r.limits)));
  if (!any) return 'BestEffort';
  const guaranteed = resources.every((r) => {
    const limits = getPath(r, 'limits');
    const requests = getPath(r, 'requests') ?? limits;
    return (
      isObject(limits) &&
      isObject(requests) &&
      'cpu' in limits &&
      'memory' in limits &&
      deepEqual(requests, limits)
    );
  });
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

export class Kubelet {
  private readonly records = new Map<string, PodRecord>();

  constructor(
    private readonly ctx: ControllerContext,
    private readonly runtime: PodRuntime,
    private readonly opts: KubeletOptions,
  ) {}

  readySince(uid: string): number | undefined {
    return this.records.get(uid)?.readySince;
  }

  /** Pods in a namespace matching `match`, with where they serve (real containers). */
  backends(namespace: string, match: (labels: Record<string, string>) => boolean): Backend[] {
    const out: Backend[] = [];
    for (const rec of this.records.values()) {
      if (rec.namespace !== namespace || !match(rec.pod.metadata.labels ?? {})) continue;
      out.push({
        pod: rec.pod,
        ready: !rec.terminating && rec.containers.every((c) => c.ready),
        terminating: rec.terminating,
        hostPort: rec.containers[0]?.handle?.hostPort,
      });
    }
    return out;
  }

  hostPort(namespace: string, name: string): number | undefined {
    for (const rec of this.records.values())
      if (rec.namespace === namespace && rec.name === name) return rec.containers[0]?.handle?.hostPort;
    return undefined;
  }

  /** GET pods/<name>/log: the container's output, or the error the real kubelet gives. */
  async logs(namespace: string, pod: string, container: string | undefined, tail?: number): Promise<string> {
    const rec = [...this.records.values()].find((r) => r.namespace === namespace && r.name === pod);
    if (!rec) throw errors.badRequest(`pod "${pod}" is not running on a node yet`);
    const names = rec.containers.map((c) => c.name);
    if (!container && names.length > 1)
      throw errors.badRequest(
        `a container name must be specified for pod ${pod}, choose one of: [${names.join(' ')}]`,
      );
    const c = rec.containers.find((x) => x.name === (container ?? names[0]));
    if (!c) throw errors.badRequest(`container ${container} is not valid for pod ${pod}`);
    if (!c.handle) {
      const why =
        c.reason === 'ImagePullBackOff' || c.reason === 'ErrImagePull'
          ? ': trying and failing to pull image'
          : '';
      throw errors.badRequest(`container "${c.name}" in pod "${pod}" is waiting to start${why}`);
    }
    return c.handle.logs(tail);
  }

  reconcile(): void {
    const { api, types } = this.ctx;
    const seen = new Set<string>();
    for (const pod of api.list(types.pods, undefined)) {
      if (getPath(pod, 'spec', 'nodeName') !== NODE_NAME) continue;
      const uid = pod.metadata.uid ?? '';
      seen.add(uid);
      let rec = this.records.get(uid);
      if (!rec) {
        if (pod.metadata.deletionTimestamp) {
          api.finalizeDeletion(types.pods, pod.metadata.namespace, pod.metadata.name ?? '');
          continue;
        }
        rec = this.admit(pod);
      }
      rec.pod = pod;
      if (pod.metadata.deletionTimestamp && !rec.terminating)
        this.terminate(rec).catch((e: unknown) =>
          this.ctx.log(`kubelet: stopping ${rec?.name}: ${String(e)}`),
        );
      this.ctx.tryWrite(() => this.writeStatus(rec));
    }
    for (const rec of [...this.records.values()]) {
      if (seen.has(rec.uid)) continue;
      // Gone without a graceful stop (force delete, namespace removal): kill what runs.
      rec.abort.abort();
      this.records.delete(rec.uid);
      for (const c of rec.containers) c.handle?.stop(0).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    const stops: Promise<void>[] = [];
    for (const rec of this.records.values()) {
      rec.abort.abort();
      for (const c of rec.containers) if (c.handle) stops.push(c.handle.stop(0));
    }
    this.records.clear();
    await Promise.all(stops);
  }

  private admit(pod: KubeObject): PodRecord {
    const containers = asArray(getPath(pod, 'spec', 'containers'))
      .filter(isObject)
      .map(
        (spec): ContainerRecord => ({
          name: asString(spec.name) ?? '',
          image: asString(spec.image) ?? '',
          spec,
          state: 'waiting',
          reason: 'ContainerCreating',
          ready: false,
          started: false,
          everStarted: false,
          restartCount: 0,
          imageID: '',
        }),
      );
    const rec: PodRecord = {
      uid: pod.metadata.uid ?? '',
      namespace: pod.metadata.namespace ?? 'default',
      name: pod.metadata.name ?? '',
      pod,
      containers,
      startTime: timestamp(),
      readySince: undefined,
      terminating: false,
      abort: new AbortController(),
      conditionTimes: new Map(),
    };
    this.records.set(rec.uid, rec);
    this.ctx.event(
      pod,
      'Normal',
      'Scheduled',
      `Successfully assigned ${rec.namespace}/${rec.name} to ${NODE_NAME}`,
      'default-scheduler',
    );
    for (const c of containers) {
      this.runContainer(rec, c).catch((e: unknown) =>
        this.ctx.log(`kubelet: ${rec.name}/${c.name}: ${String(e)}`),
      );
    }
    return rec;
  }

  private credentials(pod: KubeObject): RegistryCredential[] {
    const out: RegistryCredential[] = [];
    for (const ref of asArray(getPath(pod, 'spec', 'imagePullSecrets'))) {
      const name = asString(getPath(ref, 'name'));
      if (!name) continue;
      const secret = this.ctx.api.tryGet(this.ctx.types.secrets, pod.metadata.namespace, name);
      const data = asString(getPath(secret, 'data', '.dockerconfigjson'));
      if (!data) continue;
      try {
        const config = JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as unknown;
        const auths = getPath(config, 'auths');
        if (!isObject(auths)) continue;
        for (const [registry, entry] of Object.entries(auths)) {
          let username = asString(getPath(entry, 'username'));
          let password = asString(getPath(entry, 'password'));
          const auth = asString(getPath(entry, 'auth'));
          if ((!username || !password) && auth) {
            const [u, ...p] = Buffer.from(auth, 'base64').toString('utf8').split(':');
            username = u;
            password = p.join(':');
          }
          if (username && password !== undefined)
            out.push({
              registry: registry.replace(/^https?:\/\//, '').replace(/\/.*$/, ''),
              username,
              password,
            });
        }
      } catch {
        // an unreadable pull secret is as good as none
      }
    }
    return out;
  }

  private changed(): void {
    this.ctx.trigger();
  }

  /** One container's life: pull (with back-off), start, probe, restart on exit (with back-off). */
  private async runContainer(rec: PodRecord, c: ContainerRecord): Promise<void> {
    const { signal } = rec.abort;
    let backoff = INITIAL_BACKOFF_S;
    const pod = rec.pod;
    while (!signal.aborted) {
      const behavior = this.ctx.controls.behaviorFor(c.image);
      this.ctx.event(pod, 'Normal', 'Pulling', `Pulling image "${c.image}"`, COMPONENT);
      const pull =
        behavior === 'pull-error'
          ? {
              ok: false as const,
              reason: 'ErrImagePull' as const,
              message: `Failed to pull image "${c.image}": rpc error: code = NotFound desc = failed to pull and unpack image "${c.image}": not found (kube-sim: pull failure set by a test)`,
            }
          : await this.runtime.pull(c.image, this.credentials(pod));
      if (signal.aborted) return;
      if (!pull.ok) {
        this.setWaiting(c, 'ErrImagePull', pull.message);
        this.ctx.event(pod, 'Warning', 'Failed', pull.message, COMPONENT);
        this.ctx.event(pod, 'Warning', 'Failed', 'Error: ErrImagePull', COMPONENT);
        await sleep(this.ctx.ms(Math.min(2, backoff)), signal);
        if (signal.aborted) return;
        this.setWaiting(c, 'ImagePullBackOff', `Back-off pulling image "${c.image}"`);
        this.ctx.event(pod, 'Normal', 'BackOff', `Back-off pulling image "${c.image}"`, COMPONENT);
        this.ctx.event(pod, 'Warning', 'Failed', 'Error: ImagePullBackOff', COMPONENT);
        await sleep(this.ctx.ms(backoff), signal);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_S);
        continue;
      }
      c.imageID = pull.imageID;
      this.ctx.event(pod, 'Normal', 'Pulled', `Successfully pulled image "${c.image}"`, COMPONENT);
      let handle: RunningContainer;
      try {
        handle = await this.runtime.start(pod, {
          name: c.name,
          image: c.image,
          ...(Array.isArray(c.spec.command) ? { command: c.spec.command.map(String) } : {}),
          ...(Array.isArray(c.spec.args) ? { args: c.spec.args.map(String) } : {}),
          env: asArray(c.spec.env)
            .filter(isObject)
            .map((e) => ({
              name: String(e.name),
              ...(typeof e.value === 'string' ? { value: e.value } : {}),
            })),
        });
      } catch (e) {
        const reason = e instanceof StartError ? e.reason : 'CreateContainerError';
        this.setWaiting(c, reason, (e as Error).message);
        this.ctx.event(pod, 'Warning', 'Failed', `Error: ${(e as Error).message}`, COMPONENT);
        await sleep(this.ctx.ms(backoff), signal);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_S);
        continue;
      }
      if (signal.aborted) {
        // Stopped while starting: the terminate path did not see this container; it never served.
        await handle.stop(0);
        return;
      }
      c.handle = handle;
      c.containerID = handle.containerId;
      c.state = 'running';
      c.reason = '';
      c.message = undefined;
      c.started = true;
      c.everStarted = true;
      c.startedAt = timestamp();
      this.ctx.event(pod, 'Normal', 'Created', `Created container ${c.name}`, COMPONENT);
      this.ctx.event(pod, 'Normal', 'Started', `Started container ${c.name}`, COMPONENT);
      if (handle.hostPort !== undefined) this.annotateHostPort(rec, handle.hostPort);
      this.changed();
      const exitCode = await this.whileRunning(rec, c, handle, behavior);
      if (signal.aborted || exitCode === undefined) return;
      c.restartCount++;
      c.lastTerminated = {
        terminated: {
          exitCode,
          reason: exitCode === 0 ? 'Completed' : 'Error',
          startedAt: c.startedAt,
          finishedAt: timestamp(),
          containerID: c.containerID,
        },
      };
      c.ready = false;
      c.started = false;
      await handle.stop(0);
      c.handle = undefined;
      this.setWaiting(
        c,
        'CrashLoopBackOff',
        `back-off ${backoff}s restarting failed container=${c.name} pod=${rec.name}_${rec.namespace}(${rec.uid})`,
      );
      this.ctx.event(pod, 'Warning', 'BackOff', 'Back-off restarting failed container', COMPONENT);
      await sleep(this.ctx.ms(backoff), signal);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_S);
    }
  }

  private setWaiting(c: ContainerRecord, reason: string, message: string): void {
    c.state = 'waiting';
    c.reason = reason;
    c.message = message;
    c.ready = false;
    this.changed();
  }

  /** Probes readiness until the container exits (returns its exit code) or the pod stops (undefined). */
  private async whileRunning(
    rec: PodRecord,
    c: ContainerRecord,
    handle: RunningContainer,
    behavior: ImageBehavior,
  ): Promise<number | undefined> {
    const { signal } = rec.abort;
    const probe = isObject(c.spec.readinessProbe) ? c.spec.readinessProbe : undefined;
    const period = this.ctx.ms(asNumber(probe?.periodSeconds) ?? 10);
    const successThreshold = asNumber(probe?.successThreshold) ?? 1;
    const failureThreshold = asNumber(probe?.failureThreshold) ?? 3;
    const startDelay = this.runtime.real ? 0 : this.ctx.ms(this.opts.podStartSeconds);
    const crashAt = behavior === 'crash' ? Date.now() + startDelay + this.ctx.ms(2) : undefined;
    await sleep(startDelay + this.ctx.ms(asNumber(probe?.initialDelaySeconds) ?? 0), signal);
    let successes = 0;
    let failures = 0;
    while (!signal.aborted) {
      const exit = await handle.exitCode();
      if (signal.aborted) return undefined;
      if (exit !== undefined) return exit;
      if (crashAt !== undefined && Date.now() >= crashAt) return 1;
      let ready = c.ready;
      if (!probe) ready = behavior !== 'not-ready';
      else {
        const result =
          behavior === 'not-ready'
            ? {
                ok: false,
                message: 'HTTP probe failed with statuscode: 503 (kube-sim: not-ready set by a test)',
              }
            : await this.runtime.probe(handle, probe);
        if (signal.aborted) return undefined;
        if (result.ok) {
          successes++;
          failures = 0;
          if (successes >= successThreshold) ready = true;
        } else {
          failures++;
          successes = 0;
          if (!c.ready || failures >= failureThreshold) ready = false;
          this.ctx.event(
            rec.pod,
            'Warning',
            'Unhealthy',
            `Readiness probe failed: ${result.message ?? ''}`,
            COMPONENT,
          );
        }
      }
      if (ready !== c.ready) {
        c.ready = ready;
        this.changed();
      }
      await sleep(probe ? Math.max(period, 50) : Math.max(this.ctx.ms(1), 50), signal);
    }
    return undefined;
  }

  private annotateHostPort(rec: PodRecord, port: number): void {
    this.ctx.tryWrite(() => {
      const pod = this.ctx.api.tryGet(this.ctx.types.pods, rec.namespace, rec.name);
      if (!pod) return;
      pod.metadata.annotations = {
        ...(pod.metadata.annotations ?? {}),
        [HOST_PORT_ANNOTATION]: String(port),
      };
      rec.pod = this.ctx.api.write(this.ctx.types.pods, pod, 'kube-sim');
    });
  }

  /** Graceful termination: out of the endpoints first, then stop (STOPSIGNAL, grace), then gone. */
  private async terminate(rec: PodRecord): Promise<void> {
    rec.terminating = true;
    rec.abort.abort();
    this.changed();
    const grace = rec.pod.metadata.deletionGracePeriodSeconds ?? 30;
    for (const c of rec.containers)
      if (c.state === 'running')
        this.ctx.event(rec.pod, 'Normal', 'Killing', `Stopping container ${c.name}`, COMPONENT);
    // Let proxies and endpoint readers notice before the process goes away.
    await sleep(100);
    await Promise.all(rec.containers.map((c) => c.handle?.stop(grace)));
    if (!this.runtime.real) await sleep(this.ctx.ms(this.opts.podStopSeconds));
    this.records.delete(rec.uid);
    this.ctx.tryWrite(() => this.ctx.api.finalizeDeletion(this.ctx.types.pods, rec.namespace, rec.name));
  }

  private condition(rec: PodRecord, type: string, ok: boolean, reason?: string, message?: string): Condition {
    const status = ok ? 'True' : 'False';
    const prev = rec.conditionTimes.get(type);
    const time = prev && prev.status === status ? prev.time : timestamp();
    rec.conditionTimes.set(type, { status, time });
    return {
      type,
      status,
      lastTransitionTime: time,
      ...(reason ? { reason } : {}),
      ...(message ? { message } : {}),
    };
  }

  private containerStatus(c: ContainerRecord): JsonObject {
    let state: JsonObject;
    if (c.state === 'running') state = { running: { startedAt: c.startedAt } };
    else if (c.state === 'terminated')
      state = { terminated: { exitCode: c.exitCode ?? 0, reason: c.reason, containerID: c.containerID } };
    else state = { waiting: { reason: c.reason, ...(c.message ? { message: c.message } : {}) } };
    return {
      name: c.name,
      state,
      lastState: c.lastTerminated ?? {},
      ready: c.ready,
      restartCount: c.restartCount,
      image: c.image,
      imageID: c.imageID,
      ...(c.containerID ? { containerID: c.containerID } : {}),
      started: c.started,
    };
  }

  private writeStatus(rec: PodRecord): void {
    const unready = rec.containers.filter((c) => !c.ready).map((c) => c.name);
    const ready = unready.length === 0 && rec.containers.length > 0 && !rec.terminating;
    if (ready && rec.readySince === undefined) rec.readySince = Date.now();
    if (!ready) rec.readySince = undefined;
    const notReady = [
      'ContainersNotReady',
      `containers with unready status: [${unready.join(' ')}]`,
    ] as const;
    const status: JsonObject = {
      phase: rec.containers.every((c) => c.everStarted) ? 'Running' : 'Pending',
      conditions: [
        this.condition(rec, 'PodReadyToStartContainers', true),
        this.condition(rec, 'Initialized', true),
        this.condition(rec, 'Ready', ready, ...(ready ? [] : notReady)),
        this.condition(rec, 'ContainersReady', ready, ...(ready ? [] : notReady)),
        this.condition(rec, 'PodScheduled', true),
      ],
      hostIP: '127.0.0.1',
      hostIPs: [{ ip: '127.0.0.1' }],
      podIP: '127.0.0.1',
      podIPs: [{ ip: '127.0.0.1' }],
      startTime: rec.startTime,
      containerStatuses: rec.containers.map((c) => this.containerStatus(c)),
      qosClass: qosClass(rec.pod.spec),
    };
    if (deepEqual(status, rec.pod.status)) return;
    const next = clone(rec.pod);
    next.status = status;
    rec.pod = this.ctx.api.write(this.ctx.types.pods, next, MANAGER, 'status');
  }
}

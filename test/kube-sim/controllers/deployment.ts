/**
 * The deployment controller, after kubernetes/pkg/controller/deployment (sync.go,
 * rolling.go, recreate.go, progress.go): ReplicaSets named <deployment>-<pod-template-hash>,
 * revisions and rollbacks by revision annotation, RollingUpdate by maxSurge/maxUnavailable,
 * Recreate, status and the Progressing/Available conditions with the progress deadline.
 */
import type { Condition, KubeObject } from '../types.js';
import {
  asNumber,
  asStringMap,
  clone,
  deepEqual,
  fnv32a,
  getPath,
  isObject,
  type JsonObject,
  safeEncode,
  stableStringify,
  timestamp,
} from '../util.js';
import { type ControllerContext, controllerOf, getCondition } from './context.js';

export const REVISION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY = 'deployment.kubernetes.io/revision-history';
export const DESIRED_REPLICAS = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS = 'deployment.kubernetes.io/max-replicas';
export const HASH_LABEL = 'pod-template-hash';
export const CHANGE_CAUSE = 'kubernetes.io/change-cause';
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
const SKIP_COPY = new Set([
  LAST_APPLIED,
  REVISION,
  REVISION_HISTORY,
  DESIRED_REPLICAS,
  MAX_REPLICAS,
  'deprecated.deployment.rollback.to',
]);
const MAX_INT32 = 2147483647;
const MANAGER = 'kube-controller-manager';

export const Reasons = {
  NewReplicaSet: 'NewReplicaSetCreated',
  FoundNewRS: 'FoundNewReplicaSet',
  RSUpdated: 'ReplicaSetUpdated',
  NewRSAvailable: 'NewReplicaSetAvailable',
  TimedOut: 'ProgressDeadlineExceeded',
  Paused: 'DeploymentPaused',
  Resumed: 'DeploymentResumed',
  MinAvailable: 'MinimumReplicasAvailable',
  MinUnavailable: 'MinimumReplicasUnavailable',
} as const;

interface Status {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
  collisionCount?: number;
  conditions?: Condition[];
}

const n = (v: unknown) => asNumber(v) ?? 0;
const specReplicas = (o: KubeObject) => n(getPath(o, 'spec', 'replicas'));
const revisionOf = (rs: KubeObject) => Number.parseInt(rs.metadata.annotations?.[REVISION] ?? '0', 10) || 0;

/** pod-template-hash: FNV-32a of the template (here over its canonical JSON), safe-encoded. */
export function podTemplateHash(template: unknown, collisionCount?: number): string {
  let text = stableStringify(template);
  if (collisionCount !== undefined) text += `#${collisionCount}`;
  return safeEncode(String(fnv32a(text)));
}

function withoutHash(template: unknown): unknown {
  const t = clone(template);
  if (isObject(t) && isObject(t.metadata) && isObject(t.metadata.labels)) {
    delete t.metadata.labels[HASH_LABEL];
  }
  return t;
}

export function equalIgnoreHash(a: unknown, b: unknown): boolean {
  return deepEqual(withoutHash(a), withoutHash(b));
}

/** intstr.GetScaledValueFromIntOrPercent */
function scaled(v: unknown, total: number, roundUp: boolean): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.endsWith('%')) {
    const x = (Number.parseInt(v, 10) * total) / 100;
    return roundUp ? Math.ceil(x) : Math.floor(x);
  }
  return Number.parseInt(String(v ?? 0), 10) || 0;
}

/** deploymentutil.ResolveFenceposts */
function fenceposts(d: KubeObject): { surge: number; unavailable: number } {
  const ru = getPath(d, 'spec', 'strategy', 'rollingUpdate');
  const replicas = specReplicas(d);
  const surge = scaled(getPath(ru, 'maxSurge') ?? '25%', replicas, true);
  let unavailable = scaled(getPath(ru, 'maxUnavailable') ?? '25%', replicas, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { surge, unavailable };
}

const isRolling = (d: KubeObject) => getPath(d, 'spec', 'strategy', 'type') !== 'Recreate';

function maxUnavailable(d: KubeObject): number {
  if (!isRolling(d) || specReplicas(d) === 0) return 0;
  return Math.min(fenceposts(d).unavailable, specReplicas(d));
}

function maxSurge(d: KubeObject): number {
  return isRolling(d) ? fenceposts(d).surge : 0;
}

function newCondition(type: string, status: Condition['status'], reason: string, message: string): Condition {
  const now = timestamp();
  return { type, status, lastUpdateTime: now, lastTransitionTime: now, reason, message };
}

/** deploymentutil.SetDeploymentCondition */
function setCondition(status: Status, c: Condition): void {
  const conditions = status.conditions ?? [];
  const current = conditions.find((x) => x.type === c.type);
  if (current && current.status === c.status && current.reason === c.reason) return;
  if (current && current.status === c.status && current.lastTransitionTime)
    c.lastTransitionTime = current.lastTransitionTime;
  status.conditions = [...conditions.filter((x) => x.type !== c.type), c];
}

function removeCondition(status: Status, type: string): void {
  status.conditions = (status.conditions ?? []).filter((c) => c.type !== type);
}

/** Drops zero counts, as the JSON of the real status omits them (omitempty). */
function compact(status: Status): Status {
  const out: Status = {};
  for (const [k, v] of Object.entries(status) as [keyof Status, unknown][]) {
    if (v === undefined || v === 0) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

export class DeploymentController {
  /** Exact times (ms) behind the Progressing condition's second-precision lastUpdateTime, by deployment uid. */
  private readonly progressAt = new Map<string, number>();

  /** When this controller first saw each deployment's current generation (by uid). */
  private readonly seen = new Map<string, { generation: number; at: number }>();

  constructor(
    private readonly ctx: ControllerContext,
    /** Real ms before a new generation is acted on (and observedGeneration follows). */
    private readonly observeDelayMs = 0,
  ) {}

  reconcile(): void {
    const live = new Set<string>();
    for (const d of this.ctx.api.list(this.ctx.types.deployments, undefined)) {
      live.add(d.metadata.uid ?? '');
      if (this.lagging(d)) continue;
      this.ctx.tryWrite(() => this.sync(d));
    }
    for (const uid of this.seen.keys()) if (!live.has(uid)) this.seen.delete(uid);
  }

  /**
   * A real controller acts on a change only after its informer delivered it and a worker
   * took the key off the queue; until then the Deployment reads as not yet observed.
   */
  private lagging(d: KubeObject): boolean {
    if (this.observeDelayMs <= 0) return false;
    const uid = d.metadata.uid ?? '';
    const generation = d.metadata.generation ?? 0;
    if (generation <= n(getPath(d, 'status', 'observedGeneration'))) {
      this.seen.delete(uid);
      return false;
    }
    const now = Date.now();
    let seen = this.seen.get(uid);
    if (!seen || seen.generation !== generation) {
      seen = { generation, at: now };
      this.seen.set(uid, seen);
      setTimeout(() => this.ctx.trigger(), this.observeDelayMs + 1).unref();
    }
    return now - seen.at < this.observeDelayMs;
  }

  private replicaSetsOf(d: KubeObject): KubeObject[] {
    return this.ctx.api
      .list(this.ctx.types.replicasets, d.metadata.namespace)
      .filter((rs) => controllerOf(rs) === d.metadata.uid);
  }

  private sync(d: KubeObject): void {
    if (d.metadata.deletionTimestamp) return;
    const all = this.replicaSetsOf(d).sort((a, b) =>
      (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''),
    );
    const template = getPath(d, 'spec', 'template');
    let newRS = all.find((rs) => equalIgnoreHash(getPath(rs, 'spec', 'template'), template));
    const oldRSs = all.filter((rs) => rs !== newRS);
    if (getPath(d, 'spec', 'paused') === true) {
      this.syncStatus(d, all, newRS, true);
      return;
    }
    if (!newRS) {
      this.createNewReplicaSet(d, all, oldRSs);
      return;
    }
    newRS = this.syncNewReplicaSet(d, newRS, oldRSs);
    d = this.syncRevision(d, newRS);
    const allRSs = [...oldRSs, newRS];
    const scaled = isRolling(d)
      ? this.reconcileNewReplicaSet(d, allRSs, newRS) ||
        this.reconcileOldReplicaSets(d, allRSs, oldRSs, newRS)
      : this.recreate(d, oldRSs, newRS);
    if (!scaled && this.complete(d, this.status(d))) this.cleanup(d, oldRSs);
    this.syncStatus(d, allRSs, newRS, false);
  }

  private status(d: KubeObject): Status {
    return (isObject(d.status) ? clone(d.status) : {}) as Status;
  }

  /** getNewReplicaSet with createIfNotExisted: a new RS for a new template. */
  private createNewReplicaSet(d: KubeObject, all: KubeObject[], oldRSs: KubeObject[]): void {
    const { api, types } = this.ctx;
    const status = this.status(d);
    const hash = podTemplateHash(getPath(d, 'spec', 'template'), status.collisionCount);
    const name = `${d.metadata.name}-${hash}`;
    const existing = api.tryGet(types.replicasets, d.metadata.namespace, name);
    if (existing) {
      // A hash collision (or an RS we do not control): count it and retry with another hash.
      status.collisionCount = (status.collisionCount ?? 0) + 1;
      api.write(types.deployments, { ...d, status }, MANAGER, 'status');
      return;
    }
    const template = clone(getPath(d, 'spec', 'template')) as JsonObject;
    const tmeta = isObject(template.metadata) ? template.metadata : {};
    template.metadata = tmeta;
    tmeta.labels = { ...asStringMap(tmeta.labels), [HASH_LABEL]: hash };
    const selector = clone(getPath(d, 'spec', 'selector')) as JsonObject;
    selector.matchLabels = { ...asStringMap(selector.matchLabels), [HASH_LABEL]: hash };
    const revision = String(Math.max(0, ...oldRSs.map(revisionOf)) + 1);
    const annotations: Record<string, string> = {};
    for (const [k, v] of Object.entries(d.metadata.annotations ?? {}))
      if (!SKIP_COPY.has(k)) annotations[k] = v;
    annotations[REVISION] = revision;
    annotations[DESIRED_REPLICAS] = String(specReplicas(d));
    annotations[MAX_REPLICAS] = String(specReplicas(d) + maxSurge(d));
    const rs: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name,
        namespace: d.metadata.namespace,
        labels: { ...asStringMap(tmeta.labels) },
        annotations,
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            name: d.metadata.name ?? '',
            uid: d.metadata.uid ?? '',
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: {
        replicas: 0,
        minReadySeconds: n(getPath(d, 'spec', 'minReadySeconds')),
        selector,
        template,
      },
    };
    const replicas = isRolling(d)
      ? this.newRSReplicas(d, all, rs)
      : oldRSs.some((o) => n(getPath(o, 'status', 'replicas')) > 0)
        ? 0
        : specReplicas(d);
    (rs.spec as JsonObject).replicas = replicas;
    const created = api.write(types.replicasets, rs, MANAGER);
    if (replicas > 0)
      this.ctx.event(
        d,
        'Normal',
        'ScalingReplicaSet',
        `Scaled up replica set ${name} from 0 to ${replicas}`,
        'deployment-controller',
      );
    const annotationsD = { ...(d.metadata.annotations ?? {}), [REVISION]: revision };
    if (this.hasDeadline(d))
      this.restartProgress(
        d,
        status,
        'True',
        Reasons.NewReplicaSet,
        `Created new replica set "${created.metadata.name}"`,
      );
    api.write(
      types.deployments,
      { ...d, metadata: { ...d.metadata, annotations: annotationsD }, status },
      MANAGER,
      'status',
    );
  }

  /** An existing RS for the current template (e.g. after a rollback) becomes the newest revision. */
  private syncNewReplicaSet(d: KubeObject, newRS: KubeObject, oldRSs: KubeObject[]): KubeObject {
    const maxOld = Math.max(0, ...oldRSs.map(revisionOf));
    const newRevision = maxOld + 1;
    const rs = clone(newRS);
    const annotations = { ...(rs.metadata.annotations ?? {}) };
    for (const [k, v] of Object.entries(d.metadata.annotations ?? {}))
      if (!SKIP_COPY.has(k)) annotations[k] = v;
    const oldRevision = annotations[REVISION];
    const oldRevisionInt = Number.parseInt(oldRevision ?? '0', 10) || 0;
    if (oldRevisionInt < newRevision) {
      annotations[REVISION] = String(newRevision);
      if (oldRevision !== undefined) {
        const history = annotations[REVISION_HISTORY];
        annotations[REVISION_HISTORY] = history ? `${history},${oldRevision}` : oldRevision;
      }
    }
    const minReady = n(getPath(d, 'spec', 'minReadySeconds'));
    if (
      deepEqual(annotations, rs.metadata.annotations ?? {}) &&
      n(getPath(rs, 'spec', 'minReadySeconds')) === minReady
    )
      return newRS;
    rs.metadata.annotations = annotations;
    (rs.spec as JsonObject).minReadySeconds = minReady;
    return this.ctx.api.write(this.ctx.types.replicasets, rs, MANAGER);
  }

  /** The Deployment carries its new RS's revision; a first sighting records FoundNewReplicaSet. */
  private syncRevision(d: KubeObject, newRS: KubeObject): KubeObject {
    const revision = newRS.metadata.annotations?.[REVISION];
    const status = this.status(d);
    let changed = false;
    const annotations = { ...(d.metadata.annotations ?? {}) };
    if (revision !== undefined && annotations[REVISION] !== revision) {
      annotations[REVISION] = revision;
      changed = true;
    }
    if (this.hasDeadline(d) && !getCondition(status.conditions, 'Progressing')) {
      this.restartProgress(
        d,
        status,
        'True',
        Reasons.FoundNewRS,
        `Found new replica set "${newRS.metadata.name}"`,
      );
      changed = true;
    }
    if (!changed) return d;
    return this.ctx.api.write(
      this.ctx.types.deployments,
      { ...d, metadata: { ...d.metadata, annotations }, status },
      MANAGER,
      'status',
    );
  }

  /** deploymentutil.NewRSNewReplicas for RollingUpdate. */
  private newRSReplicas(d: KubeObject, all: KubeObject[], newRS: KubeObject): number {
    const replicas = specReplicas(d);
    const current = all.reduce((sum, rs) => sum + specReplicas(rs), 0);
    const maxTotal = replicas + maxSurge(d);
    if (current >= maxTotal) return specReplicas(newRS);
    const up = Math.min(maxTotal - current, replicas - specReplicas(newRS));
    return specReplicas(newRS) + up;
  }

  private scale(d: KubeObject, rs: KubeObject, to: number): void {
    const from = specReplicas(rs);
    const next = clone(rs);
    (next.spec as JsonObject).replicas = to;
    next.metadata.annotations = {
      ...(next.metadata.annotations ?? {}),
      [DESIRED_REPLICAS]: String(specReplicas(d)),
      [MAX_REPLICAS]: String(specReplicas(d) + maxSurge(d)),
    };
    const written = this.ctx.api.write(this.ctx.types.replicasets, next, MANAGER);
    Object.assign(rs, written);
    if (from !== to)
      this.ctx.event(
        d,
        'Normal',
        'ScalingReplicaSet',
        `Scaled ${to > from ? 'up' : 'down'} replica set ${rs.metadata.name} from ${from} to ${to}`,
        'deployment-controller',
      );
  }

  private reconcileNewReplicaSet(d: KubeObject, all: KubeObject[], newRS: KubeObject): boolean {
    const want = specReplicas(d);
    const have = specReplicas(newRS);
    if (have === want) return false;
    if (have > want) {
      this.scale(d, newRS, want);
      return true;
    }
    const next = this.newRSReplicas(d, all, newRS);
    if (next === have) return false;
    this.scale(d, newRS, next);
    return true;
  }

  private reconcileOldReplicaSets(
    d: KubeObject,
    all: KubeObject[],
    oldRSs: KubeObject[],
    newRS: KubeObject,
  ): boolean {
    const oldPods = oldRSs.reduce((s, rs) => s + specReplicas(rs), 0);
    if (oldPods === 0) return false;
    const allPods = all.reduce((s, rs) => s + specReplicas(rs), 0);
    const minAvailable = specReplicas(d) - maxUnavailable(d);
    const newUnavailable = specReplicas(newRS) - n(getPath(newRS, 'status', 'availableReplicas'));
    const maxScaledDown = allPods - minAvailable - newUnavailable;
    if (maxScaledDown <= 0) return false;
    // cleanupUnhealthyReplicas: old pods that are not available go first.
    let cleaned = 0;
    for (const rs of oldRSs) {
      if (cleaned >= maxScaledDown) break;
      const replicas = specReplicas(rs);
      const available = n(getPath(rs, 'status', 'availableReplicas'));
      if (replicas === 0 || replicas === available) continue;
      const down = Math.min(maxScaledDown - cleaned, replicas - available);
      this.scale(d, rs, replicas - down);
      cleaned += down;
    }
    // scaleDownOldReplicaSetsForRollingUpdate
    const availablePods = all.reduce((s, rs) => s + n(getPath(rs, 'status', 'availableReplicas')), 0);
    let scaledDown = 0;
    if (availablePods > minAvailable) {
      const total = availablePods - minAvailable;
      for (const rs of oldRSs) {
        if (scaledDown >= total) break;
        const replicas = specReplicas(rs);
        if (replicas === 0) continue;
        const down = Math.min(replicas, total - scaledDown);
        this.scale(d, rs, replicas - down);
        scaledDown += down;
      }
    }
    return cleaned + scaledDown > 0;
  }

  /** Recreate: all old pods gone before the new RS scales up. */
  private recreate(d: KubeObject, oldRSs: KubeObject[], newRS: KubeObject): boolean {
    let changed = false;
    for (const rs of oldRSs) {
      if (specReplicas(rs) > 0) {
        this.scale(d, rs, 0);
        changed = true;
      }
    }
    if (changed) return true;
    if (oldRSs.some((rs) => n(getPath(rs, 'status', 'replicas')) > 0)) return false;
    if (specReplicas(newRS) !== specReplicas(d)) {
      this.scale(d, newRS, specReplicas(d));
      return true;
    }
    return false;
  }

  /** Old RSs at zero beyond spec.revisionHistoryLimit are deleted, lowest revision first. */
  private cleanup(d: KubeObject, oldRSs: KubeObject[]): void {
    const limit = asNumber(getPath(d, 'spec', 'revisionHistoryLimit'));
    if (limit === undefined) return;
    const cleanable = oldRSs
      .filter(
        (rs) =>
          specReplicas(rs) === 0 &&
          n(getPath(rs, 'status', 'replicas')) === 0 &&
          !rs.metadata.deletionTimestamp,
      )
      .sort((a, b) => revisionOf(a) - revisionOf(b));
    for (const rs of cleanable.slice(0, Math.max(0, cleanable.length - limit))) {
      this.ctx.tryWrite(() =>
        this.ctx.api.delete(this.ctx.types.replicasets, rs.metadata.namespace, rs.metadata.name ?? ''),
      );
    }
  }

  private hasDeadline(d: KubeObject): boolean {
    const s = asNumber(getPath(d, 'spec', 'progressDeadlineSeconds'));
    return s !== undefined && s !== MAX_INT32;
  }

  /** deploymentutil.DeploymentComplete */
  private complete(d: KubeObject, s: Status): boolean {
    const want = specReplicas(d);
    return (
      n(s.updatedReplicas) === want &&
      n(s.replicas) === want &&
      n(s.availableReplicas) === want &&
      n(s.observedGeneration) >= n(d.metadata.generation)
    );
  }

  private calculateStatus(d: KubeObject, all: KubeObject[], newRS: KubeObject | undefined): Status {
    const sum = (field: string, rss: KubeObject[]) =>
      rss.reduce((s, rs) => s + n(getPath(rs, 'status', field)), 0);
    const available = sum('availableReplicas', all);
    const total = all.reduce((s, rs) => s + specReplicas(rs), 0);
    const current = this.status(d);
    const status: Status = {
      observedGeneration: d.metadata.generation,
      replicas: sum('replicas', all),
      updatedReplicas: newRS ? sum('replicas', [newRS]) : 0,
      readyReplicas: sum('readyReplicas', all),
      availableReplicas: available,
      unavailableReplicas: Math.max(0, total - available),
      ...(current.collisionCount !== undefined ? { collisionCount: current.collisionCount } : {}),
      conditions: clone(current.conditions ?? []),
    };
    if (available >= specReplicas(d) - maxUnavailable(d))
      setCondition(
        status,
        newCondition('Available', 'True', Reasons.MinAvailable, 'Deployment has minimum availability.'),
      );
    else
      setCondition(
        status,
        newCondition(
          'Available',
          'False',
          Reasons.MinUnavailable,
          'Deployment does not have minimum availability.',
        ),
      );
    return status;
  }

  /** syncRolloutStatus (and, when paused, the paused condition). */
  private syncStatus(d: KubeObject, all: KubeObject[], newRS: KubeObject | undefined, paused: boolean): void {
    const status = this.calculateStatus(d, all, newRS);
    const uid = d.metadata.uid ?? '';
    const old = this.status(d);
    if (this.hasDeadline(d)) {
      const cond = getCondition(status.conditions, 'Progressing');
      if (paused) {
        if (cond?.reason !== Reasons.Paused)
          setCondition(
            status,
            newCondition('Progressing', 'Unknown', Reasons.Paused, 'Deployment is paused'),
          );
      } else if (cond?.reason === Reasons.Paused) {
        this.restartProgress(d, status, 'Unknown', Reasons.Resumed, 'Deployment is resumed');
      } else {
        const isComplete =
          status.replicas === status.updatedReplicas && cond?.reason === Reasons.NewRSAvailable;
        const rsName = newRS?.metadata.name;
        if (!isComplete) {
          if (this.complete(d, status)) {
            const msg = rsName
              ? `ReplicaSet "${rsName}" has successfully progressed.`
              : `Deployment "${d.metadata.name}" has successfully progressed.`;
            setCondition(status, newCondition('Progressing', 'True', Reasons.NewRSAvailable, msg));
          } else if (this.progressing(old, status)) {
            const msg = rsName
              ? `ReplicaSet "${rsName}" is progressing.`
              : `Deployment "${d.metadata.name}" is progressing.`;
            const c = newCondition('Progressing', 'True', Reasons.RSUpdated, msg);
            if (cond?.status === 'True' && cond.lastTransitionTime)
              c.lastTransitionTime = cond.lastTransitionTime;
            removeCondition(status, 'Progressing');
            setCondition(status, c);
            this.progressAt.set(uid, Date.now());
          } else if (this.timedOut(d, status)) {
            const msg = rsName
              ? `ReplicaSet "${rsName}" has timed out progressing.`
              : `Deployment "${d.metadata.name}" has timed out progressing.`;
            setCondition(status, newCondition('Progressing', 'False', Reasons.TimedOut, msg));
          }
        }
      }
    }
    const next = compact(status);
    if (deepEqual(next, compact(old))) return;
    this.ctx.api.write(this.ctx.types.deployments, { ...d, status: next }, MANAGER, 'status');
  }

  /** Sets the Progressing condition and starts the progress deadline's clock again. */
  private restartProgress(
    d: KubeObject,
    status: Status,
    condition: Condition['status'],
    reason: string,
    message: string,
  ): void {
    setCondition(status, newCondition('Progressing', condition, reason, message));
    this.progressAt.set(d.metadata.uid ?? '', Date.now());
  }

  /** deploymentutil.DeploymentProgressing */
  private progressing(old: Status, now: Status): boolean {
    const oldOld = n(old.replicas) - n(old.updatedReplicas);
    const newOld = n(now.replicas) - n(now.updatedReplicas);
    return (
      n(now.updatedReplicas) > n(old.updatedReplicas) ||
      newOld < oldOld ||
      n(now.readyReplicas) > n(old.readyReplicas) ||
      n(now.availableReplicas) > n(old.availableReplicas)
    );
  }

  /** deploymentutil.DeploymentTimedOut, on the simulated clock. */
  private timedOut(d: KubeObject, status: Status): boolean {
    const cond = getCondition(status.conditions, 'Progressing');
    if (!cond) return false;
    if (cond.reason === Reasons.NewRSAvailable) return false;
    if (cond.reason === Reasons.TimedOut) return true;
    const uid = d.metadata.uid ?? '';
    const from = this.progressAt.get(uid) ?? Date.parse(cond.lastUpdateTime ?? '');
    if (Number.isNaN(from)) return false;
    const deadline = this.ctx.ms(n(getPath(d, 'spec', 'progressDeadlineSeconds')));
    return from + deadline < Date.now();
  }
}

/**
 * The ReplicaSet controller: keeps spec.replicas pods (named <rs>-<random>, controlled by
 * the RS, scheduled straight onto the one node) and reports replicas, readyReplicas and
 * availableReplicas (ready for minReadySeconds) in status.
 */
import type { KubeObject } from '../types.js';
import { asNumber, clone, deepEqual, getPath, isObject, type JsonObject, randomSuffix } from '../util.js';
import { type ControllerContext, controllerOf, getCondition, NODE_NAME } from './context.js';

const MANAGER = 'kube-controller-manager';

export function isPodReady(pod: KubeObject): boolean {
  return getCondition(getPath(pod, 'status', 'conditions'), 'Ready')?.status === 'True';
}

function isActive(pod: KubeObject): boolean {
  const phase = getPath(pod, 'status', 'phase');
  return !pod.metadata.deletionTimestamp && phase !== 'Succeeded' && phase !== 'Failed';
}

export class ReplicaSetController {
  constructor(
    private readonly ctx: ControllerContext,
    /** When the kubelet saw the pod become ready (ms), for minReadySeconds. */
    private readonly readySince: (podUid: string) => number | undefined,
  ) {}

  reconcile(): void {
    for (const rs of this.ctx.api.list(this.ctx.types.replicasets, undefined)) {
      this.ctx.tryWrite(() => this.sync(rs));
    }
  }

  private podsOf(rs: KubeObject): KubeObject[] {
    return this.ctx.api
      .list(this.ctx.types.pods, rs.metadata.namespace)
      .filter((p) => controllerOf(p) === rs.metadata.uid);
  }

  private sync(rs: KubeObject): void {
    if (rs.metadata.deletionTimestamp) return;
    const want = asNumber(getPath(rs, 'spec', 'replicas')) ?? 0;
    let active = this.podsOf(rs).filter(isActive);
    if (active.length < want) {
      for (let i = active.length; i < want; i++) this.createPod(rs);
    } else if (active.length > want) {
      // getPodsToDelete: not ready first, then the most recently ready / created.
      const ranked = [...active].sort((a, b) => {
        const ra = isPodReady(a) ? 1 : 0;
        const rb = isPodReady(b) ? 1 : 0;
        if (ra !== rb) return ra - rb;
        return (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? '');
      });
      for (const pod of ranked.slice(0, active.length - want)) {
        this.ctx.tryWrite(() => {
          this.ctx.api.delete(this.ctx.types.pods, pod.metadata.namespace, pod.metadata.name ?? '');
          this.ctx.event(
            rs,
            'Normal',
            'SuccessfulDelete',
            `Deleted pod: ${pod.metadata.name}`,
            'replicaset-controller',
          );
        });
      }
    }
    active = this.podsOf(rs).filter(isActive);
    this.syncStatus(rs, active);
  }

  private createPod(rs: KubeObject): void {
    const template = clone(getPath(rs, 'spec', 'template')) as JsonObject;
    const tmeta = isObject(template.metadata) ? template.metadata : {};
    const name = `${rs.metadata.name}-${randomSuffix(5)}`;
    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        ...(tmeta as JsonObject),
        name,
        generateName: `${rs.metadata.name}-`,
        namespace: rs.metadata.namespace,
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'ReplicaSet',
            name: rs.metadata.name ?? '',
            uid: rs.metadata.uid ?? '',
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: { ...(isObject(template.spec) ? template.spec : {}), nodeName: NODE_NAME },
    };
    this.ctx.api.write(this.ctx.types.pods, pod, MANAGER);
    this.ctx.event(rs, 'Normal', 'SuccessfulCreate', `Created pod: ${name}`, 'replicaset-controller');
  }

  private syncStatus(rs: KubeObject, pods: KubeObject[]): void {
    const minReady = this.ctx.ms(asNumber(getPath(rs, 'spec', 'minReadySeconds')) ?? 0);
    const templateLabels = getPath(rs, 'spec', 'template', 'metadata', 'labels');
    const ready = pods.filter(isPodReady);
    const available = ready.filter((p) => {
      if (minReady === 0) return true;
      const since = this.readySince(p.metadata.uid ?? '');
      return since !== undefined && since + minReady <= Date.now();
    });
    const fullyLabeled = pods.filter((p) =>
      Object.entries(isObject(templateLabels) ? templateLabels : {}).every(
        ([k, v]) => p.metadata.labels?.[k] === v,
      ),
    );
    const status: JsonObject = {};
    const set = (k: string, v: number) => {
      if (v !== 0) status[k] = v;
    };
    status.replicas = pods.length;
    set('fullyLabeledReplicas', fullyLabeled.length);
    set('readyReplicas', ready.length);
    set('availableReplicas', available.length);
    status.observedGeneration = rs.metadata.generation;
    if (deepEqual(status, rs.status ?? {})) return;
    this.ctx.api.write(this.ctx.types.replicasets, { ...rs, status }, MANAGER, 'status');
  }
}

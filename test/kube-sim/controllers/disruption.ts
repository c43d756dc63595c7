/**
 * The disruption controller's status for PodDisruptionBudgets: expected, healthy and desired
 * pod counts and whether a voluntary disruption is allowed. Nothing evicts pods here, so a
 * PDB never blocks anything; its status is for readers.
 */
import { labelSelectorMatcher } from '../selectors.js';
import { deepEqual, getPath, type JsonObject, timestamp } from '../util.js';
import { type ControllerContext, getCondition } from './context.js';
import { isPodReady } from './replicaset.js';

function scaled(v: unknown, total: number, roundUp: boolean): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.endsWith('%')) {
    const x = (Number.parseInt(v, 10) * total) / 100;
    return roundUp ? Math.ceil(x) : Math.floor(x);
  }
  return undefined;
}

export class DisruptionController {
  constructor(private readonly ctx: ControllerContext) {}

  reconcile(): void {
    const rt = this.ctx.api.resources.byKey('policy/poddisruptionbudgets');
    if (!rt) return;
    for (const pdb of this.ctx.api.list(rt, undefined)) {
      const match = labelSelectorMatcher(getPath(pdb, 'spec', 'selector'));
      const pods = this.ctx.api
        .list(this.ctx.types.pods, pdb.metadata.namespace)
        .filter((p) => !p.metadata.deletionTimestamp && match(p.metadata.labels ?? {}));
      const expected = pods.length;
      const healthy = pods.filter(isPodReady).length;
      const minAvailable = scaled(getPath(pdb, 'spec', 'minAvailable'), expected, true);
      const maxUnavailable = scaled(getPath(pdb, 'spec', 'maxUnavailable'), expected, true);
      const desired =
        minAvailable ?? (maxUnavailable !== undefined ? Math.max(0, expected - maxUnavailable) : expected);
      const allowed = Math.max(0, healthy - desired);
      const previous = getCondition(getPath(pdb, 'status', 'conditions'), 'DisruptionAllowed');
      const ok = allowed > 0;
      const status: JsonObject = {
        observedGeneration: pdb.metadata.generation,
        disruptionsAllowed: allowed,
        currentHealthy: healthy,
        desiredHealthy: desired,
        expectedPods: expected,
        conditions: [
          {
            type: 'DisruptionAllowed',
            status: ok ? 'True' : 'False',
            reason: ok ? 'SufficientPods' : 'InsufficientPods',
            message: '',
            observedGeneration: pdb.metadata.generation,
            lastTransitionTime:
              previous && previous.status === (ok ? 'True' : 'False')
                ? previous.lastTransitionTime
                : timestamp(),
          },
        ],
      };
      if (deepEqual(status, pdb.status)) continue;
      this.ctx.tryWrite(() =>
        this.ctx.api.write(rt, { ...pdb, status }, 'kube-controller-manager', 'status'),
      );
    }
  }
}

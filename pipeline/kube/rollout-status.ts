/** The parts of a Deployment that say how a rollout stands. */
export interface DeploymentState {
  metadata?: { generation?: number; name?: string };
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    readyReplicas?: number;
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
  };
}

export type RolloutState =
  | { phase: 'progressing'; message: string }
  | { phase: 'complete'; message: string }
  | { phase: 'failed'; reason: string; message: string };

/**
 * Reads a rollout the way `kubectl rollout status` does: the spec change must be observed,
 * the progress deadline not exceeded, every replica updated, old ones gone, and the updated
 * ones available. A Deployment with no generation or status has not been seen by a
 * controller yet, so it is still progressing (kubectl would call that done).
 */
export function rolloutState(dep: DeploymentState): RolloutState {
  const generation = dep.metadata?.generation;
  const status = dep.status;
  if (
    generation === undefined ||
    status?.observedGeneration === undefined ||
    status.observedGeneration < generation
  ) {
    return { phase: 'progressing', message: 'waiting for the controller to see the new spec' };
  }
  const progressing = status.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return {
      phase: 'failed',
      reason: 'ProgressDeadlineExceeded',
      message: progressing.message ?? 'progress deadline exceeded',
    };
  }
  const want = dep.spec?.replicas ?? 1;
  const updated = status.updatedReplicas ?? 0;
  const total = status.replicas ?? 0;
  const available = status.availableReplicas ?? 0;
  if (updated < want) return { phase: 'progressing', message: `${updated} of ${want} replicas updated` };
  if (total > updated)
    return { phase: 'progressing', message: `${total - updated} old replica(s) pending termination` };
  if (available < updated)
    return { phase: 'progressing', message: `${available} of ${updated} updated replicas available` };
  return { phase: 'complete', message: `${updated} of ${want} replicas updated and available` };
}

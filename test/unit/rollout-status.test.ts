import { describe, expect, it } from 'vitest';
import { type DeploymentState, rolloutState } from '../../pipeline/kube/rollout-status.js';

const dep = (
  status: NonNullable<DeploymentState['status']>,
  generation = 2,
  replicas = 3,
): DeploymentState => ({
  metadata: { generation },
  spec: { replicas },
  status,
});

describe('rolloutState (kubectl rollout status rules)', () => {
  it('waits until the controller has observed the new generation', () => {
    expect(
      rolloutState(dep({ observedGeneration: 1, replicas: 3, updatedReplicas: 3, availableReplicas: 3 }))
        .phase,
    ).toBe('progressing');
  });

  it('does not call a Deployment without status done (kubectl does)', () => {
    expect(rolloutState({ metadata: { name: 'x' } }).phase).toBe('progressing');
  });

  it.each([
    [
      { observedGeneration: 2, replicas: 4, updatedReplicas: 1, availableReplicas: 3 },
      '1 of 3 replicas updated',
    ],
    [
      { observedGeneration: 2, replicas: 4, updatedReplicas: 3, availableReplicas: 3 },
      '1 old replica(s) pending termination',
    ],
    [
      { observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 2 },
      '2 of 3 updated replicas available',
    ],
  ])('progressing: %j', (status, message) => {
    expect(rolloutState(dep(status))).toEqual({ phase: 'progressing', message });
  });

  it('is complete when all replicas are updated and available and old ones are gone', () => {
    expect(
      rolloutState(dep({ observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 3 }))
        .phase,
    ).toBe('complete');
  });

  it('fails on ProgressDeadlineExceeded', () => {
    const state = rolloutState(
      dep({
        observedGeneration: 2,
        replicas: 4,
        updatedReplicas: 1,
        conditions: [
          { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'too slow' },
        ],
      }),
    );
    expect(state).toEqual({ phase: 'failed', reason: 'ProgressDeadlineExceeded', message: 'too slow' });
  });
});

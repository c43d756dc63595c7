import type { Config } from '../config.js';
import { SitepipeError } from '../errors.js';
import { requireDeploy } from '../kube/manifests-common.js';
import type { ReleaseExpectation } from './checks.js';

/** The pod-template annotation deploy, pin and rollback write (pipeline/kube/roll.ts). */
const COMMIT_ANNOTATION = 'sitepipe.io/commit';

/** The release the live Deployment runs: the commit on its pod template. */
export async function liveRelease(config: Config, env: NodeJS.ProcessEnv): Promise<ReleaseExpectation> {
  const deploy = requireDeploy(config);
  const { namespace, name } = deploy;
  // Loaded on use: the Kubernetes client takes most of a second to import.
  const { connectKube, kubeError } = await import('../clients/kube.js');
  const kube = connectKube(env, deploy.context);
  const dep = await kube.apps.readNamespacedDeployment({ name, namespace }).catch((e: unknown) => {
    throw kubeError(e, `read deployment ${namespace}/${name}`);
  });
  const commit = dep.spec?.template?.metadata?.annotations?.[COMMIT_ANNOTATION];
  if (!commit) {
    throw new SitepipeError(
      'VERIFY_RELEASE_UNKNOWN',
      `deployment ${namespace}/${name} has no ${COMMIT_ANNOTATION} annotation, so the live release is unknown`,
      'roll it with sitepipe (deploy, pin) once, or pass --release COMMIT (or --release any)',
    );
  }
  return { mode: 'expect', release: commit, from: `the live deployment ${namespace}/${name}` };
}

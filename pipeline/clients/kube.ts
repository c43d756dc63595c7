import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  ApiException,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  VersionApi,
} from '@kubernetes/client-node';
import { SitepipeError } from '../errors.js';

export interface Kube {
  config: KubeConfig;
  objects: KubernetesObjectApi;
  apps: AppsV1Api;
  core: CoreV1Api;
  coordination: CoordinationV1Api;
  /** API discovery of groups other than the core one. */
  custom: CustomObjectsApi;
  version: VersionApi;
}

const GET_CREDENTIALS =
  'gcloud container clusters get-credentials CLUSTER writes one for GKE; or set $KUBECONFIG to its path';

/**
 * Fails when there is no kubeconfig at all: the client would otherwise fall back to an
 * http://localhost:8080 cluster and fail with a TLS complaint that says nothing about the cause.
 */
function requireKubeconfig(env: NodeJS.ProcessEnv): void {
  if (env.KUBERNETES_SERVICE_HOST) return; // in a pod: the service account is the config
  const file = env.KUBECONFIG?.split(':')[0] || join(env.HOME || homedir(), '.kube', 'config');
  if (existsSync(file)) return;
  throw new SitepipeError(
    'KUBECONFIG_MISSING',
    `there is no kubeconfig at ${file}${env.KUBECONFIG ? ' (from $KUBECONFIG)' : ''}`,
    GET_CREDENTIALS,
  );
}

/** The user's kubeconfig ($KUBECONFIG or ~/.kube/config), at `context` or its current one. */
export function connectKube(env: NodeJS.ProcessEnv, context?: string): Kube {
  const config = new KubeConfig();
  requireKubeconfig(env);
  try {
    const file = env.KUBECONFIG?.split(':')[0];
    if (file) config.loadFromFile(file);
    else config.loadFromDefault();
    if (context) config.setCurrentContext(context);
  } catch (e) {
    throw new SitepipeError(
      'KUBECONFIG_INVALID',
      `cannot load the kubeconfig: ${(e as Error).message}`,
      'check $KUBECONFIG or ~/.kube/config (gcloud container clusters get-credentials writes it for GKE)',
    );
  }
  if (!config.getCurrentCluster()) {
    throw new SitepipeError(
      'KUBECONFIG_INVALID',
      `no cluster for context "${context ?? config.getCurrentContext()}"`,
      'set deploy.context to a context in your kubeconfig (kubectl config get-contexts)',
    );
  }
  return {
    config,
    objects: KubernetesObjectApi.makeApiClient(config),
    apps: config.makeApiClient(AppsV1Api),
    core: config.makeApiClient(CoreV1Api),
    coordination: config.makeApiClient(CoordinationV1Api),
    custom: config.makeApiClient(CustomObjectsApi),
    version: config.makeApiClient(VersionApi),
  };
}

export function statusOf(e: unknown): number | null {
  return e instanceof ApiException ? e.code : null;
}

export const isNotFound = (e: unknown) => statusOf(e) === 404;
export const isConflict = (e: unknown) => statusOf(e) === 409;

/** Turns a client failure into an error that says what was being done and what to check. */
export function kubeError(e: unknown, doing: string, server?: string): SitepipeError {
  if (e instanceof SitepipeError) return e;
  const status = statusOf(e);
  if (status === null) {
    return new SitepipeError(
      'KUBE_UNREACHABLE',
      `cannot reach the Kubernetes API${server ? ` at ${server}` : ''} while trying to ${doing}: ${(e as Error).message}`,
      'check the cluster is up and your kubeconfig context (kubectl cluster-info)',
    );
  }
  const body = (e as ApiException<unknown>).body;
  const message = typeof body === 'string' ? body : JSON.stringify(body);
  if (status === 401 || status === 403) {
    return new SitepipeError(
      'KUBE_FORBIDDEN',
      `the Kubernetes API refused to let sitepipe ${doing} (HTTP ${status})`,
      'check your credentials and RBAC (kubectl auth can-i)',
      [message.slice(0, 500)],
    );
  }
  return new SitepipeError(
    'KUBE_ERROR',
    `the Kubernetes API answered HTTP ${status} when sitepipe tried to ${doing}`,
    'see the details; the object may be invalid for this cluster',
    [message.slice(0, 500)],
  );
}

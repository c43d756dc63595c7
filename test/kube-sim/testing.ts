/** Helpers for tests that drive the simulator with real clients. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { stringify } from 'yaml';
import type { KubeSim } from './index.js';

export interface KubectlResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface Kubectl {
  (...args: string[]): Promise<KubectlResult>;
  /** Writes YAML documents to a file in the kubectl's temp dir; returns its path. */
  manifest(name: string, docs: unknown[]): Promise<string>;
  /** Removes the temp HOME (kubectl's discovery cache) and manifests. */
  cleanup(): Promise<void>;
}

/**
 * Real kubectl (the gcloud dispatcher on PATH) against the simulator, with a fresh HOME so
 * that no discovery cache or cached /version from another server is reused.
 */
export async function kubectlFor(sim: KubeSim): Promise<Kubectl> {
  const home = await mkdtemp(join(tmpdir(), 'kube-sim-kubectl-'));
  const env = { ...process.env, HOME: home, KUBECONFIG: sim.kubeconfigPath };
  const run = async (...args: string[]): Promise<KubectlResult> => {
    const r = await execa('kubectl', args, { env, reject: false, timeout: 120_000 });
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  };
  return Object.assign(run, {
    async manifest(name: string, docs: unknown[]) {
      const path = join(home, name);
      await writeFile(path, docs.map((d) => stringify(d)).join('---\n'));
      return path;
    },
    cleanup: () => rm(home, { recursive: true, force: true }),
  });
}

export interface WebOptions {
  name?: string;
  namespace?: string;
  image: string;
  replicas?: number;
  progressDeadlineSeconds?: number;
  changeCause?: string;
  /** readinessProbe httpGet path on the named port "http" (8080); none when null. */
  probePath?: string | null;
  periodSeconds?: number;
}

/** A Deployment shaped like sitepipe's: RollingUpdate maxUnavailable 0, a /healthz readiness probe. */
export function webDeployment(o: WebOptions) {
  const name = o.name ?? 'web';
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      ...(o.namespace ? { namespace: o.namespace } : {}),
      labels: { app: name },
      ...(o.changeCause ? { annotations: { 'kubernetes.io/change-cause': o.changeCause } } : {}),
    },
    spec: {
      replicas: o.replicas ?? 3,
      progressDeadlineSeconds: o.progressDeadlineSeconds ?? 15,
      selector: { matchLabels: { app: name } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [
            {
              name: 'site',
              image: o.image,
              ports: [{ name: 'http', containerPort: 8080 }],
              ...(o.probePath === null
                ? {}
                : {
                    readinessProbe: {
                      httpGet: { path: o.probePath ?? '/healthz', port: 'http' },
                      periodSeconds: o.periodSeconds ?? 2,
                    },
                  }),
            },
          ],
        },
      },
    },
  };
}

export function webService(name = 'web', namespace?: string) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, ...(namespace ? { namespace } : {}) },
    spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
  };
}

/** Polls `fn` until it returns something truthy; throws after `timeoutMs`. */
export async function until<T>(
  fn: () => T | Promise<T>,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The images the setup registry serves for tests: present, and absent. */
export const PRESENT_IMAGE = '127.0.0.1:5000/library/nginx:stable';
export const MISSING_IMAGE = '127.0.0.1:5000/library/nginx:kube-sim-no-such-tag';

/** Asserts that a kubectl call succeeded, showing its stderr when it did not. */
export function ok(r: KubectlResult): KubectlResult {
  if (r.exitCode !== 0) throw new Error(`kubectl failed (exit ${r.exitCode}): ${r.stderr}`);
  return r;
}

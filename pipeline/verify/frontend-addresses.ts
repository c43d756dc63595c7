import { isIP } from 'node:net';
import type { Config } from '../config.js';
import type { DeployConfig } from '../kube/config.js';
import { namesFor, requireDeploy } from '../kube/manifests-common.js';
import { type Address, withTimeout } from './addresses.js';

type Json = Record<string, unknown>;
const record = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/**
 * The addresses a frontend object reports: an Ingress's status.loadBalancer.ingress[].ip, a
 * Gateway's status.addresses[].value (IP addresses only; a hostname is not an address).
 */
export function statusAddresses(object: unknown): string[] {
  const status = record(record(object).status);
  const ips =
    record(object).kind === 'Gateway'
      ? list(status.addresses)
          .map(record)
          .filter((a) => a.type === undefined || a.type === 'IPAddress')
          .map((a) => a.value)
      : list(record(status.loadBalancer).ingress).map((i) => record(i).ip);
  return ips.filter((ip): ip is string => typeof ip === 'string' && isIP(ip) !== 0);
}

/** The frontend objects the manifests make, by apiVersion, kind and name. */
export function frontendRefs(deploy: DeployConfig): { apiVersion: string; kind: string; name: string }[] {
  const n = namesFor(deploy);
  return deploy.frontends.mode === 'gateway'
    ? [{ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', name: n.gateway }]
    : (['ipv4', 'ipv6'] as const).map((f) => ({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        name: n.ingress(f),
      }));
}

/** Every address the site's Ingresses or Gateway report in their status; a frontend not yet there adds none. */
export async function frontendAddresses(
  config: Config,
  env: NodeJS.ProcessEnv,
  budgetMs: number,
): Promise<Address[]> {
  const deploy = requireDeploy(config);
  // Loaded on use: the Kubernetes client takes most of a second to import.
  const { connectKube, isNotFound, kubeError } = await import('../clients/kube.js');
  const kube = connectKube(env, deploy.context);
  const found: string[] = [];
  for (const ref of frontendRefs(deploy)) {
    const read = kube.objects
      .read({
        apiVersion: ref.apiVersion,
        kind: ref.kind,
        metadata: { name: ref.name, namespace: deploy.namespace },
      })
      .catch((e: unknown) => {
        if (isNotFound(e)) return null;
        throw kubeError(e, `read ${ref.kind} ${deploy.namespace}/${ref.name}`);
      });
    const object = await withTimeout(read, budgetMs, `reading ${ref.kind} ${deploy.namespace}/${ref.name}`);
    found.push(...statusAddresses(object));
  }
  return [...new Set(found)].map((ip) => ({ ip }));
}

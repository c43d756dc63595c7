/**
 * A kubeconfig for the simulator. The server is plain http:// on loopback; the cluster
 * entry says insecure-skip-tls-verify because @kubernetes/client-node refuses an http://
 * server without it ("HTTP protocol is not allowed when skipTLSVerify is not set or
 * false"); kubectl accepts both forms.
 */
import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';

export const CONTEXT_NAME = 'kube-sim';

export function kubeconfigYaml(server: string, token: string | undefined, namespace = 'default'): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: CONTEXT_NAME, cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: CONTEXT_NAME, user: token ? { token } : {} }],
    contexts: [{ name: CONTEXT_NAME, context: { cluster: CONTEXT_NAME, user: CONTEXT_NAME, namespace } }],
    'current-context': CONTEXT_NAME,
    preferences: {},
  });
}

export async function writeKubeconfig(
  path: string,
  server: string,
  token: string | undefined,
): Promise<void> {
  await writeFile(path, kubeconfigYaml(server, token), { mode: 0o600 });
}

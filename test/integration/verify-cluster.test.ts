import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PatchStrategy } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectKube } from '../../pipeline/clients/kube.js';
import { parseConfig } from '../../pipeline/config.js';
import { buildManifests } from '../../pipeline/kube/manifests.js';
import { ANNOTATION, FIELD_MANAGER } from '../../pipeline/kube/roll.js';
import { type Frontend, freeDualStackPort, startFrontend } from '../helpers/tls-frontend.js';
import { createTestCa } from '../helpers/tls-frontend-ca.js';
import { sitepipeVerify } from '../helpers/tls-frontend-cli.js';
import { type KubeSim, startKubeSim } from '../kube-sim/index.js';
import { until } from '../kube-sim/testing.js';

const HOST = 'www.example.com';
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const IMAGE = `127.0.0.1:5000/website@sha256:${'a'.repeat(64)}`;

describe('verify with the addresses from the Ingress or Gateway status and the live release (Kubernetes simulator)', () => {
  let sim: KubeSim;
  let dir: string;
  let caPath: string;
  let httpsPort: number;
  let httpPort: number;
  const frontends: Frontend[] = [];

  beforeAll(async () => {
    // The static addresses the frontends get, as GKE would give the named global addresses.
    sim = await startKubeSim({ staticIps: { 'website-ipv4': '127.0.0.1', 'website-ipv6': '::1' } });
    dir = await mkdtemp(join(tmpdir(), 'sitepipe-verify-cluster-'));
    const ca = await createTestCa(join(dir, 'ca'));
    caPath = ca.certPath;
    const certificate = await ca.issue({ names: [HOST] });
    httpsPort = await freeDualStackPort();
    do httpPort = await freeDualStackPort();
    while (httpPort === httpsPort);
    for (const ips of [['127.0.0.1'], ['::1']]) {
      frontends.push(
        await startFrontend({ ips, httpsPort, httpPort, certificate, release: COMMIT.slice(0, 12) }),
      );
    }
  });
  afterAll(async () => {
    await Promise.all(frontends.map((f) => f.stop()));
    await sim?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const configYaml = (namespace: string, mode: string) =>
    [
      'hugo: { version: 0.111.3 }',
      'image: { repository: 127.0.0.1:5000/website }',
      'deploy:',
      `  namespace: ${namespace}`,
      `  hosts: [${HOST}]`,
      `  frontends: { mode: ${mode} }`,
      'verify:',
      '  addressSource: frontends',
      `  httpsPort: ${httpsPort}`,
      `  httpPort: ${httpPort}`,
      `  caFile: ${caPath}`,
      '',
    ].join('\n');

  /** The site's manifests applied as deploy applies them, the Deployment marked with `commit`. */
  async function deploy(namespace: string, mode: string, commit: string): Promise<string> {
    const file = join(dir, `${namespace}.yaml`);
    await writeFile(file, configYaml(namespace, mode));
    const kube = connectKube({ KUBECONFIG: sim.kubeconfigPath });
    for (const o of buildManifests(parseConfig(configYaml(namespace, mode), file), { image: IMAGE })) {
      if (o.kind === 'Deployment') {
        const template = (o.spec as { template: { metadata: { annotations?: Record<string, string> } } })
          .template;
        template.metadata.annotations = { [ANNOTATION.commit]: commit };
      }
      await kube.objects.patch(o, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
    }
    // GKE fills in the status once the load balancer exists; the simulator at once.
    const kind =
      mode === 'gateway'
        ? ['gateway.networking.k8s.io/v1', 'Gateway', 'website']
        : ['networking.k8s.io/v1', 'Ingress', 'website-ipv6'];
    await until(
      () =>
        (sim.get(kind[0] as string, kind[1] as string, namespace, kind[2] as string) as { status?: object })
          ?.status,
      10_000,
    );
    return file;
  }

  const verify = (config: string, ...args: string[]) =>
    sitepipeVerify(['--config', config, ...args], { env: { KUBECONFIG: sim.kubeconfigPath } });

  it.each(['two-ingress', 'gateway'])(
    '%s: checks both addresses the frontends report, against the live commit',
    async (mode) => {
      const config = await deploy(mode === 'gateway' ? 'gw' : 'two', mode, COMMIT);
      const { code, text } = await verify(config);
      expect(text).toMatch(new RegExp(`127\\.0\\.0\\.1:${httpsPort}\\s+IPv4\\s+.*0123456789ab\\s+ok\\s+ok`));
      expect(text).toMatch(new RegExp(`\\[::1\\]:${httpsPort}\\s+IPv6\\s+.*0123456789ab\\s+ok\\s+ok`));
      expect(code).toBe(0);
    },
  );

  it('fails frontends that still serve the release before the live one', async () => {
    const config = await deploy('newer', 'two-ingress', 'fedcba9876543210fedcba9876543210fedcba98');
    const { code, text } = await verify(config);
    expect(code).toBe(1);
    expect(text).toContain(
      `FAIL ${HOST} 127.0.0.1:${httpsPort}: serves release 0123456789ab, not fedcba9876543210fedcba9876543210fedcba98 (the live deployment newer/website)`,
    );
  });
});

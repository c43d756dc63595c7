import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../pipeline/config.js';
import {
  buildManifests,
  type KubeObject,
  manifestWarnings,
  validateManifests,
} from '../../pipeline/kube/manifests.js';
import { VERIFY_CONFIG_ENV } from '../../pipeline/kube/manifests-verify.js';
import { edgePlan } from '../../pipeline/verify/plan.js';
import { problem } from '../helpers/expect-code.js';

const IMAGE = `127.0.0.1:5000/website@sha256:${'a'.repeat(64)}`;
const VERIFY_IMAGE = 'gcr.io/my-project/sitepipe:0.1.0';

// biome-ignore lint/suspicious/noExplicitAny: test access to nested manifest fields
type Json = any;

function config(lines: string[] = [], deploy: string[] = []) {
  return parseConfig(
    [
      'hugo: { version: 0.111.3 }',
      'image: { repository: 127.0.0.1:5000/website }',
      'deploy:',
      '  hosts: [www.example.com, example.com]',
      ...deploy.map((l) => `  ${l}`),
      'verify:',
      `  cronJob: { enabled: true, image: ${VERIFY_IMAGE} }`,
      ...lines.map((l) => `  ${l}`),
      '',
    ].join('\n'),
    'test.yaml',
  );
}

const ofKind = (objects: KubeObject[], kind: string) => objects.filter((o) => o.kind === kind) as Json[];
const podSpec = (objects: KubeObject[]) => ofKind(objects, 'CronJob')[0].spec.jobTemplate.spec.template.spec;

describe('the verify CronJob (verify.cronJob)', () => {
  it('is not there unless enabled', () => {
    const plain = parseConfig(
      'hugo: { version: 0.111.3 }\nimage: { repository: 127.0.0.1:5000/website }\ndeploy: { hosts: [www.example.com] }\n',
      'test.yaml',
    );
    expect(buildManifests(plain, { image: IMAGE }).map((o) => o.kind)).not.toContain('CronJob');
  });

  it('comes last, with what it reads the cluster with, and passes validation', () => {
    const objects = buildManifests(config(), { image: IMAGE });
    expect(objects.slice(-4).map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'ServiceAccount/website-verify',
      'Role/website-verify',
      'RoleBinding/website-verify',
      'CronJob/website-verify',
    ]);
    validateManifests(objects);
    for (const mode of ['gateway', 'two-ingress']) {
      validateManifests(
        buildManifests(config(['addressSource: frontends'], [`frontends: { mode: ${mode} }`]), {
          image: IMAGE,
        }),
      );
    }
  });

  it('runs sitepipe verify hourly against the live release, and a failed check fails its Job', () => {
    const objects = buildManifests(config(), { image: IMAGE });
    const cron = ofKind(objects, 'CronJob')[0];
    expect(cron.spec.schedule).toBe('17 * * * *');
    expect(cron.spec.concurrencyPolicy).toBe('Forbid');
    expect(cron.spec.jobTemplate.spec.backoffLimit).toBe(0);
    const [container] = podSpec(objects).containers;
    expect(container.image).toBe(VERIFY_IMAGE);
    expect(container.args).toEqual([
      'verify',
      '--config-env',
      VERIFY_CONFIG_ENV,
      '--release',
      'live',
      '--wait',
      '300s',
    ]);
    expect(podSpec(objects).restartPolicy).toBe('Never');
  });

  it('hands verify a config that parses, with the same plan as on this machine but for the CA file', async () => {
    const original = config(["addresses: ['203.0.113.7', '2001:db8::7']", 'minDays: 21', 'httpsPort: 8443']);
    const objects = buildManifests(original, { image: IMAGE });
    const env = podSpec(objects).containers[0].env.find((e: Json) => e.name === VERIFY_CONFIG_ENV);
    const inCluster = parseConfig(env.value, `$${VERIFY_CONFIG_ENV}`);
    expect(inCluster.verify.cronJob.enabled).toBe(false);
    const release = { mode: 'same' } as const;
    const [a, b] = await Promise.all([
      edgePlan(original, '/x/sitepipe.yaml', release, {}),
      edgePlan(inCluster, '/x/sitepipe.yaml', release, {}),
    ]);
    const { addressesOf: _a, ...planA } = a;
    const { addressesOf: _b, ...planB } = b;
    expect(planB).toEqual(planA);
    expect(await b.addressesOf('www.example.com', 1000)).toEqual(
      await a.addressesOf('www.example.com', 1000),
    );
  });

  it('gives its pods labels of their own, so the Service never sends visitors to them', () => {
    const objects = buildManifests(config(), { image: IMAGE });
    const labels = ofKind(objects, 'CronJob')[0].spec.jobTemplate.spec.template.metadata.labels;
    const selector = ofKind(objects, 'Service')[0].spec.selector;
    expect(Object.entries(selector).every(([k, v]) => labels[k] === v)).toBe(false);
    // …and validation says so when they do.
    Object.assign(labels, selector);
    expect(problem(() => validateManifests(objects)).details.join('\n')).toMatch(
      /CronJob\/website-verify: its pods match the selector of Service\/website/,
    );
  });

  it('is granted only what it reads: the Deployment, and the frontends when their status gives the addresses', () => {
    const rules = (c: ReturnType<typeof config>) =>
      ofKind(buildManifests(c, { image: IMAGE }), 'Role')[0]?.rules;
    expect(rules(config())).toEqual([
      { apiGroups: ['apps'], resources: ['deployments'], resourceNames: ['website'], verbs: ['get'] },
    ]);
    expect(rules(config(['addressSource: frontends']))?.[1]).toEqual({
      apiGroups: ['networking.k8s.io'],
      resources: ['ingresses'],
      resourceNames: ['website-ipv4', 'website-ipv6'],
      verbs: ['get'],
    });
    // Without the release header and with DNS, nothing to read: no RBAC objects, no token.
    const bare = parseConfig(
      [
        'hugo: { version: 0.111.3 }',
        'image: { repository: 127.0.0.1:5000/website, releaseHeader: false }',
        'deploy: { hosts: [www.example.com] }',
        `verify: { cronJob: { enabled: true, image: ${VERIFY_IMAGE} } }`,
      ].join('\n'),
      'test.yaml',
    );
    const objects = buildManifests(bare, { image: IMAGE });
    expect(objects.map((o) => o.kind)).not.toContain('Role');
    expect(podSpec(objects).automountServiceAccountToken).toBe(false);
    expect(podSpec(objects).containers[0].args).toContain('off');
    validateManifests(objects);
  });

  it('needs an image, and warns that the CA file stays behind', () => {
    const err = problem(() =>
      parseConfig(
        'hugo: { version: 0.111.3 }\nimage: { repository: 127.0.0.1:5000/website }\nverify: { cronJob: { enabled: true } }\n',
        'test.yaml',
      ),
    );
    expect(err.details.join('\n')).toMatch(
      /^verify\.cronJob\.image: is required when the CronJob is enabled/m,
    );
    expect(manifestWarnings(config(['caFile: ca.pem']), { image: IMAGE }).join('\n')).toMatch(
      /verify\.caFile \(ca\.pem\) is a file on this machine/,
    );
  });

  it('rejects a CronJob name too long for its Jobs', () => {
    const objects = buildManifests(config(), { image: IMAGE });
    ofKind(objects, 'CronJob')[0].metadata.name = 'x'.repeat(53);
    expect(problem(() => validateManifests(objects)).details.join('\n')).toMatch(
      /CronJob\/x+: metadata\.name: a CronJob name must be at most 52 characters/,
    );
  });
});

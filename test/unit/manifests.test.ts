import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Config, parseConfig } from '../../pipeline/config.js';
import {
  buildManifests,
  gcloudCommands,
  type KubeObject,
  manifestFileNames,
  manifestsToYaml,
  manifestWarnings,
  parseManifestsYaml,
  SHIM_ANNOTATIONS,
  supportFiles,
  validateManifests,
  writeManifests,
} from '../../pipeline/kube/manifests.js';
import { problem } from '../helpers/expect-code.js';
import { tempDir } from '../helpers/temp.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const IMAGE = `gcr.io/p/site@${DIGEST}`;

function config(deploy: Record<string, unknown> | null, image: Record<string, unknown> = {}): Config {
  return parseConfig(
    JSON.stringify({
      hugo: { version: '0.111.3' },
      image: { repository: 'gcr.io/p/site', ...image },
      ...(deploy ? { deploy: { hosts: ['www.example.com', 'example.com'], ...deploy } } : {}),
    }),
    'test.yaml',
  );
}

const find = (objects: KubeObject[], kind: string) => objects.filter((o) => o.kind === kind);
function one(objects: KubeObject[], kind: string): KubeObject {
  const found = find(objects, kind);
  expect(found, kind).toHaveLength(1);
  return found[0] as KubeObject;
}

// Plain JSON walks, typed loosely on purpose: this is what the API server receives.
// biome-ignore lint/suspicious/noExplicitAny: test access into plain JSON objects
type Json = any;
const spec = (o: KubeObject): Json => o.spec;

const MODES = ['two-ingress', 'gateway'] as const;
const PROVIDERS = ['cert-manager', 'managed-certificate'] as const;
const ACME = ['staging', 'production'] as const;

describe('buildManifests: the workload', () => {
  const objects = buildManifests(config({}), { image: IMAGE });
  const deployment = one(objects, 'Deployment');
  const pod: Json = spec(deployment).template.spec;
  const container: Json = pod.containers[0];

  it('runs 3 replicas with a rolling update that never drops below them', () => {
    expect(spec(deployment).replicas).toBe(3);
    expect(spec(deployment).strategy).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: 0, maxSurge: 1 },
    });
    expect(spec(deployment).progressDeadlineSeconds).toBe(300);
    expect(spec(deployment).revisionHistoryLimit).toBe(10);
  });

  it('probes nginx /healthz on the image port, which the Service targets', () => {
    expect(container.image).toBe(IMAGE);
    expect(container.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    for (const probe of [container.readinessProbe, container.livenessProbe]) {
      expect(probe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    }
    const svc = one(objects, 'Service');
    expect(spec(svc).ports).toEqual([{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }]);
    expect(spec(svc).selector).toEqual(spec(deployment).selector.matchLabels);
  });

  it('follows config: replicas, port, deadline, resources', () => {
    const c = config(
      {
        replicas: 5,
        progressDeadlineSeconds: 120,
        revisionHistoryLimit: 3,
        resources: { cpu: '100m', cpuLimit: '1', memory: '32Mi' },
      },
      { port: 9090 },
    );
    const d = one(buildManifests(c, { image: IMAGE }), 'Deployment');
    const ctr: Json = spec(d).template.spec.containers[0];
    expect(spec(d).replicas).toBe(5);
    expect(spec(d).progressDeadlineSeconds).toBe(120);
    expect(spec(d).revisionHistoryLimit).toBe(3);
    expect(ctr.ports[0].containerPort).toBe(9090);
    expect(ctr.resources).toEqual({
      requests: { cpu: '100m', memory: '32Mi' },
      limits: { cpu: '1', memory: '128Mi' },
    });
  });

  it('runs nginx as non-root on a read-only root with emptyDirs where it writes', () => {
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 101,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    const mounts = container.volumeMounts.map((m: Json) => m.mountPath);
    expect(mounts).toEqual(['/var/cache/nginx', '/var/lib/nginx', '/run', '/tmp']);
    const volumes = new Map(pod.volumes.map((v: Json) => [v.name, v]));
    for (const m of container.volumeMounts)
      expect(volumes.get(m.name)).toEqual({ name: m.name, emptyDir: {} });
    expect(pod.automountServiceAccountToken).toBe(false);
  });

  it('as root: drops every capability but the few the nginx master needs', () => {
    const c = config({ security: { runAsNonRoot: false } });
    const d = one(buildManifests(c, { image: IMAGE }), 'Deployment');
    const p: Json = spec(d).template.spec;
    expect(p.securityContext).toEqual({ seccompProfile: { type: 'RuntimeDefault' } });
    expect(p.containers[0].securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'], add: ['CHOWN', 'SETGID', 'SETUID'] },
    });
    validateManifests(buildManifests(c, { image: IMAGE }));
  });

  it('uses the <repository>:<tag> placeholder without an image, and says so', () => {
    const c = config({});
    const d = one(buildManifests(c), 'Deployment');
    expect(spec(d).template.spec.containers[0].image).toBe('gcr.io/p/site:<tag>');
    expect(manifestWarnings(c).join('\n')).toMatch(/placeholder gcr\.io\/p\/site:<tag>.*--image/);
    expect(problem(() => buildManifests(c, { image: 'Not An Image' })).code).toBe('IMAGE_NAME_INVALID');
  });

  it('lists objects in apply order, Namespace first', () => {
    expect(objects.map((o) => o.kind)).toEqual([
      'Namespace',
      'ClusterIssuer',
      'ClusterIssuer',
      'Certificate',
      'Deployment',
      'PodDisruptionBudget',
      'Service',
      'BackendConfig',
      'FrontendConfig',
      'Ingress',
      'Ingress',
    ]);
    const gw = buildManifests(config({ frontends: { mode: 'gateway' } }), { image: IMAGE });
    expect(gw.map((o) => o.kind)).toEqual([
      'Namespace',
      'ClusterIssuer',
      'ClusterIssuer',
      'Certificate',
      'Deployment',
      'PodDisruptionBudget',
      'Service',
      'HealthCheckPolicy',
      'Gateway',
      'HTTPRoute',
      'HTTPRoute',
    ]);
  });

  it('says DEPLOY_CONFIG_MISSING with a minimal deploy block when there is no deploy section', () => {
    const err = problem(() => buildManifests(config(null)));
    expect(err.code).toBe('DEPLOY_CONFIG_MISSING');
    expect(err.hint).toMatch(/deploy:\n\s+hosts: \[/);
  });
});

describe('validateManifests', () => {
  const variants: [string, Record<string, unknown>][] = [];
  for (const mode of MODES) {
    for (const provider of PROVIDERS) {
      for (const acme of ACME) {
        variants.push([`${mode} ${provider} ${acme}`, { tls: { provider, acme }, frontends: { mode } }]);
      }
    }
    variants.push([
      `${mode} cert-manager dns01`,
      {
        tls: {
          challenge: 'dns01',
          email: 'ops@example.com',
          cloudDNS: { project: 'p', serviceAccountSecret: { name: 'clouddns', key: 'key.json' } },
        },
        frontends: { mode, httpsRedirect: false },
      },
    ]);
  }

  it.each(variants)('accepts every object: %s', (_name, deploy) => {
    const objects = buildManifests(config(deploy), { image: IMAGE });
    expect(() => validateManifests(objects)).not.toThrow();
    // Also without --image: the placeholder is a string the schema accepts.
    expect(() => validateManifests(buildManifests(config(deploy)))).not.toThrow();
  });

  it('rejects a broken object, naming the object and the field', () => {
    const objects = buildManifests(config({}), { image: IMAGE });
    const d = one(objects, 'Deployment') as Json;
    d.spec.replicas = 'three';
    d.spec.template.spec.containers[0].ports[0].containerPort = '8080';
    delete d.spec.selector;
    const err = problem(() => validateManifests(objects));
    expect(err.code).toBe('MANIFEST_INVALID');
    const text = err.details.join('\n');
    expect(text).toMatch(/^Deployment\/website: spec\.replicas: must be integer$/m);
    expect(text).toMatch(/containers\.0\.ports\.0\.containerPort: must be integer/);
    expect(text).toMatch(/Deployment\/website: (\(top level\)|spec): missing required field selector/);
  });

  it('rejects CRD objects against their own schemas', () => {
    const objects = buildManifests(config({ frontends: { mode: 'gateway' } }), { image: IMAGE });
    (one(objects, 'Certificate') as Json).spec.privateKey.algorithm = 'DSA';
    (one(objects, 'Gateway') as Json).spec.listeners[0].port = 'eighty';
    const text = problem(() => validateManifests(objects)).details.join('\n');
    expect(text).toMatch(/^Certificate\/website: spec\.privateKey\.algorithm: must be one of/m);
    expect(text).toMatch(/^Gateway\/website: spec\.listeners\.0\.port: must be/m);
  });

  it('rejects kinds it has no schema for, bad names and wrong scope', () => {
    const objects = buildManifests(config({}), { image: IMAGE });
    objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'website' } });
    (one(objects, 'Service') as Json).metadata.name = '9lives';
    (objects[1] as Json).metadata.namespace = 'website'; // a ClusterIssuer
    const text = problem(() => validateManifests(objects)).details.join('\n');
    expect(text).toMatch(/ConfigMap\/x: no schema for v1\/ConfigMap/);
    expect(text).toMatch(/Service\/9lives: metadata\.name: a Service name must be a DNS label/);
    expect(text).toMatch(/ClusterIssuer\/.*: metadata\.namespace: must be absent/);
  });
});

describe('the certificate arrangement', () => {
  it('two-ingress + cert-manager: one Certificate, one Secret, named by both Ingresses', () => {
    const objects = buildManifests(config({}), { image: IMAGE });
    const cert = one(objects, 'Certificate');
    const ingresses = find(objects, 'Ingress');
    expect(ingresses.map((i) => i.metadata.name)).toEqual(['website-ipv4', 'website-ipv6']);
    const secrets = ingresses.flatMap((i) => spec(i).tls.map((t: Json) => t.secretName));
    expect(new Set(secrets)).toEqual(new Set([spec(cert).secretName]));
    expect(secrets).toHaveLength(2);
    expect(spec(cert).dnsNames).toEqual(['www.example.com', 'example.com']);
    for (const i of ingresses) expect(spec(i).tls[0].hosts).toEqual(spec(cert).dnsNames);
    expect(cert.metadata.annotations?.['cert-manager.io/issue-temporary-certificate']).toBe('true');
    const ips = ingresses.map((i) => i.metadata.annotations?.['kubernetes.io/ingress.global-static-ip-name']);
    expect(ips).toEqual(['website-ipv4', 'website-ipv6']);
  });

  it.each(MODES.flatMap((m) => PROVIDERS.map((p) => [m, p] as const)))(
    'no frontend carries a cert-manager shim annotation (%s, %s)',
    (mode, provider) => {
      const objects = buildManifests(config({ tls: { provider }, frontends: { mode } }), { image: IMAGE });
      for (const f of [...find(objects, 'Ingress'), ...find(objects, 'Gateway')]) {
        const keys = Object.keys(f.metadata.annotations ?? {});
        expect(keys.filter((k) => k.includes('cert-manager'))).toEqual([]);
      }
      expect(find(objects, 'Certificate').length).toBeLessThanOrEqual(1);
    },
  );

  it('refuses a shim annotation or a second Certificate for the same Secret', () => {
    const objects = buildManifests(config({}), { image: IMAGE });
    const v6 = find(objects, 'Ingress')[1] as Json;
    v6.metadata.annotations[SHIM_ANNOTATIONS[1] as string] = 'letsencrypt';
    const copy = structuredClone(one(objects, 'Certificate')) as Json;
    copy.metadata.name = 'website-again';
    objects.splice(4, 0, copy);
    const text = problem(() => validateManifests(objects)).details.join('\n');
    expect(text).toMatch(
      /Ingress\/website-ipv6: annotation cert-manager\.io\/cluster-issuer makes cert-manager/,
    );
    expect(text).toMatch(/Certificate\/website-again: writes the same Secret as Certificate\/website/);
  });

  it('refuses frontends on different certificates (the hand-added frontend failure)', () => {
    const objects = buildManifests(config({}), { image: IMAGE });
    (find(objects, 'Ingress')[1] as Json).spec.tls[0].secretName = 'copied-by-hand';
    const text = problem(() => validateManifests(objects)).details.join('\n');
    expect(text).toMatch(/frontends use different certificates/);
    expect(text).toMatch(/TLS Secret copied-by-hand is written by no Certificate/);
  });

  it('two-ingress + managed-certificate: one ManagedCertificate named by both Ingresses', () => {
    const objects = buildManifests(config({ tls: { provider: 'managed-certificate' } }), { image: IMAGE });
    const mc = one(objects, 'ManagedCertificate');
    expect(find(objects, 'ClusterIssuer')).toEqual([]);
    for (const i of find(objects, 'Ingress')) {
      expect(i.metadata.annotations?.['networking.gke.io/managed-certificates']).toBe(mc.metadata.name);
      expect(spec(i).tls).toBeUndefined();
    }
  });

  it('Gateway: both addresses on one Gateway, one listener certificate, routes attached to it', () => {
    const objects = buildManifests(config({ frontends: { mode: 'gateway' } }), { image: IMAGE });
    const gw = one(objects, 'Gateway');
    expect(spec(gw).gatewayClassName).toBe('gke-l7-global-external-managed');
    expect(spec(gw).addresses).toEqual([
      { type: 'NamedAddress', value: 'website-ipv4' },
      { type: 'NamedAddress', value: 'website-ipv6' },
    ]);
    const https = spec(gw).listeners.find((l: Json) => l.protocol === 'HTTPS');
    expect(https.tls.certificateRefs).toEqual([{ group: '', kind: 'Secret', name: 'website-tls' }]);
    expect(find(objects, 'Ingress')).toEqual([]);
    const [site, redirect] = find(objects, 'HTTPRoute') as Json[];
    expect(site.spec.parentRefs[0]).toMatchObject({ name: 'website', sectionName: 'https' });
    expect(redirect.spec.parentRefs[0]).toMatchObject({ name: 'website', sectionName: 'http' });
    expect(redirect.spec.rules[0].filters[0].requestRedirect).toEqual({ scheme: 'https', statusCode: 301 });
  });

  it('Gateway + managed-certificate: the listener names the Google-managed certificate gcloud creates', () => {
    const c = config({ tls: { provider: 'managed-certificate' }, frontends: { mode: 'gateway' } });
    const gw = one(buildManifests(c, { image: IMAGE }), 'Gateway');
    const https = spec(gw).listeners.find((l: Json) => l.protocol === 'HTTPS');
    expect(https.tls.options).toEqual({ 'networking.gke.io/pre-shared-certs': 'website-cert' });
    expect(gcloudCommands(c).map((x) => x.argv.join(' '))).toContain(
      'gcloud compute ssl-certificates create website-cert --global --domains=www.example.com,example.com',
    );
  });

  it('puts the HTTP-01 solver where the challenge can be reached', () => {
    const issuer = (deploy: Record<string, unknown>) =>
      find(buildManifests(config(deploy), { image: IMAGE }), 'ClusterIssuer') as Json[];
    const twoIngress = issuer({});
    expect(twoIngress.map((i) => i.spec.acme.server)).toEqual([
      'https://acme-staging-v02.api.letsencrypt.org/directory',
      'https://acme-v02.api.letsencrypt.org/directory',
    ]);
    expect(twoIngress[0].spec.acme.solvers[0].http01).toEqual({ ingress: { name: 'website-ipv6' } });
    expect(issuer({ tls: { http01Frontend: 'ipv4' } })[0].spec.acme.solvers[0].http01.ingress.name).toBe(
      'website-ipv4',
    );
    const gw = issuer({ frontends: { mode: 'gateway' } });
    expect(gw[0].spec.acme.solvers[0].http01.gatewayHTTPRoute.parentRefs[0]).toMatchObject({
      kind: 'Gateway',
      name: 'website',
      sectionName: 'http',
    });
    const dns = issuer({ tls: { challenge: 'dns01', cloudDNS: { project: 'my-project' } } });
    expect(dns[0].spec.acme.solvers[0]).toEqual({
      selector: { dnsNames: ['www.example.com', 'example.com'] },
      dns01: { cloudDNS: { project: 'my-project' } },
    });
  });

  it('the Certificate uses the configured Let\u2019s Encrypt environment', () => {
    for (const acme of ACME) {
      const cert = one(buildManifests(config({ tls: { acme } }), { image: IMAGE }), 'Certificate');
      expect(spec(cert).issuerRef).toEqual({
        group: 'cert-manager.io',
        kind: 'ClusterIssuer',
        name: `website-website-letsencrypt-${acme}`,
      });
    }
  });

  it('requires cloudDNS for dns01, in the config', () => {
    const err = problem(() => config({ tls: { challenge: 'dns01' } }));
    expect(err.details.join('\n')).toMatch(/deploy\.tls\.cloudDNS: is required when challenge is dns01/);
  });
});

describe('YAML and files', () => {
  it.each(MODES)('round-trips through YAML (%s)', (mode) => {
    const c = config({ frontends: { mode } });
    const objects = buildManifests(c, { image: IMAGE });
    const text = manifestsToYaml(objects, { comment: ['a comment', 'gcloud compute addresses create x'] });
    expect(text.startsWith('# a comment\n')).toBe(true);
    expect(text).not.toMatch(/[&*]a\d/); // no anchors or aliases
    const back = parseManifestsYaml(text);
    expect(back).toEqual(objects);
    validateManifests(back);
  });

  it('writes one file per object in apply order, plus gcloud.sh and README.md', async () => {
    const dir = await tempDir('sitepipe-manifests-');
    const c = config({});
    const objects = buildManifests(c, { image: IMAGE });
    await writeFile(join(dir, 'notes.yaml'), 'mine\n');
    const written = await writeManifests(dir, objects, supportFiles(c));
    const files = (await readdir(dir)).sort();
    const names = manifestFileNames(objects);
    expect(names[0]).toBe('00-namespace-website.yaml');
    expect(names.at(-1)).toBe('10-ingress-website-ipv6.yaml');
    expect(files).toEqual([...names, 'README.md', 'gcloud.sh', 'notes.yaml'].sort());
    expect(written).toHaveLength(objects.length + 2);
    const back = await Promise.all(names.map((n) => readFile(join(dir, n), 'utf8')));
    expect(back.map((t) => parseManifestsYaml(t)[0])).toEqual(objects);

    const script = await readFile(join(dir, 'gcloud.sh'), 'utf8');
    expect(script).toContain(
      "gcloud compute addresses describe website-ipv4 --global --format 'value(name)' >/dev/null 2>&1 || gcloud compute addresses create website-ipv4 --global --ip-version IPV4",
    );
    expect(script).toContain('gcloud compute addresses create website-ipv6 --global --ip-version IPV6');
    expect((await stat(join(dir, 'gcloud.sh'))).mode & 0o111).not.toBe(0);
    expect(await readFile(join(dir, 'README.md'), 'utf8')).toMatch(/AAAA record/);

    // Switching to the Gateway form removes the Ingress files it wrote, and nothing else.
    const g = config({ frontends: { mode: 'gateway' } });
    await writeManifests(dir, buildManifests(g, { image: IMAGE }), supportFiles(g));
    const after = await readdir(dir);
    expect(after.filter((f) => f.includes('ingress'))).toEqual([]);
    expect(after).toContain('notes.yaml');
    expect(after).toContain('08-gateway-website.yaml');
  });

  it('never writes invalid objects', async () => {
    const dir = await tempDir('sitepipe-manifests-');
    const objects = buildManifests(config({}), { image: IMAGE });
    (one(objects, 'Service') as Json).spec.ports[0].port = -1;
    await expect(writeManifests(dir, objects)).rejects.toMatchObject({
      code: 'MANIFEST_INVALID',
      details: ['Service/website: spec.ports: ports must be 1-65535'],
    });
    expect(await readdir(dir)).toEqual([]);
  });
});

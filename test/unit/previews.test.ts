import { describe, expect, it } from 'vitest';
import { isProductionBranch, previewSlug } from '../../pipeline/branches.js';
import { parseConfig } from '../../pipeline/config.js';
import { buildManifests, type KubeObject, validateManifests } from '../../pipeline/kube/manifests.js';
import { requireDeploy } from '../../pipeline/kube/manifests-common.js';
import { PREVIEW_LABEL, previewManifests, previewNames } from '../../pipeline/kube/manifests-previews.js';
import { type Preview, prunable } from '../../pipeline/kube/previews.js';
import { problem } from '../helpers/expect-code.js';

const RFC1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const IMAGE = `127.0.0.1:5000/website@sha256:${'a'.repeat(64)}`;

function config(deploy: string[]) {
  return parseConfig(
    [
      'hugo: { version: 0.111.3 }',
      'image: { repository: 127.0.0.1:5000/website }',
      'deploy:',
      '  hosts: [www.example.com, example.com]',
      ...deploy.map((l) => `  ${l}`),
    ].join('\n'),
    'sitepipe.yaml',
  );
}
const WITH_PREVIEWS = [
  'tls: { email: ops@example.com, cloudDNS: { project: my-project } }',
  'previews: { domain: previews.example.com }',
];
const find = (objects: KubeObject[], kind: string, name?: string) =>
  objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));

describe('branch slugs', () => {
  it('keeps a branch that already is a DNS label, hashes any other', () => {
    expect(previewSlug('feature-x')).toBe('feature-x');
    expect(previewSlug('feature/x')).toMatch(/^feature-x-[0-9a-f]{6}$/);
    expect(previewSlug('feature/x')).toBe(previewSlug('feature/x'));
  });

  it('gives branches that slug alike different names', () => {
    const names = ['feature/a', 'feature_a', 'Feature-A', 'feature-a', 'feature--a'].map(previewSlug);
    expect(new Set(names).size).toBe(names.length);
  });

  it('is a valid RFC 1035 label of at most 63 characters for any name and alphabet', () => {
    const long = `feature/${'x'.repeat(200)}`;
    for (const branch of ['feature/Ümlaut', long, `${long}y`, '2026-release', '---', '日本語', 'a', 'Z']) {
      const slug = previewSlug(branch);
      expect(slug, branch).toMatch(RFC1035);
      expect(slug.length, branch).toBeLessThanOrEqual(63);
    }
    expect(previewSlug('feature/Ümlaut')).toMatch(/^feature-umlaut-[0-9a-f]{6}$/);
    expect(previewSlug(long)).not.toBe(previewSlug(`${long}y`));
  });
});

describe('production branches', () => {
  it('matches globs as GitHub branch filters do; no branch is never production', () => {
    expect(isProductionBranch(['main', 'master'], 'main')).toBe(true);
    expect(isProductionBranch(['main', 'master'], 'feature/main')).toBe(false);
    expect(isProductionBranch(['release/*'], 'release/2026-12')).toBe(true);
    expect(isProductionBranch(['release/*'], 'release/2026/12')).toBe(false);
    expect(isProductionBranch(['release/**'], 'release/2026/12')).toBe(true);
    expect(isProductionBranch(['main'], null)).toBe(false);
  });

  it('defaults to main and master', () => {
    expect(requireDeploy(config([])).production.branches).toEqual(['main', 'master']);
  });
});

describe('preview config', () => {
  it('refuses previews without a way to a wildcard certificate, with the fix', () => {
    const e = problem(() => config(['previews: { domain: previews.example.com }']));
    expect(JSON.stringify(e)).toContain('DNS-01');
    const managed = problem(() =>
      config(['tls: { provider: managed-certificate }', 'previews: { domain: previews.example.com }']),
    );
    expect(JSON.stringify(managed)).toContain('Google-managed certificates');
  });

  it('refuses a previews domain a production host sits directly under, and the production namespace', () => {
    const under = problem(() => config([WITH_PREVIEWS[0] as string, 'previews: { domain: example.com }']));
    expect(JSON.stringify(under)).toContain('a branch could take its name');
    problem(() =>
      config([WITH_PREVIEWS[0] as string, 'previews: { domain: previews.example.com, namespace: website }']),
    );
  });
});

describe('preview manifests', () => {
  for (const mode of ['gateway', 'two-ingress'] as const) {
    it(`${mode}: valid objects in the previews namespace, named by the slug, with noindex at the frontend`, () => {
      const c = config([...WITH_PREVIEWS, `frontends: { mode: ${mode} }`]);
      const objects = previewManifests(c, 'feature/Ümlaut', IMAGE);
      validateManifests(objects);
      const p = previewNames(requireDeploy(c), 'feature/Ümlaut');
      expect(p.namespace).toBe('website-previews');
      expect(p.url).toBe(`https://${p.slug}.previews.example.com/`);
      for (const o of objects.filter((o) => o.kind !== 'ClusterIssuer')) {
        expect(o.metadata.namespace ?? o.metadata.name, `${o.kind} ${o.metadata.name}`).toBe(
          'website-previews',
        );
        expect(o.metadata.labels?.[PREVIEW_LABEL], `${o.kind} ${o.metadata.name}`).toBe('website');
      }
      const dep = find(objects, 'Deployment', p.slug) as { spec: { replicas: number } } & KubeObject;
      expect(dep.spec.replicas).toBe(1);
      expect(dep.metadata.annotations?.['sitepipe.io/branch']).toBe('feature/Ümlaut');
      expect(find(objects, 'Certificate')?.spec).toMatchObject({ dnsNames: ['*.previews.example.com'] });
      const text = JSON.stringify(objects);
      expect(text).toContain('X-Robots-Tag');
      expect(text).toContain('noindex');
      if (mode === 'gateway') {
        const route = find(objects, 'HTTPRoute', p.slug) as KubeObject;
        expect(route.spec).toMatchObject({
          hostnames: [p.host],
          parentRefs: [{ name: 'website', namespace: 'website', sectionName: 'previews' }],
        });
        expect(find(objects, 'ReferenceGrant')).toBeDefined();
      } else {
        expect((find(objects, 'Ingress', p.slug) as KubeObject).spec).toMatchObject({
          tls: [{ hosts: [p.host], secretName: 'website-previews-tls' }],
        });
      }
      // Nothing of production's is among them.
      expect(objects.some((o) => o.metadata.namespace === 'website')).toBe(false);
    });
  }

  it("production's Gateway gets the previews listener and the issuers a DNS-01 solver for the wildcard", () => {
    const objects = buildManifests(config([...WITH_PREVIEWS, 'frontends: { mode: gateway }']), {
      image: IMAGE,
    });
    validateManifests(objects);
    const gateway = find(objects, 'Gateway') as KubeObject & { spec: { listeners: { name: string }[] } };
    expect(gateway.spec.listeners.find((l) => l.name === 'previews')).toMatchObject({
      hostname: '*.previews.example.com',
      tls: { certificateRefs: [{ name: 'website-previews-tls', namespace: 'website-previews' }] },
      allowedRoutes: { namespaces: { from: 'Selector' } },
    });
    const issuer = find(objects, 'ClusterIssuer') as KubeObject & { spec: { acme: { solvers: unknown[] } } };
    expect(issuer.spec.acme.solvers).toContainEqual(
      expect.objectContaining({ selector: { dnsNames: ['*.previews.example.com'] } }),
    );
    // The same issuers as a preview applies, so the two never fight over them.
    const previewIssuer = find(
      previewManifests(config([...WITH_PREVIEWS, 'frontends: { mode: gateway }']), 'x', IMAGE),
      'ClusterIssuer',
    );
    expect(previewIssuer).toEqual(issuer);
  });
});

describe('prune', () => {
  const preview = (branch: string, deployedAt: string): Preview => ({
    branch,
    name: previewSlug(branch),
    namespace: 'website-previews',
    url: '',
    commit: null,
    image: null,
    deployedAt,
  });
  it('picks previews whose branch is gone, or older than the limit, and nothing else', () => {
    const now = Date.parse('2026-12-02T00:00:00Z');
    const all = [
      preview('gone', '2026-12-01T00:00:00Z'),
      preview('fresh', '2026-12-01T00:00:00Z'),
      preview('stale', '2026-11-01T00:00:00Z'),
    ];
    const heads = new Set(['main', 'fresh', 'stale']);
    expect(prunable(all, heads, null, now).map((d) => d.preview.branch)).toEqual(['gone']);
    expect(prunable(all, heads, 14 * 86_400_000, now).map((d) => d.preview.branch)).toEqual([
      'gone',
      'stale',
    ]);
  });
});

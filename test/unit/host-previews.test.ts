import { describe, expect, it } from 'vitest';
import { previewSlug } from '../../pipeline/branches.js';
import { parseConfig } from '../../pipeline/config.js';
import { siteConfig } from '../../pipeline/host/caddy.js';
import { requireHostDeploy } from '../../pipeline/host/layout.js';
import { previewDeploy, previewSite } from '../../pipeline/host/preview-site.js';
import { parseListing } from '../../pipeline/host/previews.js';
import { switchScript } from '../../pipeline/host/switch.js';
import { problem } from '../helpers/expect-code.js';

const yaml = (previews: string) =>
  [
    'hugo: { version: 0.111.3 }',
    'image: { repository: 127.0.0.1:5000/website }',
    'deploy:',
    '  target: host',
    '  hosts: [www.example.com]',
    `  previews: ${previews}`,
    '  host: { servers: [{ ssh: deploy@vm1.example.com }], root: /srv/site }',
  ].join('\n');

describe('host previews', () => {
  it('are allowed on the host target without a wildcard certificate; a namespace is refused', () => {
    expect(() => parseConfig(yaml('{ domain: previews.example.com }'), 'sitepipe.yaml')).not.toThrow();
    const err = problem(() => parseConfig(yaml('{ domain: previews.example.com, namespace: p }'), 'x'));
    expect([err.message, ...err.details].join('\n')).toContain('namespace is for the Kubernetes target');
  });

  it('each preview has its own tree, site file and domain beside production', () => {
    const hd = requireHostDeploy(parseConfig(yaml('{ domain: previews.example.com }'), 'x'));
    const site = previewSite(hd, 'feature/x');
    const p = previewDeploy(hd, site);
    expect(site.url).toBe(`https://${previewSlug('feature/x')}.previews.example.com/`);
    expect(p.deploy.hosts).toEqual([`${site.slug}.previews.example.com`]);
    expect(p.servers[0]?.layout).toEqual({
      root: `/srv/site/previews/${site.slug}`,
      siteFile: `/etc/caddy/sitepipe/website.previews/${site.slug}.caddy`,
      configFile: '/etc/caddy/Caddyfile',
      adminAddress: 'localhost:2019',
      imports: '/etc/caddy/sitepipe/website.previews/*.caddy',
    });
    // The switch adds the glob import before it switches anything, and reloads when it did.
    const script = switchScript(p.servers[0]?.layout as never, {
      tag: 'a'.repeat(12),
      meta: null,
      siteConfig: '',
      history: [],
      prune: [],
    });
    expect(script.indexOf('import /etc/caddy/sitepipe/website.previews/*.caddy')).toBeLessThan(
      script.indexOf('mv -T .current.new current'),
    );
  });

  it('a preview site block says noindex on every response, errors included', () => {
    const block = siteConfig({
      domains: ['x.previews.example.com'],
      root: '/srv/site/previews/x',
      releaseHeader: true,
      basePath: '/',
      acme: { ca: 'production' },
      noindex: true,
    });
    expect(block.match(/header X-Robots-Tag noindex/g)).toHaveLength(2);
    expect(
      siteConfig({
        ...{ domains: ['a.b'], root: '/r', releaseHeader: true, basePath: '/', acme: { ca: 'production' } },
      }),
    ).not.toContain('X-Robots-Tag');
  });

  it('lists a preview by its history, and one without history by its slug', () => {
    const hd = requireHostDeploy(parseConfig(yaml('{ domain: previews.example.com }'), 'x'));
    const [server] = hd.servers;
    const history = JSON.stringify([
      {
        branch: 'feature/x',
        commit: 'c'.repeat(40),
        at: '2026-01-02T00:00:00.000Z',
        image: '/r/releases/cc',
      },
    ]);
    const text = `SITEPIPE-PREVIEW feature-x-abcdef cc\n${history}\nSITEPIPE-PREVIEW half\n\nSITEPIPE-PREVIEW feature-x-abcdef\nSITEPIPE-PREVIEW ../etc\n`;
    const listed = parseListing(hd, server as never, text);
    expect(listed.map((p) => [p.branch, p.name, p.commit, p.deployedAt])).toEqual([
      ['feature/x', 'feature-x-abcdef', 'c'.repeat(40), '2026-01-02T00:00:00.000Z'],
      ['half', 'half', null, null],
    ]);
    expect(listed[0]?.url).toBe('https://feature-x-abcdef.previews.example.com/');
  });
});

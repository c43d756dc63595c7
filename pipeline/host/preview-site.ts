import { previewSlug } from '../branches.js';
import { SitepipeError } from '../errors.js';
import type { HostDeploy, HostLayout, PreviewSite } from './layout.js';

/**
 * Releases a preview keeps besides its live one: the one before, so that a page served just
 * before a switch still gets its own assets (sticky assets). Nobody pins a preview.
 */
export const PREVIEW_KEEP = 1;

/** Every preview's tree on a server: <root>/previews/<slug>/, beside production's, never inside releases/. */
export function previewsDir(layout: HostLayout): string {
  return `${layout.root}/previews`;
}

/**
 * Where the previews' site files go: one file per preview, in a directory of their own next to
 * the production site file (website.caddy -> website.previews/<slug>.caddy), so that one glob
 * import loads them all and production's file is never rewritten for a preview.
 */
export function previewSitesDir(layout: HostLayout): string {
  return `${layout.siteFile.replace(/\.caddy$/, '')}.previews`;
}

/** The glob the main Caddyfile imports for the previews (host init adds it, as it adds siteFile). */
export function previewImport(layout: HostLayout): string {
  return `${previewSitesDir(layout)}/*.caddy`;
}

/** A preview's own layout: its root, its site file, the production Caddy's main file and admin endpoint. */
export function previewLayout(layout: HostLayout, slug: string): HostLayout {
  return {
    root: `${previewsDir(layout)}/${slug}`,
    siteFile: `${previewSitesDir(layout)}/${slug}.caddy`,
    configFile: layout.configFile,
    adminAddress: layout.adminAddress,
    imports: previewImport(layout),
  };
}

function requirePreviewsDomain(hd: HostDeploy): string {
  const domain = hd.deploy.previews?.domain;
  if (domain) return domain;
  throw new SitepipeError(
    'PREVIEWS_OFF',
    'the config has no deploy.previews section, so there are no previews',
    'add deploy.previews: { domain: previews.example.com } (docs/host.md, "Previews")',
  );
}

/** A preview's URL: its subdomain, with Caddy's HTTPS port when that is not 443 (as the redirects name it). */
export function previewUrl(hd: HostDeploy, slug: string): string {
  const port = hd.host.caddy.httpsPort === 443 ? '' : `:${hd.host.caddy.httpsPort}`;
  return `https://${slug}.${requirePreviewsDomain(hd)}${port}/`;
}

export function previewSite(hd: HostDeploy, branch: string): PreviewSite {
  const slug = previewSlug(branch);
  return { branch, slug, url: previewUrl(hd, slug) };
}

/**
 * The host deploy of a branch's preview: the same servers, each with the preview's layout, its
 * one domain and PREVIEW_KEEP. Publishing it is production's publish (lock, upload, one-rename
 * switch, history, clean-up), on the preview's tree and history only.
 */
export function previewDeploy(hd: HostDeploy, site: PreviewSite): HostDeploy {
  return {
    deploy: { ...hd.deploy, hosts: [`${site.slug}.${requirePreviewsDomain(hd)}`] },
    host: { ...hd.host, keep: PREVIEW_KEEP },
    servers: hd.servers.map((s) => ({ ...s, layout: previewLayout(s.layout, site.slug) })),
    preview: site,
  };
}

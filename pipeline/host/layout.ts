import type { Config } from '../config.js';
import { SitepipeError } from '../errors.js';
import type { DeployConfig, HostConfig } from '../kube/config.js';
import { type Server, serverOf } from './servers.js';

/**
 * Where things live on a server, under the root:
 *   releases/<tag>/      one rendered tree per commit tag (unchanged files hardlinked across releases)
 *   meta/<tag>.json      the release's metadata, written once its tree is whole: a release without it is partial
 *   meta/<tag>.caddy     the Caddy site config that serves it
 *   current              symlink to releases/<tag>, switched with one rename(2)
 *   releases.json        the history, newest first, written through a temp file and a rename
 *   .lock                flock(1)ed by the publish in progress
 */
export interface HostLayout {
  root: string;
  siteFile: string;
  configFile: string;
  adminAddress: string;
  /**
   * What configFile must import for siteFile to be loaded, when that is not siteFile itself (a
   * preview's file, imported by a glob): a switch adds it when it is missing.
   */
  imports?: string;
}

/** The branch a HostDeploy publishes the preview of (pipeline/host/preview-site.ts). */
export interface PreviewSite {
  branch: string;
  slug: string;
  url: string;
}

export interface HostDeploy {
  deploy: DeployConfig;
  host: HostConfig;
  /** The servers, each with its layout (deploy.host's, with the server's own overrides). */
  servers: Server[];
  /** Set when this publishes a branch's preview instead of production: its site says noindex. */
  preview?: PreviewSite;
}

/** The deploy section of a host target, or DEPLOY_CONFIG_MISSING saying what to add. */
export function requireHostDeploy(config: Config): HostDeploy {
  const deploy = config.deploy;
  if (deploy?.target !== 'host' || !deploy.host) {
    throw new SitepipeError(
      'DEPLOY_CONFIG_MISSING',
      'the config has no host target (deploy: { target: host, host: { servers: … } })',
      'add deploy: { target: host, hosts: [www.example.com], host: { servers: [{ ssh: deploy@vm1.example.com }] } }; see docs/host.md',
    );
  }
  const host = deploy.host;
  const servers = host.servers.map((entry) =>
    serverOf(entry, {
      root: entry.root ?? host.root ?? `/srv/sitepipe/${deploy.name}`,
      siteFile: entry.caddy?.siteFile ?? host.caddy.siteFile ?? `/etc/caddy/sitepipe/${deploy.name}.caddy`,
      configFile: entry.caddy?.configFile ?? host.caddy.configFile,
      adminAddress: entry.caddy?.adminAddress ?? host.caddy.adminAddress,
    }),
  );
  // Two entries for one SSH address (two roots on one machine) are told apart by their roots.
  const named = servers.map((s) =>
    servers.filter((o) => o.name === s.name).length > 1 ? { ...s, name: `${s.name} (${s.layout.root})` } : s,
  );
  return { deploy, host, servers: named };
}

/** A release's directory name: the commit tag (12 hex characters, `-dirty` for a dirty build). */
export const RELEASE_NAME = /^[0-9a-f]{7,40}(-dirty)?$/;

import { stringify } from 'yaml';
import type { Config } from '../config.js';

/**
 * The config `sitepipe verify` runs with in the cluster: only what it reads (the hosts, the
 * verify section, the names of the Deployment and frontends), so that the CronJob does not
 * change when the build settings do. caFile stays behind: it names a file on this machine.
 * The result parses with the full schema (hugo and image are required there).
 */
export function inClusterConfig(config: Config): string {
  const { caFile: _caFile, cronJob: _cronJob, enabled: _enabled, ...verify } = config.verify;
  const d = config.deploy;
  return stringify(
    {
      version: 1,
      hugo: { version: config.hugo.version },
      image: { repository: config.image.repository, releaseHeader: config.image.releaseHeader },
      ...(d
        ? {
            deploy: {
              namespace: d.namespace,
              name: d.name,
              hosts: d.hosts,
              frontends: { mode: d.frontends.mode, httpsRedirect: d.frontends.httpsRedirect },
            },
          }
        : {}),
      verify,
    },
    { lineWidth: 0 },
  );
}

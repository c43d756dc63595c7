import type { RunContext } from '../step.js';
import { placeholderConfig, siteConfig } from './caddy.js';
import { waitForCertificates } from './certificates.js';
import type { HostDeploy } from './layout.js';
import { previewImport, previewSitesDir } from './preview-site.js';
import { withServers } from './publish.js';
import { runRemote } from './remote.js';
import { type Server, shq } from './servers.js';

export interface InitResult {
  server: string;
  /** What init changed, one line each; empty when the server was ready. */
  changed: string[];
}

const NOT_ROOT_EXIT = 5;

/**
 * The idempotent preparation of one server: the packages (Caddy from the distribution, rsync,
 * flock), the root, the import of the site file in the main Caddyfile, the site file (the live
 * release's, or a placeholder that gets the certificate), and a graceful reload when anything
 * changed. Under --dry-run it only says what it would change. It prints `changed …` lines.
 */
export function initScript(server: Server, site: string, dryRun: boolean, previews = false): string {
  const { root, siteFile, configFile, adminAddress } = server.layout;
  // With deploy.previews, the main Caddyfile also imports every preview's site file (one glob).
  const imports = [siteFile, ...(previews ? [previewImport(server.layout)] : [])];
  const dirs = [
    root,
    `${root}/releases`,
    `${root}/meta`,
    siteFile.slice(0, siteFile.lastIndexOf('/')) || '/',
  ];
  if (previews) dirs.push(previewSitesDir(server.layout));
  const act = (what: string, command: string) =>
    dryRun ? `echo ${shq(`changed would ${what}`)}` : `${command}\necho ${shq(`changed ${what}`)}`;
  return `set -eu
changed=0
need=""
command -v caddy >/dev/null 2>&1 || need="$need caddy"
command -v rsync >/dev/null 2>&1 || need="$need rsync"
command -v flock >/dev/null 2>&1 || need="$need util-linux"
if [ -n "$need" ]; then
  if [ "$(id -u)" != 0 ] && [ ${dryRun ? 1 : 0} = 0 ]; then echo "missing packages:$need; installing them needs root" >&2; exit ${NOT_ROOT_EXIT}; fi
  ${act('install from the distribution:$need', 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need >/dev/null')}
  changed=1
fi
for d in ${dirs.map(shq).join(' ')}; do
  if [ ! -d "$d" ]; then ${act('create $d', 'mkdir -p "$d"')}; changed=1; fi
done
${imports
  .map(
    (file) => `if ! grep -qxF ${shq(`import ${file}`)} ${shq(configFile)} 2>/dev/null; then
  ${act(`add import ${file} to ${configFile}`, `printf '\\nimport %s\\n' ${shq(file)} >> ${shq(configFile)}`)}
  changed=1
fi
`,
  )
  .join('')}cat > ${shq(`${siteFile}.init`)} <<'SITEPIPE_EOF_7c1f'
${site.replace(/\n?$/, '\n')}SITEPIPE_EOF_7c1f
if cmp -s ${shq(`${siteFile}.init`)} ${shq(siteFile)}; then rm -f ${shq(`${siteFile}.init`)}; else
  ${act(`write ${siteFile}`, `mv -f ${shq(`${siteFile}.init`)} ${shq(siteFile)}`)}
  rm -f ${shq(`${siteFile}.init`)}
  changed=1
fi
if [ "$changed" = 1 ]; then
  ${act(`reload Caddy (${adminAddress})`, `caddy reload --config ${shq(configFile)} --adapter caddyfile --address ${shq(adminAddress)} >/dev/null`)}
fi
`;
}

/** `sitepipe host init` on every server, under the publish lock (it may rewrite the site file). */
export async function initHosts(ctx: RunContext, hd: HostDeploy): Promise<InitResult[]> {
  const results = await withServers(
    ctx,
    hd,
    (locked) =>
      Promise.all(
        locked.map(async ({ server, lock }) => {
          const live = lock.state.live;
          const common = {
            domains: hd.deploy.hosts,
            acme: hd.host.acme,
            bind: hd.host.caddy.bind,
            stickyAssets: hd.host.stickyAssets,
            httpsPort: hd.host.caddy.httpsPort,
          };
          const site =
            live && lock.state.complete.includes(live)
              ? siteConfig({
                  ...common,
                  root: server.layout.root,
                  releaseHeader: ctx.config.image.releaseHeader,
                  basePath: lock.state.basePaths[live] ?? '/',
                })
              : placeholderConfig(common);
          return initServer(ctx, server, site, hd.deploy.previews !== undefined);
        }),
      ),
    { create: false },
  );
  if (!ctx.dryRun) await waitForCertificates(ctx, hd);
  return results;
}

async function initServer(
  ctx: RunContext,
  server: Server,
  site: string,
  previews: boolean,
): Promise<InitResult> {
  const result = await runRemote(server, initScript(server, site, ctx.dryRun, previews), {
    doing: `prepare ${server.layout.root} and Caddy`,
    signal: ctx.signal,
  });
  const changed = result.stdout
    .split('\n')
    .filter((l) => l.startsWith('changed '))
    .map((l) => l.slice('changed '.length));
  return { server: server.name, changed };
}

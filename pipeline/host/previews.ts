import { pickPreview } from '../branches.js';
import type { DeployInputs } from '../deploy-target.js';
import { SitepipeError } from '../errors.js';
import type { Preview } from '../kube/previews.js';
import type { DeployResult } from '../records.js';
import type { RunContext } from '../step.js';
import { deployRelease } from './deploy-release.js';
import { parseHistory } from './history.js';
import { type HostDeploy, type PreviewSite, requireHostDeploy } from './layout.js';
import { previewDeploy, previewSite, previewSitesDir, previewsDir, previewUrl } from './preview-site.js';
import { withServers } from './publish.js';
import { runRemote } from './remote.js';
import { type Server, shq } from './servers.js';

/** A slug as sitepipe makes them (pipeline/branches.ts): anything else under previews/ is not a preview. */
const SLUG = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** Publishes the branch's preview: production's publish, on the preview's own tree, site file and history. */
export async function deployPreview(ctx: RunContext, inputs: DeployInputs): Promise<DeployResult> {
  const branch = inputs.source.branch;
  if (!branch) throw new Error('deployPreview needs a branch'); // the deploy step only calls it with one
  const hd = requireHostDeploy(ctx.config);
  const site = previewSite(hd, branch);
  const result = await deployRelease(ctx, previewDeploy(hd, site), inputs);
  ctx.log.info(`preview of ${branch}: ${site.url}${ctx.dryRun ? ' (after a real run)' : ''}`);
  const [first] = hd.servers;
  return {
    ...result,
    preview: {
      branch,
      name: site.slug,
      namespace: first ? previewsDir(first.layout) : '',
      url: site.url,
    },
  };
}

const MARK = 'SITEPIPE-PREVIEW';

/**
 * Lists a server's previews, read without their locks: each preview dir's live release and
 * history (its own releases.json), and the site files of previews whose tree is gone.
 */
export function listScript(server: Server): string {
  const dir = shq(previewsDir(server.layout));
  const sites = shq(previewSitesDir(server.layout));
  return `for d in ${dir}/*/; do
  [ -d "$d" ] || continue
  s=$(basename "$d")
  printf '${MARK} %s %s\\n' "$s" "$(readlink "$d/current" 2>/dev/null | sed 's|^releases/||')"
  cat "$d/releases.json" 2>/dev/null
  echo
done
for f in ${sites}/*.caddy; do [ -f "$f" ] && printf '${MARK} %s\\n' "$(basename "$f" .caddy)"; done
exit 0
`;
}

/** The previews one server has, from listScript's output. */
export function parseListing(hd: HostDeploy, server: Server, text: string): Preview[] {
  const found = new Map<string, Preview>();
  for (const chunk of text.split(`${MARK} `).slice(1)) {
    const newline = chunk.indexOf('\n');
    const [slug = ''] = chunk.slice(0, newline < 0 ? undefined : newline).split(' ');
    if (!SLUG.test(slug)) continue;
    const history = parseHistory(newline < 0 ? '' : chunk.slice(newline + 1));
    const last = history[0];
    if (found.has(slug) && !last) continue; // its site file, listed after its tree
    found.set(slug, {
      // The slug is what a preview without history (a first upload that never switched) is known by.
      branch: last?.branch ?? slug,
      name: slug,
      namespace: previewsDir(server.layout),
      url: previewUrl(hd, slug),
      commit: last?.commit ?? null,
      // The host history names each release by its directory, as production's does.
      image: last?.image ?? null,
      deployedAt: last?.at ?? null,
    });
  }
  return [...found.values()];
}

/** The site's previews on every server (one entry per preview, the latest deploy's), newest first. */
export async function listPreviews(ctx: RunContext): Promise<Preview[]> {
  const hd = requireHostDeploy(ctx.config);
  const perServer = await Promise.all(
    hd.servers.map(async (server) => {
      const r = await runRemote(server, listScript(server), {
        doing: 'list the previews',
        signal: ctx.signal,
      });
      return parseListing(hd, server, r.stdout);
    }),
  );
  const bySlug = new Map<string, Preview>();
  for (const p of perServer.flat()) {
    const seen = bySlug.get(p.name);
    if (!seen || (p.deployedAt ?? '') > (seen.deployedAt ?? '')) bySlug.set(p.name, p);
  }
  return [...bySlug.values()].sort((a, b) => (b.deployedAt ?? '').localeCompare(a.deployedAt ?? ''));
}

const RELOAD_FAILED_EXIT = 4;

/**
 * Removes one preview from a server: first its site file, with a graceful reload so Caddy stops
 * serving the name (a reload Caddy refuses puts the file back), then its whole tree, history
 * and lock file included. A deploy of the branch waiting for the lock then fails on the missing
 * tree instead of bringing back the preview of a branch just deleted; a rerun starts afresh.
 */
export function deleteScript(server: Server): string {
  const { root, siteFile, configFile, adminAddress } = server.layout;
  const site = shq(siteFile);
  const reload = `caddy reload --config ${shq(configFile)} --adapter caddyfile --address ${shq(adminAddress)}`;
  return `set -eu
trap '' HUP INT TERM
if [ -f ${site} ]; then
  mv -f ${site} ${shq(`${siteFile}.deleted`)}
  log=$(mktemp)
  if ! ${reload} >"$log" 2>&1; then
    mv -f ${shq(`${siteFile}.deleted`)} ${site}
    ${reload} >/dev/null 2>&1 || true
    cat "$log" >&2
    rm -f "$log"
    exit ${RELOAD_FAILED_EXIT}
  fi
  rm -f "$log" ${shq(`${siteFile}.deleted`)}
  echo removed-site
fi
if [ -d ${shq(root)} ]; then rm -rf ${shq(root)}; echo removed-tree; fi
`;
}

/**
 * Removes a preview from every server: its tree, its history and its Caddy site block. Holds the
 * preview's publish lock on each server meanwhile, so it never interleaves with a deploy of the
 * branch. Production's tree, site file and history are not touched.
 */
export async function deletePreview(ctx: RunContext, preview: Preview): Promise<string[]> {
  const hd = requireHostDeploy(ctx.config);
  const site: PreviewSite = { branch: preview.branch, slug: preview.name, url: preview.url };
  const phd = previewDeploy(hd, site);
  if (ctx.dryRun) {
    return phd.servers.flatMap((s) => [
      `${s.name}: ${s.layout.root}`,
      `${s.name}: ${s.layout.siteFile} (reloading Caddy)`,
    ]);
  }
  return withServers(
    ctx,
    phd,
    async (locked) => {
      const removed = await Promise.all(
        locked.map(async ({ server }) => {
          const r = await runRemote(server, deleteScript(server), {
            doing: `remove the preview ${site.slug}`,
            allow: [RELOAD_FAILED_EXIT],
            signal: ctx.signal,
          });
          if (r.exitCode === RELOAD_FAILED_EXIT) {
            throw new SitepipeError(
              'HOST_RELOAD_FAILED',
              `${server.name}: Caddy refused its config without the preview ${site.slug}, so the preview still serves`,
              "Caddy's own words are below; `caddy validate` on the server checks a config",
              r.stderr.split('\n').filter(Boolean).slice(-8),
            );
          }
          const out = r.stdout.split('\n');
          return [
            ...(out.includes('removed-tree') ? [`${server.name}: ${server.layout.root}`] : []),
            ...(out.includes('removed-site') ? [`${server.name}: ${server.layout.siteFile}`] : []),
          ];
        }),
      );
      return removed.flat();
    },
    { create: false },
  );
}

/** The preview of `branch` on the hosts. */
export function findPreview(previews: readonly Preview[], branch: string, ctx: RunContext): Preview {
  const hd = requireHostDeploy(ctx.config);
  const where = `on ${hd.servers.map((s) => s.name).join(', ')}`;
  return pickPreview(previews, branch, previewSite(hd, branch).slug, { site: hd.deploy.name, where });
}

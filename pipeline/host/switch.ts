import type { Release } from '../kube/releases.js';
import { RELEASE_MARKER } from './caddy.js';
import type { HostLayout } from './layout.js';
import { runRemote } from './remote.js';
import { type Server, shq } from './servers.js';

/** What a release's metadata says (meta/<tag>.json); its presence marks the release whole. */
export interface ReleaseMeta {
  version: 1;
  tag: string;
  commit: string | null;
  branch: string | null;
  basePath: string;
  files: number | null;
  bytes: number | null;
  publishedAt: string;
  publishedBy: string;
}

export interface SwitchInput {
  tag: string;
  /** Written when given (a publish); a pin or rollback reuses the release's own. */
  meta: ReleaseMeta | null;
  siteConfig: string;
  history: Release[];
  /** Release directories to remove once switched. */
  prune: string[];
}

/** A heredoc that writes `text` to `path` through a temp file and a rename: readers see the old file or the new, whole. */
function writeAtomically(path: string, text: string): string {
  const marker = 'SITEPIPE_EOF_7c1f';
  return `cat > ${shq(`${path}.tmp`)} <<'${marker}'\n${text.replace(/\n?$/, '\n')}${marker}\nmv -f ${shq(`${path}.tmp`)} ${shq(path)}\n`;
}

const NO_RELEASE_EXIT = 3;
const RELOAD_FAILED_EXIT = 4;
const NO_IMPORT_EXIT = 6;

/**
 * A preview's site file is loaded through a glob that the main Caddyfile imports (host init
 * adds it). Checked before anything is switched; a missing import is added when the SSH user
 * may, and Caddy is then reloaded even if the site file is unchanged.
 */
function ensureImport(layout: HostLayout): string {
  if (!layout.imports) return '';
  const line = shq(`import ${layout.imports}`);
  const config = shq(layout.configFile);
  return `if ! grep -qxF ${line} ${config} 2>/dev/null; then
  if printf '\nimport %s\n' ${shq(layout.imports)} >> ${config} 2>/dev/null; then imported=1; else
    echo ${shq(`${layout.configFile} does not import ${layout.imports}, and this user may not add it: run sitepipe host init`)} >&2
    exit ${NO_IMPORT_EXIT}
  fi
fi
`;
}

/**
 * The switch, as one script on the server: the metadata and the release's marker file, then
 * `current` with one rename(2) of a new symlink over it. Caddy serves `current`, so that rename
 * is the switch visitors see; the site file is installed and Caddy reloaded (gracefully) only
 * when the config differs from the installed one (the first publish, new domains or settings).
 * A reload Caddy refuses puts the symlink and site file back and reloads the old config. The
 * script ignores hangups, so a publish killed mid-switch still leaves the server consistent.
 */
export function switchScript(layout: HostLayout, input: SwitchInput): string {
  const root = shq(layout.root);
  const site = layout.siteFile;
  const reload = `caddy reload --config ${shq(layout.configFile)} --adapter caddyfile --address ${shq(layout.adminAddress)}`;
  const marker = `releases/${input.tag}/${RELEASE_MARKER}`;
  return `set -eu
trap '' HUP INT TERM
cd ${root}
[ -d releases/${input.tag} ] || { echo "there is no release ${input.tag} under ${layout.root}/releases" >&2; exit ${NO_RELEASE_EXIT}; }
imported=0
${ensureImport(layout)}${input.meta ? writeAtomically(`meta/${input.tag}.json`, JSON.stringify(input.meta, null, 1)) : ''}rm -f ${marker}*
: > ${marker}${input.tag}
${writeAtomically('.site.caddy', input.siteConfig)}prev=$(readlink current 2>/dev/null || true)
rm -f .current.new
ln -s releases/${input.tag} .current.new
mv -T .current.new current
if [ "$imported" = 1 ] || ! cmp -s .site.caddy ${shq(site)}; then
  mkdir -p ${shq(site.slice(0, site.lastIndexOf('/')) || '/')}
  if [ -f ${shq(site)} ]; then cp -p ${shq(site)} ${shq(`${site}.prev`)}; else rm -f ${shq(`${site}.prev`)}; fi
  cp .site.caddy ${shq(`${site}.new`)}
  mv -f ${shq(`${site}.new`)} ${shq(site)}
  if ! ${reload} >.reload.log 2>&1; then
    if [ -n "$prev" ]; then rm -f .current.new; ln -s "$prev" .current.new; mv -T .current.new current; else rm -f current; fi
    if [ -f ${shq(`${site}.prev`)} ]; then mv -f ${shq(`${site}.prev`)} ${shq(site)}; else rm -f ${shq(site)}; fi
    ${reload} >/dev/null 2>&1 || true
    cat .reload.log >&2
    exit ${RELOAD_FAILED_EXIT}
  fi
  echo reloaded
fi
${writeAtomically('releases.json', JSON.stringify(input.history, null, 1))}${input.prune.map((t) => `rm -rf releases/${t} meta/${t}.json\n`).join('')}echo switched
`;
}

export type SwitchOutcome =
  | { ok: true; reloaded: boolean }
  | { ok: false; why: string; code: 'NO_RELEASE' | 'RELOAD_FAILED' | 'NO_IMPORT' };

/** Switches one server; a refused reload or a missing release comes back as an outcome, anything else throws. */
export async function switchServer(
  server: Server,
  input: SwitchInput,
  signal?: AbortSignal,
): Promise<SwitchOutcome> {
  const result = await runRemote(server, switchScript(server.layout, input), {
    doing: `switch to release ${input.tag}`,
    allow: [NO_RELEASE_EXIT, RELOAD_FAILED_EXIT, NO_IMPORT_EXIT],
    ...(signal ? { signal } : {}),
  });
  if (result.exitCode === 0) return { ok: true, reloaded: result.stdout.includes('reloaded') };
  const why = result.stderr.trim().split('\n').slice(-8).join('\n');
  const code =
    result.exitCode === NO_RELEASE_EXIT
      ? 'NO_RELEASE'
      : result.exitCode === NO_IMPORT_EXIT
        ? 'NO_IMPORT'
        : 'RELOAD_FAILED';
  return { ok: false, why, code };
}

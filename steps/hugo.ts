import { access, constants, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  downloadHugo,
  type HugoVersion,
  hostPlatform,
  hugoCachePath,
  parseHugoVersion,
} from '../pipeline/clients/hugo-releases.js';
import { SitepipeError } from '../pipeline/errors.js';
import { readJsonFile, writeJsonFile } from '../pipeline/json-file.js';
import { runProcess, whichAll } from '../pipeline/process.js';
import type { HugoInstall } from '../pipeline/records.js';
import { defineStep, type RunContext } from '../pipeline/step.js';

const VERSION_TIMEOUT_MS = 30_000;

type Probe = { found: HugoVersion } | { failed: string } | { missing: true };

/**
 * What `version` printed, per binary: a Go binary's answer depends only on its bytes, so a file
 * with the same device, inode, size, mtime and ctime answers the same. Saves a start of Hugo
 * (0.2 s and more on a busy machine) on every run.
 */
type VersionCache = Record<string, { identity: string; found: HugoVersion }>;

function versionCachePath(ctx: RunContext): string {
  return join(ctx.cacheDir, 'hugo-versions.json');
}

async function identity(path: string): Promise<string> {
  const s = await stat(path, { bigint: true });
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
}

async function readVersionCache(ctx: RunContext): Promise<VersionCache> {
  return (await readJsonFile<VersionCache>(versionCachePath(ctx))) ?? {};
}

async function rememberVersion(ctx: RunContext, path: string, id: string, found: HugoVersion): Promise<void> {
  const cache = await readVersionCache(ctx);
  cache[path] = { identity: id, found };
  await writeJsonFile(versionCachePath(ctx), cache);
}

/** Runs `<path> version`; a binary that is missing or won't run is a failed probe, not an error. */
async function probeHugo(path: string, ctx: RunContext): Promise<Probe> {
  try {
    await access(path, constants.X_OK);
  } catch {
    return { missing: true };
  }
  const id = await identity(path);
  const known = (await readVersionCache(ctx))[path];
  if (known?.identity === id) return { found: known.found };
  try {
    const { stdout } = await runProcess(path, ['version'], {
      env: ctx.env,
      signal: ctx.signal,
      timeoutMs: VERSION_TIMEOUT_MS,
    });
    const found = parseHugoVersion(stdout);
    if (!found) return { failed: `unrecognised \`hugo version\` output: ${stdout.slice(0, 120)}` };
    await rememberVersion(ctx, path, id, found);
    return { found };
  } catch (e) {
    ctx.signal.throwIfAborted();
    return { failed: e instanceof Error ? e.message : String(e) };
  }
}

function label(v: HugoVersion): string {
  return `${v.version}${v.extended ? ' extended' : ''}`;
}

/** Exactly the pinned version; an extended build also serves a non-extended pin. */
function satisfies(found: HugoVersion, want: HugoVersion): boolean {
  return found.version === want.version && (found.extended || !want.extended);
}

async function fromCache(ctx: RunContext, want: HugoVersion): Promise<HugoInstall | null> {
  const path = hugoCachePath(ctx.cacheDir, want.version, want.extended);
  const probe = await probeHugo(path, ctx);
  if ('found' in probe && satisfies(probe.found, want)) {
    return { path, version: probe.found.version, extended: probe.found.extended, origin: 'cache' };
  }
  if ('found' in probe) ctx.log.warn(`cached ${path} reports ${label(probe.found)}; ignoring it`);
  if ('failed' in probe) ctx.log.warn(`cached ${path} is unusable (${probe.failed}); ignoring it`);
  return null;
}

async function fromPath(ctx: RunContext, want: HugoVersion): Promise<HugoInstall | null> {
  for (const path of await whichAll('hugo', ctx.env.PATH ?? '')) {
    const probe = await probeHugo(path, ctx);
    if ('found' in probe && satisfies(probe.found, want)) {
      return { path, version: probe.found.version, extended: probe.found.extended, origin: 'path' };
    }
    const why = 'found' in probe ? `it is ${label(probe.found)}` : 'failed' in probe ? probe.failed : 'gone';
    ctx.log.info(`not using ${path}: ${why}, need ${label(want)}`);
  }
  return null;
}

async function fromDownload(ctx: RunContext, want: HugoVersion): Promise<HugoInstall> {
  const platform = hostPlatform();
  if (!platform) {
    throw new SitepipeError(
      'HUGO_UNSUPPORTED_PLATFORM',
      `no official Hugo archive is fetched for ${process.platform}/${process.arch}`,
      `install Hugo ${label(want)} yourself and put it on PATH`,
    );
  }
  const { downloadBaseUrl } = ctx.config.hugo;
  ctx.log.info(`downloading Hugo ${label(want)} (${platform}) from ${downloadBaseUrl}`);
  const path = await downloadHugo({
    ...want,
    platform,
    downloadBaseUrl,
    cacheDir: ctx.cacheDir,
    signal: ctx.signal,
  });
  const probe = await probeHugo(path, ctx);
  if ('found' in probe && satisfies(probe.found, want)) {
    return { path, version: probe.found.version, extended: probe.found.extended, origin: 'download' };
  }
  const why =
    'found' in probe
      ? `reports ${label(probe.found)}`
      : `does not run (${'failed' in probe ? probe.failed : 'missing'})`;
  throw new SitepipeError(
    'HUGO_UNRUNNABLE',
    `the verified download ${path} ${why}`,
    `extended builds need glibc and libstdc++; otherwise install Hugo ${label(want)} on PATH`,
  );
}

/** Resolution order: the sitepipe cache, then PATH, then a checksum-verified download. */
export async function resolveHugo(ctx: RunContext): Promise<HugoInstall> {
  const want: HugoVersion = { version: ctx.config.hugo.version, extended: ctx.config.hugo.extended };
  const install =
    (await fromCache(ctx, want)) ?? (await fromPath(ctx, want)) ?? (await fromDownload(ctx, want));
  ctx.log.info(`using Hugo ${label(install)} from ${install.origin}: ${install.path}`);
  return install;
}

export const hugo = defineStep({
  name: 'hugo',
  needs: [],
  mutates: false,
  description: 'find the pinned Hugo (cache, PATH) or download and verify the official release',
  run: (ctx) => resolveHugo(ctx),
  summarize: (out) => `hugo ${label(out)} (${out.origin})`,
});

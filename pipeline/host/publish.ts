import { hostname } from 'node:os';
import { SitepipeError } from '../errors.js';
import type { Release } from '../kube/releases.js';
import { actor } from '../kube/roll.js';
import type { RunContext } from '../step.js';
import { siteConfig } from './caddy.js';
import { waitForCertificates } from './certificates.js';
import { releasesToKeep, withRelease } from './history.js';
import type { HostDeploy } from './layout.js';
import { type HostLock, lockServer, type ServerState } from './lock.js';
import type { Server } from './servers.js';
import { type ReleaseMeta, switchServer } from './switch.js';
import { type UploadResult, uploadRelease } from './upload.js';

/** What a publish, pin or rollback switches every server to. */
export interface HostRelease {
  /** The release's name on the servers: the commit tag. */
  tag: string;
  commit: string | null;
  branch: string | null;
  action: Release['action'];
  /** A publish: the rendered tree to send, and what it was rendered for. Absent: the release is on the servers already. */
  upload?: { dir: string; basePath: string; files: number; bytes: number };
}

export interface ServerOutcome {
  server: string;
  /** What the server serves after the command: the release, or what it was switched back to. */
  serving: string | null;
  previous: string | null;
  upload: UploadResult | null;
}

export interface HostPublishResult {
  release: Release;
  servers: ServerOutcome[];
}

interface Locked {
  server: Server;
  lock: HostLock;
}

function holder(ctx: RunContext): string {
  return `${actor(ctx.env)} (sitepipe pid ${process.pid} on ${hostname()}) since ${new Date().toISOString()}`;
}

/** Locks every server (in parallel); if one cannot be locked, the others are released. */
async function lockAll(ctx: RunContext, hd: HostDeploy, create: boolean): Promise<Locked[]> {
  const servers = hd.servers;
  const tries = await Promise.allSettled(
    servers.map((server) =>
      lockServer(server, server.layout.root, {
        holder: holder(ctx),
        waitSeconds: hd.deploy.lockTimeoutSeconds,
        signal: ctx.signal,
        create,
      }).then((lock) => ({ server: lock.server, lock })),
    ),
  );
  const locked = tries.flatMap((t) => (t.status === 'fulfilled' ? [t.value] : []));
  const failed = tries.find((t): t is PromiseRejectedResult => t.status === 'rejected');
  if (failed) {
    await Promise.all(locked.map((l) => l.lock.release()));
    throw failed.reason;
  }
  return locked;
}

/** Runs `fn` holding every server's publish lock, with each server's state as read under it. */
export async function withServers<T>(
  ctx: RunContext,
  hd: HostDeploy,
  fn: (locked: Locked[]) => Promise<T>,
  opts: { create?: boolean } = {},
): Promise<T> {
  const locked = await lockAll(ctx, hd, opts.create ?? !ctx.dryRun);
  try {
    return await fn(locked);
  } finally {
    await Promise.all(locked.map((l) => l.lock.release()));
  }
}

function historyEntry(ctx: RunContext, server: Server, r: HostRelease, outcome: Release['outcome']): Release {
  return {
    image: `${server.layout.root}/releases/${r.tag}`,
    digest: r.tag,
    commit: r.commit,
    branch: r.branch,
    tag: r.tag,
    at: new Date().toISOString(),
    by: actor(ctx.env),
    action: r.action,
    outcome,
  };
}

export function configFor(hd: HostDeploy, ctx: RunContext, server: Server, basePath: string): string {
  return siteConfig({
    domains: hd.deploy.hosts,
    root: server.layout.root,
    releaseHeader: ctx.config.image.releaseHeader,
    basePath,
    acme: hd.host.acme,
    bind: hd.host.caddy.bind,
    stickyAssets: hd.host.stickyAssets,
    httpsPort: hd.host.caddy.httpsPort,
    noindex: hd.preview !== undefined,
  });
}

function missingRelease(server: Server, r: HostRelease): SitepipeError {
  return new SitepipeError(
    'PIN_NOT_FOUND',
    `${server.name} has no whole release ${r.tag}${r.commit ? ` (commit ${r.commit.slice(0, 12)})` : ''}; nothing was changed`,
    'only commits published there are (deploy.host.keep of them are kept); `sitepipe releases` lists them, `sitepipe run` publishes a commit',
  );
}

/**
 * Publishes (or pins, or rolls back to) a release on every server: locks all, uploads to all
 * (a publish), then switches all. If a switch fails anywhere, the servers already switched are
 * switched back, and the error says what each one serves now. The live release serves
 * throughout: uploads go into the release's own directory, and a switch is a rename.
 */
export async function publish(ctx: RunContext, hd: HostDeploy, r: HostRelease): Promise<HostPublishResult> {
  return withServers(ctx, hd, async (locked) => {
    for (const { server, lock } of locked) {
      if (!r.upload && !lock.state.complete.includes(r.tag)) throw missingRelease(server, r);
    }
    if (ctx.dryRun) return planPublish(ctx, r, locked);
    const uploads = await Promise.all(
      locked.map(async ({ server, lock }) => {
        if (!r.upload) return null;
        const { state } = lock;
        if (state.live === r.tag && state.complete.includes(r.tag)) {
          ctx.log.info(`${server.name}: ${r.tag} is live already; nothing to send`);
          return null;
        }
        const sent = await uploadRelease(
          server,
          r.upload.dir,
          server.layout.root,
          r.tag,
          state.live,
          ctx.signal,
        );
        ctx.log.info(
          `${server.name}: sent ${sent.filesSent} of ${r.upload.files} files (${sent.bytesSent} bytes over SSH)${state.live ? `, the rest linked from ${state.live}` : ''}`,
        );
        return sent;
      }),
    );
    const basePathOn = (state: ServerState) => r.upload?.basePath ?? state.basePaths[r.tag] ?? '/';
    const meta = (state: ServerState): ReleaseMeta | null =>
      r.upload && !(state.live === r.tag && state.complete.includes(r.tag))
        ? {
            version: 1,
            tag: r.tag,
            commit: r.commit,
            branch: r.branch,
            basePath: r.upload.basePath,
            files: r.upload.files,
            bytes: r.upload.bytes,
            publishedAt: new Date().toISOString(),
            publishedBy: actor(ctx.env),
          }
        : null;
    ctx.signal.throwIfAborted(); // the last point a stop leaves every server as it was
    const switched = await Promise.all(
      locked.map(async ({ server, lock }) => {
        const history = withRelease(lock.state.history, historyEntry(ctx, server, r, 'live'));
        const keep = releasesToKeep(history, r.tag, hd.host.keep);
        const outcome = await switchServer(server, {
          tag: r.tag,
          meta: meta(lock.state),
          siteConfig: configFor(hd, ctx, server, basePathOn(lock.state)),
          history,
          prune: lock.state.dirs.filter((d) => !keep.has(d)),
        }).catch((e: unknown) => ({
          ok: false as const,
          why: e instanceof Error ? e.message : String(e),
          code: 'SSH',
        }));
        return { server, lock, outcome };
      }),
    );
    const failures = switched.filter((s) => !s.outcome.ok);
    if (failures.length === 0) {
      for (const { server, lock, outcome } of switched)
        ctx.log.info(
          `${server.name}: switched ${lock.state.live ?? '(nothing)'} -> ${r.tag}${outcome.ok && outcome.reloaded ? ', Caddy reloaded with the new site config' : ''}`,
        );
      await waitForCertificates(ctx, hd);
      const [first] = switched;
      return {
        release: historyEntry(ctx, first?.server as Server, r, 'live'),
        servers: switched.map(({ server, lock }, i) => ({
          server: server.name,
          serving: r.tag,
          previous: lock.state.live,
          upload: uploads[i] ?? null,
        })),
      };
    }
    // Put the switched ones back, so that every server serves what it served before.
    const now = await Promise.all(
      switched.map(async ({ server, lock, outcome }) => {
        const prev = lock.state.live;
        if (!outcome.ok)
          return `${server.name}: switch failed (${outcome.why.split('\n').pop()}); serves ${prev ?? 'nothing'}`;
        if (!prev) return `${server.name}: serves ${r.tag} (it had no release before to go back to)`;
        const back = await switchServer(server, {
          tag: prev,
          meta: null,
          siteConfig: configFor(hd, ctx, server, lock.state.basePaths[prev] ?? '/'),
          history: withRelease(lock.state.history, historyEntry(ctx, server, r, 'rolled-back')),
          prune: [],
        }).catch((e: unknown) => ({ ok: false as const, why: String(e), code: 'SSH' }));
        return back.ok
          ? `${server.name}: switched back, serves ${prev}`
          : `${server.name}: could not switch back (${back.why.split('\n').pop()}); serves ${r.tag}`;
      }),
    );
    const [first] = failures;
    throw new SitepipeError(
      'HOST_SWITCH_FAILED',
      `the switch to ${r.tag} failed on ${failures.map((f) => f.server.name).join(', ')}${first ? `: ${first.outcome.ok ? '' : first.outcome.why.split('\n').pop()}` : ''}`,
      "each line says what a server serves now; Caddy's own words are above (`caddy validate` on the server checks a config)",
      [...(first && !first.outcome.ok ? first.outcome.why.split('\n') : []), ...now],
    );
  });
}

/** --dry-run: what each server would be sent (rsync's own dry run), switched to and reloaded with. */
async function planPublish(ctx: RunContext, r: HostRelease, locked: Locked[]): Promise<HostPublishResult> {
  const servers: ServerOutcome[] = [];
  for (const { server, lock } of locked) {
    const { state } = lock;
    let upload: UploadResult | null = null;
    if (r.upload && !(state.live === r.tag && state.complete.includes(r.tag))) {
      upload = await uploadRelease(
        server,
        r.upload.dir,
        server.layout.root,
        r.tag,
        state.live,
        ctx.signal,
        true,
      );
      ctx.log.info(
        `${server.name}: would send ${upload.filesSent} of ${r.upload.files} files to ${server.layout.root}/releases/${r.tag}`,
      );
    }
    ctx.log.info(
      `${server.name}: would switch ${server.layout.root}/current from ${state.live ?? '(nothing)'} to releases/${r.tag}, and reload Caddy (${server.layout.adminAddress}) if ${server.layout.siteFile} changes`,
    );
    servers.push({ server: server.name, serving: state.live, previous: state.live, upload });
  }
  const [first] = locked;
  return { release: historyEntry(ctx, first?.server as Server, r, 'live'), servers };
}

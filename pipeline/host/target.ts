import type { DeployTarget } from '../deploy-target.js';
import { SitepipeError } from '../errors.js';
import type { Release } from '../kube/releases.js';
import { previousRelease } from '../kube/releases.js';
import type { RunContext } from '../step.js';
import { deployRelease } from './deploy-release.js';
import { type HostDeploy, requireHostDeploy } from './layout.js';
import { lockServer, type ServerState } from './lock.js';
import { type HostRelease, publish } from './publish.js';
import { runRemote } from './remote.js';

const COMMIT = /^[0-9a-f]{7,40}$/;

/** Each server's state, read without the lock (what `releases` and `pin` look at). */
async function readStates(
  ctx: RunContext,
  hd: HostDeploy,
): Promise<{ server: string; state: ServerState }[]> {
  return Promise.all(
    hd.servers.map(async (server) => {
      const read = await lockServer(server, server.layout.root, {
        holder: '',
        waitSeconds: 0,
        signal: ctx.signal,
        create: false,
        lock: false,
      });
      return { server: server.name, state: read.state };
    }),
  );
}

/** The release a ref names on a server: its tag, or a commit (full or abbreviated) one release has. */
export function matchRelease(state: ServerState, ref: string): string[] {
  if (state.complete.includes(ref)) return [ref];
  if (!COMMIT.test(ref)) return [];
  const commitOf = new Map(state.history.map((r) => [r.digest, r.commit] as const));
  return state.complete.filter((tag) => {
    const commit = commitOf.get(tag) ?? tag;
    return commit.startsWith(ref) || ref.startsWith(tag.replace(/-dirty$/, ''));
  });
}

function fromHistory(state: ServerState, tag: string, action: Release['action']): HostRelease {
  const known = state.history.find((r) => r.digest === tag);
  return { tag, commit: known?.commit ?? null, branch: known?.branch ?? null, action };
}

/** The host target: releases on servers over SSH, served by Caddy (docs/host.md). */
export function hostTarget(ctx: RunContext): DeployTarget<HostRelease> {
  const hd = requireHostDeploy(ctx.config);
  const names = hd.host.servers.map((s) => s.ssh).join(', ');
  return {
    kind: 'host',
    digestHeading: 'RELEASE',
    async preflight() {
      await Promise.all(
        hd.servers.map((server) =>
          runRemote(server, 'command -v flock >/dev/null && command -v rsync >/dev/null', {
            doing: 'find flock and rsync (sitepipe host init installs them)',
            signal: ctx.signal,
          }),
        ),
      );
    },
    deploy: (inputs) => deployRelease(ctx, hd, inputs),
    async resolve(ref) {
      const states = await readStates(ctx, hd);
      const [first] = states;
      if (!first) throw new Error('no servers');
      const matches = matchRelease(first.state, ref);
      if (matches.length > 1) {
        throw new SitepipeError(
          'PIN_AMBIGUOUS',
          `${ref} matches ${matches.length} releases on ${first.server}: ${matches.slice(0, 5).join(', ')}`,
          'give more characters of the commit',
        );
      }
      const [tag] = matches;
      if (!tag) {
        throw new SitepipeError(
          'PIN_NOT_FOUND',
          `${first.server} has no release for ${ref}; nothing was changed`,
          `only published commits have releases (the last ${hd.host.keep} are kept); \`sitepipe releases\` lists what was live`,
        );
      }
      return fromHistory(first.state, tag, 'pin');
    },
    async previous() {
      const [first] = await readStates(ctx, hd);
      const previous = first ? previousRelease(first.state.history) : null;
      if (!first || !previous) {
        throw new SitepipeError(
          'NOTHING_TO_ROLL_BACK',
          `${first?.server ?? names} has no earlier live release of ${hd.deploy.name}`,
          '`sitepipe releases` shows the history; `sitepipe pin <commit>` switches to any release still on the servers',
        );
      }
      return fromHistory(first.state, previous.digest, 'rollback');
    },
    async roll(to) {
      const { release } = await publish(ctx, hd, to);
      return ctx.dryRun ? null : release;
    },
    describe: (to) =>
      `release ${to.tag}${to.commit ? ` (commit ${to.commit.slice(0, 12)}${to.branch ? ` on ${to.branch}` : ''})` : ''} on ${names}`,
    async history() {
      const states = await readStates(ctx, hd);
      const [first, ...others] = states;
      for (const o of others) {
        if (o.state.live !== first?.state.live) {
          ctx.log.warn(
            `${o.server} serves ${o.state.live ?? 'nothing'}, ${first?.server} ${first?.state.live ?? 'nothing'}`,
          );
        }
      }
      return first?.state.history ?? [];
    },
  };
}

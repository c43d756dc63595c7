import { execa } from 'execa';
import type { RegistryClient } from './clients/registry.js';
import { SitepipeError } from './errors.js';

export const REVISION = 'org.opencontainers.image.revision';
export const CREATED = 'org.opencontainers.image.created';
export const BRANCH = 'io.sitepipe.branch';

/** What the image about to be tagged is: its commit, commit time and branch (from its labels). */
export interface Candidate {
  commit: string;
  created: string | undefined;
  branch: string | undefined;
}

export type Verdict = { move: true } | { move: false; why: string };

/**
 * Whether `older` is an ancestor of `newer` in the local history; null when git cannot tell
 * (a commit it does not have: a shallow clone, or one pushed after this checkout).
 */
export async function isAncestor(cwd: string, older: string, newer: string): Promise<boolean | null> {
  const r = await execa('git', ['merge-base', '--is-ancestor', older, newer], { cwd, reject: false });
  return r.exitCode === 0 ? true : r.exitCode === 1 ? false : null;
}

/**
 * Decides whether a tag may move onto the candidate, from what it names now:
 * - a commit tag only ever names its own commit's image (a branch or another tool must never
 *   have put something else there);
 * - a branch tag names only that branch's images (two branches can sanitise to one tag), and
 *   never moves backwards in the branch's history: a build of an older commit finishing
 *   after a newer one leaves the newer one in place.
 */
export async function judgeTag(opts: {
  client: RegistryClient;
  path: string;
  tag: string;
  kind: 'commit' | 'branch';
  candidate: Candidate;
  /** The image about to be tagged; null when not known yet (the engine learns it as it pushes). */
  digest: string | null;
  cwd: string;
}): Promise<Verdict> {
  const { client, path, tag, candidate } = opts;
  const current = await client.tagDigest(path, tag);
  if (current === null || current === opts.digest) return { move: true };
  const labels = await client.imageLabels(path, current);
  const theirs = labels[REVISION];
  if (opts.kind === 'commit') {
    if (theirs === candidate.commit) return { move: true };
    throw new SitepipeError(
      'TAG_TAKEN',
      `${path}:${tag} names ${theirs ? `an image of commit ${theirs.slice(0, 12)}` : 'an image sitepipe did not build'}, not of ${candidate.commit.slice(0, 12)}`,
      'a commit tag must only ever name its own commit; find out what pushed that tag (a branch named like a commit?) and remove it from the registry',
    );
  }
  if (labels[BRANCH] !== undefined && candidate.branch !== undefined && labels[BRANCH] !== candidate.branch) {
    throw new SitepipeError(
      'TAG_TAKEN',
      `${path}:${tag} is the tag of branch "${labels[BRANCH]}", and "${candidate.branch}" would overwrite it: both branches give the same tag`,
      'rename one of the branches, or set tags.branch: false',
    );
  }
  if (!theirs || theirs === candidate.commit) return { move: true };
  const ancestry = await isAncestor(opts.cwd, candidate.commit, theirs);
  if (ancestry === true) {
    return { move: false, why: `it already names ${theirs.slice(0, 12)}, a later commit of the branch` };
  }
  if (ancestry === null && labels[CREATED] && candidate.created && labels[CREATED] > candidate.created) {
    return {
      move: false,
      why: `it names ${theirs.slice(0, 12)}, committed later (${labels[CREATED]}) and not in this checkout's history: a newer build has set it`,
    };
  }
  return { move: true };
}

/**
 * After the PUT: a concurrent build may have set the tag in between. A later commit there is
 * fine; an earlier one means that build overwrote ours, so ours goes back (a few times).
 */
export async function settleBranchTag(opts: {
  client: RegistryClient;
  path: string;
  tag: string;
  candidate: Candidate;
  digest: string;
  cwd: string;
  put(): Promise<void>;
  warn(message: string): void;
}): Promise<boolean> {
  for (let round = 0; round < 3; round++) {
    const now = await opts.client.tagDigest(opts.path, opts.tag);
    if (now === opts.digest) return true;
    const verdict = await judgeTag({ ...opts, kind: 'branch' });
    if (!verdict.move) {
      opts.warn(
        `${opts.tag} was moved by a concurrent build while this one pushed; left as it is: ${verdict.why}`,
      );
      return false;
    }
    opts.warn(
      `${opts.tag} was moved back to ${now ?? 'nothing'} by a concurrent build of an earlier commit; setting it again`,
    );
    await opts.put();
  }
  throw new SitepipeError(
    'PUSH_RACED',
    `${opts.path}:${opts.tag} keeps being moved by another build while this one pushes`,
    'another pipeline pushes the same branch at the same time; stop one of them, then run push again',
  );
}

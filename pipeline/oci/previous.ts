import { execa } from 'execa';
import type { ImageManifest, RegistryClient } from '../clients/registry.js';
import { isAncestor, REVISION } from '../tag-guard.js';
import type { ImageConfig } from './compose.js';
import { INDEX_LABEL, indexFromLayer, type ReleaseIndex } from './index-file.js';

/** The release a build layers its delta on. */
export interface PreviousRelease {
  /** The tag it was found by, and its manifest digest. */
  tag: string;
  digest: string;
  commit: string;
  index: ReleaseIndex;
}

/** The largest index read: about 150 bytes a file once gzipped, so some 100k files. */
const INDEX_LIMIT = 64 * 1024 * 1024;

/** C's first parent, or null when git does not have it (a root commit, or a shallow clone's boundary). */
async function firstParent(cwd: string, commit: string): Promise<string | null> {
  const r = await execa('git', ['rev-parse', '--verify', '--quiet', `${commit}^1`], { cwd, reject: false });
  return r.exitCode === 0 ? r.stdout.trim() : null;
}

/**
 * The previous release of `commit`: the image of its first parent, by the parent's commit tag;
 * failing that, the branch tag's image when its commit is an earlier one of this history (or
 * git cannot tell, in a shallow clone). Either counts only when its labels name that commit and
 * its index, and the index is of this repository and names the layers the manifest has.
 * `note` hears why a candidate was passed over.
 */
export async function findPreviousRelease(opts: {
  client: RegistryClient;
  path: string;
  repository: string;
  commit: string;
  commitLength: number;
  branchTag: string | null;
  cwd: string;
  note(message: string): void;
}): Promise<PreviousRelease | null> {
  const { client, path } = opts;
  const read = async (tag: string, expect: (commit: string) => Promise<boolean>) => {
    const digest = await client.tagDigest(path, tag);
    if (!digest) return null;
    const manifest = await client.getManifest(path, digest);
    const parsed = manifest && (JSON.parse(manifest.body.toString('utf8')) as ImageManifest);
    if (!parsed?.config || !parsed.layers) return null;
    const config = JSON.parse(
      (await client.getBlob(path, parsed.config.digest)).toString('utf8'),
    ) as ImageConfig;
    const labels = config.config?.Labels ?? {};
    const commit = labels[REVISION];
    const indexDigest = labels[INDEX_LABEL];
    if (!commit || !(await expect(commit))) return null;
    const at = parsed.layers.findIndex((l) => l.digest === indexDigest);
    if (!indexDigest || at < 0) {
      opts.note(`${tag} has no release index (not built by sitepipe's oci builder, or before it had one)`);
      return null;
    }
    const index = indexFromLayer(await client.getBlob(path, indexDigest, INDEX_LIMIT));
    const below = parsed.layers.slice(at - (index?.layers.length ?? 0), at).map((l) => l.digest);
    if (
      !index ||
      index.repository !== opts.repository ||
      below.join() !== index.layers.map((l) => l.digest).join()
    ) {
      opts.note(`${tag}'s release index is unreadable, of another repository, or does not match its layers`);
      return null;
    }
    return { tag, digest, commit, index };
  };

  const parent = await firstParent(opts.cwd, opts.commit);
  if (parent) {
    const found = await read(parent.slice(0, opts.commitLength), async (c) => c === parent);
    if (found) return found;
  }
  if (!opts.branchTag) return null;
  return read(opts.branchTag, async (c) => {
    if (c === opts.commit) return false;
    const earlier = await isAncestor(opts.cwd, c, opts.commit);
    if (earlier === false)
      opts.note(`${opts.branchTag} names ${c.slice(0, 12)}, not an earlier commit of this one`);
    return earlier !== false;
  });
}

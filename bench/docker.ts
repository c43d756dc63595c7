import { execa } from 'execa';
import { SITE_ROOT } from '../pipeline/nginx.js';

/**
 * Docker engine chores for the bench: a guard that the Docker path's toolchain layer (apt-get
 * of Pygments on the builder base) is in the engine's build cache, since building it would
 * reach a package mirror outside loopback; and removal of exactly the images the bench built.
 */

interface ImageInfo {
  Id: string;
  Parent: string;
  RepoTags: string[] | null;
  ContainerConfig?: { Cmd?: string[] | null };
}

async function docker(...args: string[]): Promise<string> {
  return (await execa('docker', args)).stdout.trim();
}

async function inspect(ids: readonly string[]): Promise<ImageInfo[]> {
  if (ids.length === 0) return [];
  const { stdout, exitCode } = await execa('docker', ['image', 'inspect', ...ids], { reject: false });
  if (exitCode !== 0 && !stdout.trim().startsWith('[')) return [];
  return JSON.parse(stdout) as ImageInfo[];
}

export async function dockerAvailable(): Promise<string | null> {
  const res = await execa('docker', ['version', '--format', '{{.Server.Version}}'], { reject: false });
  return res.exitCode === 0 ? null : `docker engine not reachable: ${res.stderr.split('\n')[0]}`;
}

/**
 * Null when the engine has an image built by the template's apt-get RUN on `builderBase`
 * (so the Docker path's stage 1 builds from cache, offline); else why the path is skipped.
 */
export async function toolchainCached(builderBase: string): Promise<string | null> {
  const base = (await inspect([builderBase]))[0];
  if (!base) return `${builderBase} is not in the Docker engine`;
  const ids = [...new Set((await docker('images', '-a', '-q', '--no-trunc')).split('\n').filter(Boolean))];
  const infos = await inspect(ids);
  const hit = infos.find(
    (i) => i.Parent === base.Id && (i.ContainerConfig?.Cmd ?? []).join(' ').includes('apt-get update'),
  );
  return hit
    ? null
    : `the Docker path's apt-get layer on ${builderBase} is not in the build cache (building it would reach a package mirror outside 127.0.0.0/8)`;
}

/**
 * Removes an image and then its untagged parents, one at a time and never pruning past
 * `last` (the first layer the bench's own content made): shared cache layers, above all the
 * toolchain layer, stay. Stops at any image something else still uses.
 */
async function removeChain(start: string, last: (createdBy: string) => boolean): Promise<number> {
  let id = start;
  let removed = 0;
  for (let i = 0; i < 30 && id; i++) {
    const [info] = await inspect([id]);
    if (!info) return removed;
    const createdBy = (info.ContainerConfig?.Cmd ?? []).join(' ');
    const refs = info.RepoTags?.length ? info.RepoTags : [info.Id];
    for (const ref of refs) {
      const res = await execa('docker', ['rmi', '--no-prune', ref], { reject: false });
      if (res.exitCode !== 0) return removed;
    }
    removed++;
    if (last(createdBy) || !info.Parent) return removed;
    const [parent] = await inspect([info.Parent]);
    if (!parent || parent.RepoTags?.length) return removed;
    id = parent.Id;
  }
  return removed;
}

/**
 * The images the Docker path built for `repository`, and the stage-1 (render) images whose
 * RUN carries `marker` (the bench's unique baseURL build arg).
 */
export async function removeBenchImages(repository: string, marker: string): Promise<number> {
  let removed = 0;
  const finals = (await docker('images', '-q', '--no-trunc', repository)).split('\n').filter(Boolean);
  for (const id of new Set(finals)) {
    removed += await removeChain(id, (c) => c.includes(`in ${SITE_ROOT}`));
  }
  const dangling = (await docker('images', '-q', '--no-trunc', '--filter', 'dangling=true'))
    .split('\n')
    .filter(Boolean);
  for (const info of await inspect([...new Set(dangling)])) {
    if ((info.ContainerConfig?.Cmd ?? []).join(' ').includes(marker)) {
      removed += await removeChain(info.Id, (c) => c.includes(' in /src/'));
    }
  }
  return removed;
}

export async function pull(ref: string): Promise<void> {
  await docker('pull', '-q', ref);
}

/** Untags a reference (the image stays when other tags or images use it). */
export async function untag(ref: string): Promise<void> {
  await execa('docker', ['rmi', '--no-prune', ref], { reject: false });
}

import { readdir, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { ownerIsDead } from './state-lock.js';

/**
 * What a killed run leaves behind carries its owner (host and pid) in its name or labels, so
 * the next run can remove exactly what dead runs left, never what a live one still uses.
 */
export const SMOKE_LABEL = 'io.sitepipe.smoke';
export const OWNER_LABEL = 'io.sitepipe.owner';

/** This process as an owner tag: "host:pid". */
export function ownerTag(): string {
  return `${hostname()}:${process.pid}`;
}

/** Whether an owner tag names a process of this host that is gone. */
export function deadOwner(tag: string | undefined): boolean {
  const at = tag?.lastIndexOf(':') ?? -1;
  if (!tag || at < 0) return false;
  const pid = Number(tag.slice(at + 1));
  return Number.isInteger(pid) && ownerIsDead({ host: tag.slice(0, at), pid, start: null });
}

/** Smoke containers of dead runs (they use the host network and hold a port while they run). */
export async function removeDeadSmokeContainers(docker: Docker): Promise<number> {
  const containers = await docker.listContainers({ all: true, filters: { label: [SMOKE_LABEL] } });
  const dead = containers.filter((c) => deadOwner(c.Labels[OWNER_LABEL]));
  await Promise.all(
    dead.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  );
  return dead.length;
}

/** `<prefix><host>-<pid>-…` names in `dir` whose owner is dead; e.g. Docker build contexts in $TMPDIR. */
export async function removeDeadTempEntries(prefix: string, dir = tmpdir()): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(
    names
      .filter((n) => n.startsWith(prefix) && deadOwner(ownerOf(n.slice(prefix.length))))
      .map((n) => rm(join(dir, n), { recursive: true, force: true })),
  );
}

/** "host-pid-rest" -> "host:pid" (host names may hold '-', pids do not). */
function ownerOf(rest: string): string | undefined {
  const m = /^(.+)-(\d+)-[^-]*$/.exec(rest);
  return m ? `${m[1]}:${m[2]}` : undefined;
}

/** A temp name a later run can attribute to this process: `<prefix><host>-<pid>-`. */
export function ownedPrefix(prefix: string): string {
  return `${prefix}${hostname()}-${process.pid}-`;
}

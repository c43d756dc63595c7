import { readFileSync } from 'node:fs';
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { SitepipeError } from './errors.js';

/** Who holds a lock: enough to tell, on this host, whether that process still lives. */
export interface Owner {
  host: string;
  pid: number;
  /** The process's start time in clock ticks since boot (Linux), so a reused pid is not mistaken for it. */
  start: string | null;
  since: string;
  command: string;
}

/** A takeover of a dead run's lock that is itself this old was abandoned half-way. */
const TAKEOVER_STALE_MS = 10_000;

function processStart(pid: number): string | null {
  try {
    // Field 22 of /proc/PID/stat; the command name (field 2) may hold spaces, so count from its ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

export function currentOwner(command: string): Owner {
  return {
    host: hostname(),
    pid: process.pid,
    start: processStart(process.pid),
    since: new Date().toISOString(),
    command,
  };
}

/** Whether the owner is certainly gone: a process of this host that no longer runs (or a new one under its pid). */
export function ownerIsDead(owner: Pick<Owner, 'host' | 'pid' | 'start'>): boolean {
  if (owner.host !== hostname()) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return true;
  }
  return owner.start !== null && processStart(owner.pid) !== owner.start;
}

async function readOwner(path: string): Promise<Owner | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Owner;
  } catch {
    return null;
  }
}

/** Creates `path` holding `owner`, unless it exists. */
async function create(path: string, owner: Owner): Promise<boolean> {
  try {
    const file = await open(path, 'wx');
    await file.writeFile(JSON.stringify(owner));
    await file.close();
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

/**
 * Removes the lock of a dead owner, once: two runs that find the same dead lock must not both
 * take it, so the removal happens under a second, short-lived lock file.
 */
async function removeDeadLock(path: string, dead: Owner, self: Owner): Promise<void> {
  const takeover = `${path}.takeover`;
  if (!(await create(takeover, self))) {
    const info = await stat(takeover).catch(() => null);
    if (info && Date.now() - info.mtimeMs > TAKEOVER_STALE_MS) await rm(takeover, { force: true });
    return;
  }
  try {
    const now = await readOwner(path);
    if (now && now.pid === dead.pid && now.since === dead.since) await rm(path, { force: true });
  } finally {
    await rm(takeover, { force: true });
  }
}

/** A lock file being written this instant is unreadable for a moment; one that stays so was cut short by a kill. */
async function removeUnreadable(path: string): Promise<void> {
  const info = await stat(path).catch(() => null);
  if (info && Date.now() - info.mtimeMs > TAKEOVER_STALE_MS) await rm(path, { force: true });
  else await new Promise((r) => setTimeout(r, 100));
}

export interface StateLock {
  release(): Promise<void>;
}

/**
 * Holds the given steps of a state dir for one run: two runs of a step in one state dir would
 * swap each other's render out from under them and mix their records. Locks are per step so
 * that Cloud Build, which runs different steps at once in separate containers over one
 * /workspace, still can; a whole run holds them all. All or none are taken. A lock left by a
 * run that was killed is taken over; a live one is an error that says who holds it.
 */
export async function lockSteps(
  stateDir: string,
  steps: readonly string[],
  command: string,
): Promise<StateLock> {
  const dir = join(stateDir, 'locks');
  await mkdir(dir, { recursive: true });
  const self = currentOwner(command);
  const held: StateLock[] = [];
  const release = async () => {
    await Promise.all(held.splice(0).map((l) => l.release()));
  };
  try {
    // In pipeline order, so that two runs reach for the same locks in the same order.
    for (const step of steps) held.push(await lockFile(join(dir, `${step}.lock`), stateDir, self));
  } catch (e) {
    await release();
    throw e;
  }
  return { release };
}

async function lockFile(path: string, stateDir: string, self: Owner): Promise<StateLock> {
  for (let attempt = 0; attempt < 5; attempt++) {
    if (await create(path, self)) {
      return { release: () => rm(path, { force: true }) };
    }
    const holder = await readOwner(path);
    if (holder && !ownerIsDead(holder)) {
      throw new SitepipeError(
        'STATE_DIR_BUSY',
        `another sitepipe (pid ${holder.pid} on ${holder.host}, \`${holder.command}\` since ${holder.since}) is running ${basename(path, '.lock')} in the state dir ${stateDir}`,
        `wait for it to finish, or give this run its own state dir with --state-dir (if that run is gone, e.g. it ran in a container, remove ${path})`,
      );
    }
    if (holder) await removeDeadLock(path, holder, self);
    else await removeUnreadable(path);
  }
  throw new SitepipeError(
    'STATE_DIR_BUSY',
    `could not take the lock ${path}`,
    'another run is starting in the same state dir; wait for it, or pass --state-dir',
  );
}

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { branchMatcher } from '../../pipeline/branches.js';
import { GroupCommit } from '../../pipeline/serve/group-commit.js';
import { KeyedMutex } from '../../pipeline/serve/mutex.js';
import { Store } from '../../pipeline/serve/store.js';

const push = (deliveryId: string, branch: string, commit: string) => ({
  provider: 'github' as const,
  deliveryId,
  branch,
  commit,
  message: `commit ${commit}`,
  repository: 'example/site',
});

describe('the serve store (real SQLite in WAL mode)', () => {
  let dir: string;
  let store: Store;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sitepipe-serve-store-'));
    store = new Store(join(dir, 'serve.db'));
  });
  afterEach(async () => {
    store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('is in WAL mode with full sync', () => {
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('synchronous', { simple: true })).toBe(2);
  });

  it('folds a newer push into the branch’s queued run, not into the running one', () => {
    const a = store.acceptPush(push('d1', 'main', 'c1'));
    expect(store.acceptPush(push('d2', 'main', 'c2'))).toBe(a);
    expect(store.run(a)).toMatchObject({ commit: 'c2', pushes: 2, status: 'queued' });
    expect(store.acceptPush(push('d3', 'other', 'o1'))).not.toBe(a);
    expect(store.start(a)).toBe(true);
    const b = store.acceptPush(push('d4', 'main', 'c3'));
    expect(b).not.toBe(a);
    expect(store.run(a)).toMatchObject({ commit: 'c2', status: 'running' });
    expect(store.deliveries().map((d) => d.runId)).toEqual([a, a, expect.any(Number), b]);
  });

  it('queues an interrupted run again once, and not when the branch has a newer push queued', () => {
    const a = store.acceptPush(push('d1', 'main', 'c1'));
    store.start(a);
    const retry = store.interrupt(a, 'killed');
    expect(retry).toMatchObject({ commit: 'c1', attempt: 2, retryOf: a, status: 'queued' });
    store.start(retry?.id as number);
    expect(store.interrupt(retry?.id as number, 'killed again')).toBeNull();
    const b = store.acceptPush(push('d2', 'main', 'c2'));
    store.start(b);
    store.acceptPush(push('d3', 'main', 'c3'));
    expect(store.interrupt(b, 'killed')).toBeNull();
    expect(store.queued().map((r) => r.commit)).toEqual(['c3']);
  });

  it('cancels a queued run when its branch is deleted', () => {
    const a = store.acceptPush(push('d1', 'gone', 'c1'));
    store.recordDelivery({ provider: 'github', deliveryId: 'd2', branch: 'gone' }, 'push', 'deleted');
    expect(store.run(a)?.status).toBe('cancelled');
  });

  it('commits deliveries that arrive together in one transaction, undoing only a failed one', async () => {
    const group = new GroupCommit(store.db);
    const results = await Promise.allSettled([
      group.run(() => store.acceptPush(push('g1', 'main', 'c1'))),
      group.run(() => store.acceptPush(push('g1', 'main', 'c1'))), // the same id: UNIQUE fails
      group.run(() => store.acceptPush(push('g2', 'main', 'c2'))),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(store.deliveries().map((d) => d.deliveryId)).toEqual(['g1', 'g2']);
    expect(store.queued()).toMatchObject([{ commit: 'c2', pushes: 2 }]);
  });
});

describe('scheduling helpers', () => {
  it('matches branch globs as GitHub does: * within a segment, ** across', () => {
    const builds = branchMatcher(['main', 'release/*', 'preview/**']);
    expect(['main', 'release/1.2', 'preview/a/b'].map(builds)).toEqual([true, true, true]);
    expect(['mainx', 'release/1/2', 'feature/x'].map(builds)).toEqual([false, false, false]);
  });

  it('never overlaps two runs of one deploy target, and lets others run', async () => {
    const locks = new KeyedMutex();
    const events: string[] = [];
    const task = (name: string, ms: number) => async () => {
      events.push(`${name} start`);
      await new Promise((r) => setTimeout(r, ms));
      events.push(`${name} end`);
    };
    await Promise.all([
      locks.run('prod', task('a', 50)),
      locks.run('prod', task('b', 10)),
      locks.run('staging', task('c', 10)),
    ]);
    expect(events.indexOf('b start')).toBeGreaterThan(events.indexOf('a end'));
    expect(events.indexOf('c start')).toBeLessThan(events.indexOf('a end'));
  });
});

import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Run } from '../../pipeline/serve/store.js';
import { sendGithubPush } from '../helpers/serve-deliveries.js';
import { imageComplete, listTags, tagDigest } from '../helpers/serve-registry.js';
import {
  removeServeConfigs,
  type ServeProcess,
  serveConfig,
  startServe,
  WEBHOOK_SECRET,
} from '../helpers/serve-server.js';
import { type ServeSite, serveSite } from '../helpers/serve-site.js';

async function runsOf(serve: ServeProcess): Promise<Run[]> {
  return ((await (await fetch(`${serve.url}/runs`)).json()) as { runs: Run[] }).runs;
}

async function until<T>(what: () => Promise<T | null | undefined | false>): Promise<T> {
  for (;;) {
    const value = await what();
    if (value) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Every tag of the repository names an image whose blobs are all in the registry. */
async function everyTagComplete(repository: string): Promise<void> {
  for (const tag of await listTags(repository)) expect(await imageComplete(repository, tag), tag).toBe(true);
}

describe('sitepipe serve loses no push to kill -9 or SIGTERM', () => {
  const repository = `127.0.0.1:5000/serve-kill-${Date.now()}`;
  let site: ServeSite;
  let config: string;
  let serve: ServeProcess | null = null;

  beforeAll(async () => {
    site = await serveSite(repository);
    config = await serveConfig(site.remote, { graceSeconds: 120 });
  });
  afterAll(async () => {
    serve?.child.kill('SIGKILL');
    await site.remove();
    await removeServeConfigs();
  });

  it('runs a delivery accepted right before a kill -9, after the restart', async () => {
    serve = await startServe(config);
    const commit = await site.commitAndPush('master', 'accepted, then killed');
    const answer = await sendGithubPush(serve.url, WEBHOOK_SECRET, { branch: 'master', after: commit });
    expect(answer.status).toBe(202);
    serve.child.kill('SIGKILL');
    await serve.exited;

    serve = await startServe(config);
    const { run } = answer.json() as { run: number };
    const done = await until(async () => {
      const all = await runsOf(serve as ServeProcess);
      const last = all.find((r) => r.commit === commit && r.status === 'succeeded');
      return all.every((r) => r.status !== 'queued' && r.status !== 'running') && last;
    });
    // The accepted run itself, or (if the kill came after it started) its one retry.
    expect(done.id === run || done.retryOf === run).toBe(true);
    expect(await tagDigest(repository, commit.slice(0, 12))).toBe(await tagDigest(repository, 'master'));
    await everyTagComplete(repository);
  });

  it('runs a run killed midway again after the restart; no tag names an incomplete image', async () => {
    const commit = await site.commitAndPush('master', 'killed during its run');
    const answer = await sendGithubPush(serve?.url as string, WEBHOOK_SECRET, {
      branch: 'master',
      after: commit,
    });
    const { run } = answer.json() as { run: number };
    // Killed while the image is being built or smoke-tested: after the checkout, before the tags.
    await until(async () => {
      const r = (await runsOf(serve as ServeProcess)).find((x) => x.id === run);
      return r?.steps.some((s) => s.name === 'render' && s.status === 'ok');
    });
    serve?.child.kill('SIGKILL');
    await serve?.exited;
    await everyTagComplete(repository);

    serve = await startServe(config);
    await serve.waitFor(
      new RegExp(`run ${run} was interrupted by a stop of the server; queued again as run (\\d+)`),
    );
    const retry = await until(async () =>
      (await runsOf(serve as ServeProcess)).find(
        (r) => r.retryOf === run && r.status !== 'queued' && r.status !== 'running',
      ),
    );
    expect(retry).toMatchObject({ status: 'succeeded', commit, attempt: 2 });
    expect((await runsOf(serve)).find((r) => r.id === run)?.status).toBe('interrupted');
    expect(await tagDigest(repository, 'master')).toBe(await tagDigest(repository, commit.slice(0, 12)));
    await everyTagComplete(repository);
  });

  it('on SIGTERM stops accepting, lets the run finish within the grace period, and exits 0', async () => {
    const commit = await site.commitAndPush('master', 'finished during the grace period');
    const answer = await sendGithubPush(serve?.url as string, WEBHOOK_SECRET, {
      branch: 'master',
      after: commit,
    });
    const { run } = answer.json() as { run: number };
    await serve?.waitFor(new RegExp(`run ${run} started`));
    const url = serve?.url as string;
    serve?.child.kill('SIGTERM');
    await serve?.waitFor(/SIGTERM: stopping/);
    // No longer accepting.
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    expect(await serve?.exited).toEqual({ code: 0, signal: null });
    const db = new Database(join(dirname(config), '.sitepipe-serve', 'serve.db'), { readonly: true });
    expect(db.prepare('SELECT status FROM runs WHERE id = ?').get(run)).toEqual({ status: 'succeeded' });
    db.close();
    expect(await tagDigest(repository, commit.slice(0, 12))).not.toBeNull();
  });

  it('interrupts a run the grace period does not cover, exits 0, and runs it again at the next start', async () => {
    const short = await serveConfig(site.remote, {
      graceSeconds: 0.5,
      dataDir: join(dirname(config), '.sitepipe-serve'),
    });
    serve = await startServe(short);
    const commit = await site.commitAndPush('master', 'interrupted by SIGTERM');
    const { run } = (
      await sendGithubPush(serve.url, WEBHOOK_SECRET, { branch: 'master', after: commit })
    ).json() as {
      run: number;
    };
    await serve.waitFor(new RegExp(`run ${run} started`));
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toEqual({ code: 0, signal: null });
    await everyTagComplete(repository);

    serve = await startServe(short);
    const retry = await until(async () =>
      (await runsOf(serve as ServeProcess)).find((r) => r.retryOf === run && r.status === 'succeeded'),
    );
    expect(retry.commit).toBe(commit);
    expect((await runsOf(serve)).find((r) => r.id === run)?.status).toBe('interrupted');
  });
});

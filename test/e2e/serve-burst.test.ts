import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Run } from '../../pipeline/serve/store.js';
import { type ApiRequest, githubApi } from '../helpers/github-api.js';
import { sendGithubPush } from '../helpers/serve-deliveries.js';
import { imageComplete, tagDigest } from '../helpers/serve-registry.js';
import {
  removeServeConfigs,
  type ServeProcess,
  serveConfig,
  startServe,
  WEBHOOK_SECRET,
} from '../helpers/serve-server.js';
import { type ServeSite, serveSite } from '../helpers/serve-site.js';

const TOKEN = 'pages-token-9f8e7d6c5b4a3210';
const GITHUB_TOKEN = 'ghp_testtoken0123456789abcdefghijklmnop';
const REGISTRY_PASSWORD = 'registry-password-55aa66bb77cc';
const BRANCHES = ['master', 'feature/a', 'preview-b'];
const auth = { authorization: `Bearer ${TOKEN}` };

describe('sitepipe serve under a burst of 100 signed pushes over 3 branches', () => {
  const repository = `127.0.0.1:5000/serve-burst-${Date.now()}`;
  let site: ServeSite;
  let serve: ServeProcess;
  let api: Awaited<ReturnType<typeof githubApi>>;
  let dataDir: string;
  const accepted: string[] = [];
  const finalCommit = new Map<string, string>();

  const runs = async (): Promise<Run[]> =>
    ((await (await fetch(`${serve.url}/runs?limit=1000`, { headers: auth })).json()) as { runs: Run[] }).runs;
  const idle = async () => {
    for (;;) {
      const all = await runs();
      if (all.length > 0 && all.every((r) => r.status !== 'queued' && r.status !== 'running')) return all;
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  const deliver = async (
    branch: string,
    commit: string,
    before?: string,
    message = `edit ${commit.slice(0, 7)}`,
  ) => {
    const delivery = `burst-${accepted.length}-${commit.slice(0, 8)}`;
    const answer = await sendGithubPush(serve.url, WEBHOOK_SECRET, {
      branch,
      after: commit,
      before,
      delivery,
      message,
    });
    expect(answer.status, answer.body).toBe(202);
    expect(answer.json()).toMatchObject({ status: 'queued' });
    accepted.push(delivery);
    return answer.json() as { run: number };
  };

  beforeAll(async () => {
    api = await githubApi();
    site = await serveSite(repository, 'env');
    const config = await serveConfig(site.remote, {
      concurrency: 1,
      github: { statuses: true, apiUrl: api.url },
    });
    dataDir = join(dirname(config), '.sitepipe-serve');
    serve = await startServe(config, {
      SITEPIPE_SERVE_TOKEN: TOKEN,
      GITHUB_TOKEN,
      SITEPIPE_REGISTRY_USERNAME: 'ci',
      SITEPIPE_REGISTRY_PASSWORD: REGISTRY_PASSWORD,
    });
  });
  afterAll(async () => {
    serve?.child.kill('SIGTERM');
    await serve?.exited;
    await api?.stop();
    await site?.remove();
    await removeServeConfigs();
  });

  it('builds and pushes every branch’s final commit, loses no delivery, and coalesces', async () => {
    // The commits first (git in one work tree), so the burst itself is pushes and deliveries.
    const commits = new Map<string, string[]>(BRANCHES.map((b) => [b, []]));
    for (let i = 0; i < 100; i++) {
      const branch = BRANCHES[i % 3] as string;
      await site.git(
        'checkout',
        '-q',
        ...((await site.git('branch', '--list', branch)) ? [branch] : ['-b', branch, 'master']),
      );
      await site.git('commit', '-q', '--allow-empty-message', '-m', `burst ${i}`, '--allow-empty');
      commits.get(branch)?.push(await site.git('rev-parse', 'HEAD'));
    }
    // A run is going when the burst starts.
    const first = await site.git('rev-parse', 'master~34');
    await site.git('push', '-q', 'origin', `${first}:refs/heads/master`);
    await deliver('master', first);
    await serve.waitFor(/run 1 started/);

    const started = Date.now();
    await Promise.all(
      BRANCHES.map(async (branch) => {
        let before: string | undefined = branch === 'master' ? first : undefined;
        // Each delivery goes out after its push and after the branch's previous delivery was
        // answered (GitHub delivers a branch's pushes in order); the next push overlaps it.
        let delivered: Promise<unknown> = Promise.resolve();
        for (const commit of commits.get(branch) ?? []) {
          await site.git('push', '-q', 'origin', `${commit}:refs/heads/${branch}`);
          await delivered;
          delivered = deliver(branch, commit, before);
          before = commit;
        }
        await delivered;
        finalCommit.set(branch, before as string);
      }),
    );
    console.log(`burst: 100 pushes and deliveries in ${Date.now() - started} ms`);

    const all = await idle();
    for (const r of all.filter((r) => r.status !== 'succeeded')) {
      console.log(await (await fetch(`${serve.url}/runs/${r.id}/log`, { headers: auth })).text());
    }
    expect(all.filter((r) => r.status !== 'succeeded').map((r) => [r.id, r.status, r.error])).toEqual([]);
    for (const [branch, commit] of finalCommit) {
      const branchTag = branch.replace(/\//g, '-');
      const digest = await tagDigest(repository, branchTag);
      expect(digest, branch).not.toBeNull();
      expect(await tagDigest(repository, commit.slice(0, 12))).toBe(digest);
      expect(await imageComplete(repository, branchTag)).toBe(true);
      expect(all.some((r) => r.branch === branch && r.commit === commit && r.status === 'succeeded')).toBe(
        true,
      );
    }

    // No accepted delivery is missing, and each names the run that built (a later commit of) its branch.
    const db = new Database(join(dataDir, 'serve.db'), { readonly: true });
    const rows = db.prepare('SELECT delivery_id, outcome, run_id FROM deliveries').all() as Array<{
      delivery_id: string;
      outcome: string;
      run_id: number | null;
    }>;
    db.close();
    expect(rows.map((r) => r.delivery_id).sort()).toEqual([...accepted].sort());
    expect(rows.every((r) => r.outcome === 'queued' && r.run_id !== null)).toBe(true);
    // Coalescing: far fewer runs than pushes, every push folded into exactly one run.
    console.log(`runs for ${accepted.length} pushes: ${all.length}`);
    expect(all.length).toBeLessThan(accepted.length);
    expect(all.reduce((n, r) => n + r.pushes, 0)).toBe(accepted.length);
  });

  it('sets pending, then success, on each run’s commit in GitHub, with exact requests', () => {
    const byCommit = new Map<string, ApiRequest[]>();
    for (const r of api.requests) {
      const sha = r.url.split('/').pop() as string;
      byCommit.set(sha, [...(byCommit.get(sha) ?? []), r]);
    }
    expect(byCommit.size).toBeGreaterThan(3);
    for (const [sha, requests] of byCommit) {
      expect(requests.map((r) => (r.body as { state: string }).state)).toEqual(['pending', 'success']);
      for (const r of requests) {
        expect(r.method).toBe('POST');
        expect(r.url).toBe(`/repos/example/site/statuses/${sha}`);
        expect(r.headers.authorization).toBe(`Bearer ${GITHUB_TOKEN}`);
        expect(r.headers.accept).toBe('application/vnd.github+json');
        expect(r.headers['x-github-api-version']).toBe('2022-11-28');
        expect(r.body).toEqual({
          state: (r.body as { state: string }).state,
          target_url: expect.stringMatching(new RegExp(`^${serve.url}/runs/\\d+$`)),
          description: expect.stringMatching(/^sitepipe: /),
          context: 'sitepipe',
        });
      }
    }
  });

  it('shows the runs on the status page in Chromium, and a new one live', async () => {
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-quic',
        '--no-first-run',
      ],
    });
    try {
      const context = await browser.newContext({ httpCredentials: { username: 'ops', password: TOKEN } });
      const page = await context.newPage();
      await page.goto(`${serve.url}/`);
      const before = await runs();
      expect(await page.locator('tr.run').count()).toBe(before.length);
      for (const branch of BRANCHES) {
        const commit = finalCommit.get(branch) as string;
        const row = page.locator('tr.run', { hasText: commit.slice(0, 12) }).first();
        await expect(row.locator('.branch').textContent()).resolves.toBe(branch);
        await expect(row.locator('.status').textContent()).resolves.toMatch(/^succeeded/);
        await expect(row.locator('.steps').textContent()).resolves.toMatch(/render \d+\.\ds.*push \d+\.\ds/);
      }
      // A push while the page is open shows up without a reload, and turns succeeded.
      const commit = await site.commitAndPush('master', 'live <b>update</b>');
      const { run } = await deliver('master', commit, undefined, 'live <b>update</b>');
      await page.waitForSelector(`tr[data-run="${run}"]`, { timeout: 60_000 });
      await page.waitForSelector(`tr[data-run="${run}"][data-status="succeeded"]`, { timeout: 120_000 });
      // The message is text, not markup.
      expect(await page.locator(`tr[data-run="${run}"] .message`).textContent()).toBe('live <b>update</b>');
      const log = await page.request.get(`${serve.url}/runs/${run}/log`);
      expect(await log.text()).toMatch(/\[push\] ok/);
    } finally {
      await browser.close();
    }
  });

  it('never shows the webhook secret, the token, the GitHub token or the registry password', async () => {
    const texts: Array<[string, string]> = [['server output', serve.output()]];
    for (const file of await readdir(join(dataDir, 'logs'))) {
      texts.push([file, await readFile(join(dataDir, 'logs', file), 'utf8')]);
    }
    for (const file of (await readdir(dataDir)).filter((f) => f.startsWith('serve.db'))) {
      texts.push([file, (await readFile(join(dataDir, file))).toString('latin1')]);
    }
    const db = new Database(join(dataDir, 'serve.db'), { readonly: true });
    texts.push(['runs rows', JSON.stringify(db.prepare('SELECT * FROM runs').all())]);
    texts.push(['deliveries rows', JSON.stringify(db.prepare('SELECT * FROM deliveries').all())]);
    db.close();
    const all = await runs();
    for (const path of ['/', '/runs', '/metrics', `/runs/${all[0]?.id}`, `/runs/${all[0]?.id}/log`]) {
      texts.push([path, await (await fetch(`${serve.url}${path}`, { headers: auth })).text()]);
    }
    expect(texts.length).toBeGreaterThan(8);
    for (const [where, text] of texts) {
      for (const secret of [WEBHOOK_SECRET, TOKEN, GITHUB_TOKEN, REGISTRY_PASSWORD]) {
        expect(text.includes(secret), `${where} holds a secret`).toBe(false);
      }
    }
  });
});

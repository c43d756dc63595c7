import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../pipeline/paths.js';
import { SETUP_REGISTRY } from '../helpers/registry.js';
import { exampleConfig, exampleRepo, type SiteRepo } from '../helpers/site-repo.js';
import { type KubeSim, startKubeSim } from '../kube-sim/index.js';

const CLI = join(packageRoot(), 'dist', 'pipeline', 'cli.js');

/** One GET on a fresh connection (the sim's Service proxy picks a ready pod per connection). */
function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (e) => resolve({ status: 0, body: e.message }));
    });
    req.on('error', (e) => resolve({ status: 0, body: e.message }));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** Requests the page in a loop until stopped; counts failures and which release answered. */
function requestLoop(url: string, markers: string[]) {
  const seen = new Map<string, number>();
  const failures: string[] = [];
  let total = 0;
  let running = true;
  const done = (async () => {
    while (running) {
      const res = await get(url);
      total++;
      if (res.status !== 200) failures.push(`${res.status} ${res.body.slice(0, 80)}`);
      // Each release appends its marker, so the newest marker present names the release.
      const marker = [...markers].reverse().find((m) => res.body.includes(m)) ?? 'none';
      seen.set(marker, (seen.get(marker) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return { total, failures, seen };
    },
  };
}

describe('sitepipe deploy and rollback on replicas running as real containers (built CLI)', () => {
  let sim: KubeSim;
  let repo: SiteRepo;
  const repository = `${SETUP_REGISTRY}/live-${randomBytes(4).toString('hex')}/website`;
  const markers = ['release-A', 'release-B'];

  const sitepipe = (...args: string[]) =>
    execa('node', [CLI, ...args], {
      cwd: repo.dir,
      reject: false,
      env: { CI: 'true', KUBECONFIG: sim.kubeconfigPath },
    });

  async function release(marker: string) {
    const post = join(repo.dir, 'content/posts/hello-sitepipe.md');
    await writeFile(post, `${await readFile(post, 'utf8')}\n${marker}\n`);
    await repo.git('commit', '-qam', marker);
    const run = await sitepipe('run');
    expect(run.exitCode, `${run.stdout}\n${run.stderr}`).toBe(0);
  }

  beforeAll(async () => {
    sim = await startKubeSim({ realContainers: true, timeScale: 0.2 });
    const configYaml = await exampleConfig(repository, {
      sections: [
        'deploy:',
        '  hosts: [www.example.com]',
        '  progressDeadlineSeconds: 600',
        '  tls: { email: ops@example.com }',
        // www.example.com has no frontend here (verify.test.ts checks real ones).
        'verify: { enabled: false }',
      ],
    });
    repo = await exampleRepo({ configYaml });
  });
  afterAll(async () => {
    await sim?.stop();
    await repo?.remove();
  });

  it('serves every request through a roll to a new release and a rollback', async () => {
    await release('release-A');
    const { url } = await sim.serviceAddress('website', 'website');
    const page = `${url}/posts/hello-sitepipe/`;
    expect((await get(page)).body).toContain('release-A');

    const loop = requestLoop(page, markers);
    await release('release-B');
    expect((await get(page)).body).toContain('release-B');
    const back = await sitepipe('rollback');
    expect(back.exitCode, back.stderr).toBe(0);
    expect((await get(page)).body).not.toContain('release-B');
    const { total, failures, seen } = await loop.stop();

    expect(failures).toEqual([]);
    expect(total).toBeGreaterThan(50);
    expect(seen.get('release-A')).toBeGreaterThan(0);
    expect(seen.get('release-B')).toBeGreaterThan(0);

    const releases = await sitepipe('releases', '--json');
    const history = JSON.parse(releases.stdout) as Array<{ action: string; outcome: string }>;
    expect(history.map((r) => `${r.action}:${r.outcome}`)).toEqual([
      'rollback:live',
      'deploy:live',
      'deploy:live',
    ]);
  });
});

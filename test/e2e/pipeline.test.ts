import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../pipeline/paths.js';
import { PIPELINE } from '../../pipeline/pipeline.js';
import { freePort } from '../../steps/smoke.js';
import { SETUP_REGISTRY, startRegistry } from '../helpers/registry.js';
import { EXAMPLE_DIR, exampleRepo, type SiteRepo } from '../helpers/site-repo.js';

const CLI = join(packageRoot(), 'dist', 'pipeline', 'cli.js');

function sitepipe(args: string[], cwd: string) {
  return execa('node', [CLI, ...args], { cwd, reject: false, env: { CI: 'true' } });
}

async function skopeoInspect(ref: string): Promise<{ Digest: string; Labels: Record<string, string> }> {
  const { stdout } = await execa('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`]);
  return JSON.parse(stdout);
}

/** Pulls with skopeo (not the engine that pushed), runs the image on a free loopback port. */
async function serve(ref: string, port: number): Promise<{ base: string; stop(): Promise<void> }> {
  const local = `sitepipe-e2e-pulled:${randomBytes(4).toString('hex')}`;
  await execa('skopeo', ['copy', '--src-tls-verify=false', `docker://${ref}`, `docker-daemon:${local}`]);
  const { stdout: id } = await execa('docker', ['run', '-d', '--network', 'host', local]);
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (
      await fetch(`${base}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    async stop() {
      await execa('docker', ['rm', '-f', id.trim()]);
      await execa('docker', ['rmi', '-f', local]);
    },
  };
}

describe.each(['oci', 'docker'])(
  'sitepipe run with the %s builder on a copy of example/ (built CLI)',
  (builder) => {
    let repo: SiteRepo;
    let port: number;
    const repository = `${SETUP_REGISTRY}/e2e-${builder}-${randomBytes(4).toString('hex')}/website`;

    beforeAll(async () => {
      port = await freePort();
      const example = await readFile(join(EXAMPLE_DIR, 'sitepipe.yaml'), 'utf8');
      const configYaml = example
        .replace(/repository: .*/, `repository: ${repository}\n  port: ${port}\n  builder: ${builder}`)
        .replace(/credentials: .*/, 'credentials: none');
      repo = await exampleRepo({ branch: 'feature/e2e', configYaml });
    });
    afterAll(async () => {
      await repo?.remove();
    });

    it('pushes the commit and branch tags to one digest, which serves that commit', async () => {
      const commit = await repo.git('rev-parse', 'HEAD');
      const run = await sitepipe(['run'], repo.dir);
      expect(run.exitCode, run.stderr).toBe(0);
      const digest = /digest: (sha256:[0-9a-f]{64})/.exec(run.stdout)?.[1];
      expect(digest).toBeDefined();

      const byCommit = await skopeoInspect(`${repository}:${commit.slice(0, 12)}`);
      const byBranch = await skopeoInspect(`${repository}:feature-e2e`);
      expect(byCommit.Digest).toBe(digest);
      expect(byBranch.Digest).toBe(digest);
      expect(byCommit.Labels['org.opencontainers.image.revision']).toBe(commit);
      expect(byCommit.Labels['org.opencontainers.image.created']).toBe('2026-03-01T12:00:00.000Z');

      const site = await serve(`${repository}@${digest}`, port);
      try {
        const home = await fetch(`${site.base}/`);
        expect(home.status).toBe(200);
        const post = await (await fetch(`${site.base}/posts/hello-sitepipe/`)).text();
        const source = await readFile(join(repo.dir, 'content/posts/hello-sitepipe.md'), 'utf8');
        const title = /title\s*[:=]\s*"([^"\n]+)"/.exec(source)?.[1] ?? '';
        expect(title).not.toBe('');
        expect(post).toContain(title);
        expect((await fetch(`${site.base}/index.xml`)).status).toBe(200);
        const css = await (await fetch(`${site.base}/css/syntax.css`)).text();
        expect(css).toContain('.highlight');
        expect((await fetch(`${site.base}/no-such-page/`)).status).toBe(404);
      } finally {
        await site.stop();
      }
    });

    it('a new commit gets its own tag and content; the old commit tag keeps the old site', async () => {
      const first = (await repo.git('rev-parse', 'HEAD')).slice(0, 12);
      const marker = `e2e-marker-${randomBytes(4).toString('hex')}`;
      const postPath = join(repo.dir, 'content/posts/hello-sitepipe.md');
      await writeFile(postPath, `${await readFile(postPath, 'utf8')}\n\nEdited: ${marker}\n`);
      await repo.git('commit', '-qam', 'edit a post');
      const second = (await repo.git('rev-parse', 'HEAD')).slice(0, 12);

      const run = await sitepipe(['run', '--json'], repo.dir);
      expect(run.exitCode, run.stderr).toBe(0);
      const events = run.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      const result = events.find((e) => e.event === 'result');
      expect(result.tags).toEqual([second, 'feature-e2e']);
      const ended: string[] = events.filter((e) => e.event === 'step-end').map((e) => e.step);
      expect([...ended].sort()).toEqual(PIPELINE.map((s) => s.name).sort());
      // Steps run side by side, but none ends before a step it needs.
      for (const step of PIPELINE)
        for (const need of step.needs) expect(ended.indexOf(need)).toBeLessThan(ended.indexOf(step.name));

      const newSite = await serve(`${repository}:${second}`, port);
      try {
        expect(await (await fetch(`${newSite.base}/posts/hello-sitepipe/`)).text()).toContain(marker);
      } finally {
        await newSite.stop();
      }
      const oldSite = await serve(`${repository}:${first}`, port);
      try {
        expect(await (await fetch(`${oldSite.base}/posts/hello-sitepipe/`)).text()).not.toContain(marker);
      } finally {
        await oldSite.stop();
      }
      expect((await skopeoInspect(`${repository}:feature-e2e`)).Digest).toBe(result.digest);
    });

    it('--dry-run changes nothing in the registry and says what it would push', async () => {
      await writeFile(
        join(repo.dir, 'content/posts/dry.md'),
        '---\ntitle: Dry\ndate: 2026-03-02\n---\nDry run.\n',
      );
      await repo.git('add', '-A');
      await repo.git('commit', '-qm', 'dry');
      const sha = (await repo.git('rev-parse', 'HEAD')).slice(0, 12);
      const run = await sitepipe(['run', '--dry-run'], repo.dir);
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.stdout).toContain(`would push ${repository}:${sha}, ${repository}:feature-e2e`);
      const tags = await fetch(
        `http://${SETUP_REGISTRY}/v2/${repository.split('/').slice(1).join('/')}/tags/list`,
      );
      expect(((await tags.json()) as { tags: string[] }).tags).not.toContain(sha);
    });
  },
);

describe('sitepipe with bad input (built CLI)', () => {
  it('exits non-zero with CONFIG_MISSING and a hint when there is no config', async () => {
    const dir = await exampleRepo();
    try {
      const run = await sitepipe(['run', '--config', 'nope.yaml'], dir.dir);
      expect(run.exitCode).toBe(1);
      expect(run.stderr).toMatch(/^error\[CONFIG_MISSING\]: no config file at .*nope\.yaml$/m);
      expect(run.stderr).toMatch(/hint: run `sitepipe init --repository REGISTRY\/NAME`/);
    } finally {
      await dir.remove();
    }
  });

  it('lists every config problem at once, and does nothing else', async () => {
    const dir = await exampleRepo({
      configYaml: 'hugo: { version: latest }\nimage: { repository: Bad Name }\nextra: 1\n',
    });
    try {
      const run = await sitepipe(['run', '--json'], dir.dir);
      expect(run.exitCode).toBe(1);
      const events = run.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      expect(events.map((e) => e.event)).toEqual(['error']);
      expect(events[0].code).toBe('CONFIG_INVALID');
      expect(events[0].details.join('\n')).toMatch(/hugo\.version[\s\S]*extra/);
    } finally {
      await dir.remove();
    }
  });

  it('refuses an invalid image name before building anything', async () => {
    const example = await readFile(join(EXAMPLE_DIR, 'sitepipe.yaml'), 'utf8');
    const dir = await exampleRepo({
      configYaml: example.replace(/repository: .*/, 'repository: 127.0.0.1:5000/Web Site'),
    });
    try {
      const run = await sitepipe(['run'], dir.dir);
      expect(run.exitCode).toBe(1);
      expect(run.stderr).toMatch(/error\[CONFIG_INVALID\]/);
      expect(run.stderr).toMatch(
        /image\.repository: "127\.0\.0\.1:5000\/Web Site" is not a valid image name/,
      );
      expect(run.stdout).not.toMatch(/\[image\]/);
    } finally {
      await dir.remove();
    }
  });
});

describe('pushing with credentials (built CLI, registry with htpasswd)', () => {
  it('pushes with env credentials and never prints the password', async () => {
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const registry = await startRegistry({ user: 'ci', password });
    const example = await readFile(join(EXAMPLE_DIR, 'sitepipe.yaml'), 'utf8');
    const configYaml = example
      .replace(/repository: .*/, `repository: ${registry.host}/site`)
      .replace(/credentials: .*/, 'credentials: env');
    const repo = await exampleRepo({ configYaml });
    try {
      const env = { SITEPIPE_REGISTRY_USERNAME: 'ci', SITEPIPE_REGISTRY_PASSWORD: password };
      const ok = await execa('node', [CLI, 'run', '--json'], { cwd: repo.dir, reject: false, env });
      expect(ok.exitCode, ok.stderr).toBe(0);
      expect(`${ok.stdout}${ok.stderr}`).not.toContain(password);
      const wrong = await execa('node', [CLI, 'run'], {
        cwd: repo.dir,
        reject: false,
        env: { ...env, SITEPIPE_REGISTRY_PASSWORD: `${password}-wrong` },
      });
      expect(wrong.exitCode).toBe(1);
      expect(wrong.stderr).toMatch(/error\[REGISTRY_AUTH_FAILED\]/);
      expect(`${wrong.stdout}${wrong.stderr}`).not.toContain(password);
    } finally {
      await repo.remove();
      await registry.stop();
    }
  });
});

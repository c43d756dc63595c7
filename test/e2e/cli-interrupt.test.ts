import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../pipeline/paths.js';
import { SETUP_REGISTRY } from '../helpers/registry.js';
import { exampleConfig, exampleRepo, type SiteRepo } from '../helpers/site-repo.js';

const CLI = join(packageRoot(), 'dist', 'pipeline', 'cli.js');

interface Run {
  child: ChildProcessByStdio<null, Readable, Readable>;
  stdout: string;
  stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * `sitepipe run …` as a terminal starts it: in a process group of its own, which Ctrl-C
 * signals as a whole (Hugo, git and pygmentize get the SIGINT too).
 */
function start(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Run {
  const child = spawn('node', [CLI, 'run', ...args], {
    cwd,
    detached: true,
    env: { ...process.env, CI: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: Run = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal }))),
  };
  child.stdout.on('data', (d: Buffer) => {
    run.stdout += d;
  });
  child.stderr.on('data', (d: Buffer) => {
    run.stderr += d;
  });
  return run;
}

/** Waits until the run has reached the point to interrupt it at. */
async function until(run: Run, reached: () => boolean | Promise<boolean>): Promise<void> {
  let ended = false;
  void run.exited.then(() => {
    ended = true;
  });
  while (!(await reached())) {
    if (ended) throw new Error(`the run ended before it got there:\n${run.stdout}\n${run.stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const ctrlC = (run: Run) => process.kill(-(run.child.pid as number), 'SIGINT');
const sigterm = (run: Run) => process.kill(run.child.pid as number, 'SIGTERM');

const names = (dir: string, prefix: string) =>
  existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith(prefix)) : [];
/** Render's temp trees (<state>/public.tmp-*). */
const renderTrees = (stateDir: string) => names(stateDir, 'public.tmp-');
const heldLocks = (stateDir: string) => names(join(stateDir, 'locks'), '').filter((n) => n.endsWith('.lock'));

async function smokeContainers(run: Run): Promise<string[]> {
  const owner = `${hostname()}:${run.child.pid}`;
  const { stdout } = await execa('docker', [
    'ps',
    '-aq',
    '--filter',
    'label=io.sitepipe.smoke',
    '--filter',
    `label=io.sitepipe.owner=${owner}`,
  ]);
  return stdout.split('\n').filter(Boolean);
}

/** A copy of example/ pushing to a repository of its own, with extra files committed. */
async function site(extra: Record<string, string | Buffer> = {}, image: string[] = []): Promise<SiteRepo> {
  const repository = `${SETUP_REGISTRY}/cli-interrupt-${randomBytes(4).toString('hex')}/website`;
  const repo = await exampleRepo({ configYaml: await exampleConfig(repository, { image }) });
  for (const [path, content] of Object.entries(extra)) {
    await mkdir(join(repo.dir, path, '..'), { recursive: true });
    await writeFile(join(repo.dir, path), content);
  }
  await repo.git('add', '-A');
  await repo.git('commit', '-qm', 'more', '--allow-empty');
  return repo;
}

/** Enough posts that Hugo renders for a few seconds. */
function posts(count: number): Record<string, string> {
  const body = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(100);
  return Object.fromEntries(
    Array.from({ length: count }, (_, i) => [
      `content/posts/many/p${i}.md`,
      `---\ntitle: "Post ${i}"\ndate: 2026-01-01\ntags: [t${i % 40}]\n---\n\n${body}\n`,
    ]),
  );
}

describe('an interrupted run (built CLI): ABORTED, the signal’s exit code, nothing left behind', () => {
  const repos: SiteRepo[] = [];
  const temps: string[] = [];
  let big: SiteRepo;
  /** A state dir outside the site, whose work tree must stay clean. */
  const stateDir = async () => {
    temps.push(await mkdtemp(join(tmpdir(), 'sitepipe-cli-state-')));
    return temps.at(-1) as string;
  };
  beforeAll(async () => {
    big = await site(posts(1500));
    repos.push(big);
  });
  afterAll(async () => {
    await Promise.all([
      ...repos.map((r) => r.remove()),
      ...temps.map((t) => rm(t, { recursive: true, force: true })),
    ]);
  });

  it('Ctrl-C while Hugo renders: the terminal kills Hugo too, and the temp tree is removed', async () => {
    const state = await stateDir();
    const run = start(['--state-dir', state], big.dir);
    await until(run, () => renderTrees(state).length > 0);
    ctrlC(run);
    expect(await run.exited).toEqual({ code: 130, signal: null });
    expect(run.stderr).toContain('error[ABORTED]: the run was interrupted (SIGINT)');
    expect(renderTrees(state)).toEqual([]);
    expect(heldLocks(state)).toEqual([]);
  });

  it('a reader that closes stdout mid-run: the run stops and cleans up, quietly, with 141', async () => {
    const state = await stateDir();
    const run = start(['--state-dir', state], big.dir);
    await until(run, () => renderTrees(state).length > 0);
    run.child.stdout.destroy();
    expect(await run.exited).toEqual({ code: 141, signal: null });
    expect(run.stderr).not.toMatch(/EPIPE|^\s+at /m);
    expect(renderTrees(state)).toEqual([]);
    expect(heldLocks(state)).toEqual([]);
  });

  it('SIGTERM during smoke (--json): an ABORTED event, 143, the smoke container removed', async () => {
    const repo = await site();
    repos.push(repo);
    const run = start(['--json'], repo.dir);
    await until(run, async () => (await smokeContainers(run)).length > 0);
    sigterm(run);
    expect(await run.exited).toEqual({ code: 143, signal: null });
    const events = run.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(events.filter((e) => e.event === 'error')).toEqual([
      expect.objectContaining({ code: 'ABORTED', message: 'the run was interrupted (SIGTERM)' }),
    ]);
    expect(await smokeContainers(run)).toEqual([]);
    expect(heldLocks(join(repo.dir, '.sitepipe'))).toEqual([]);
  });

  it('SIGTERM while the image layers are built: no temp blob left in the store', async () => {
    const media = Object.fromEntries(
      Array.from({ length: 16 }, (_, i) => [`static/data/d${i}.bin`, randomBytes(4 << 20)]),
    );
    const repo = await site(media);
    repos.push(repo);
    const cache = await stateDir();
    const run = start([], repo.dir, { XDG_CACHE_HOME: cache });
    await until(run, () => run.stdout.includes('[render] ok'));
    sigterm(run);
    expect(await run.exited).toEqual({ code: 143, signal: null });
    expect(run.stderr).toContain('error[ABORTED]: the run was interrupted (SIGTERM)');
    expect(names(join(cache, 'sitepipe', 'oci', 'blobs'), '.tmp-')).toEqual([]);
  });

  it('Ctrl-C during a docker build: ABORTED, not IMAGE_BUILD_FAILED', async () => {
    const repo = await site({}, ['builder: docker']);
    repos.push(repo);
    const run = start([], repo.dir);
    await until(run, () => /\[image\] Step \d+/.test(run.stdout));
    ctrlC(run);
    expect(await run.exited).toEqual({ code: 130, signal: null });
    expect(run.stderr).toContain('error[ABORTED]: the run was interrupted (SIGINT)');
    expect(run.stderr).not.toContain('IMAGE_BUILD_FAILED');
  });
});

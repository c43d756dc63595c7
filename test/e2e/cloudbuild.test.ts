import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDocker } from '../../pipeline/clients/docker.js';
import { parseBuildConfig } from '../../pipeline/cloudbuild/build-config.js';
import { type LocalBuildResult, runLocalBuild } from '../../pipeline/cloudbuild/local.js';
import { localBuiltIns } from '../../pipeline/cloudbuild/workspace.js';
import { LOCAL_PROJECT_ID, registerCloudbuild } from '../../pipeline/commands/cloudbuild.js';
import { configSchema, loadConfig } from '../../pipeline/config.js';
import { Reporter } from '../../pipeline/output.js';
import { packageRoot } from '../../pipeline/paths.js';
import { PIPELINE } from '../../pipeline/pipeline.js';
import type { Outputs, StepName } from '../../pipeline/records.js';
import { runPipeline } from '../../pipeline/runner.js';
import { readRecord } from '../../pipeline/state.js';
import { collectLog, ensureStandinBuilders } from '../helpers/cloudbuild.js';
import { SETUP_REGISTRY } from '../helpers/registry.js';
import { EXAMPLE_DIR, exampleRepo, type SiteRepo } from '../helpers/site-repo.js';

// The whole loop on a copy of example/: `sitepipe cloudbuild` writes cloudbuild.yaml, which is
// committed and run as Cloud Build would run it (`sitepipe cloudbuild local`: each step in the
// sitepipe builder stand-in on the local engine), and the site image lands in the local
// registry under its branch and commit tags.

/** The daemonless builder, whose images are reproducible, exists in this version's config. */
const ociBuilder = configSchema.safeParse({
  hugo: { version: '0.111.3' },
  image: { repository: 'x/y', builder: 'oci' },
}).success;

async function skopeoDigest(ref: string): Promise<string> {
  const { stdout } = await execa('skopeo', [
    'inspect',
    '--tls-verify=false',
    '--format',
    '{{.Digest}}',
    `docker://${ref}`,
  ]);
  return stdout.trim();
}

/** `sitepipe cloudbuild …` through the command's own argument parsing, in this process. */
async function sitepipeCloudbuild(args: string[]): Promise<void> {
  const program = new Command('sitepipe').exitOverride();
  registerCloudbuild(program);
  const before = process.exitCode;
  await program.parseAsync(['node', 'sitepipe', 'cloudbuild', ...args]);
  const code = process.exitCode;
  process.exitCode = before;
  expect(code ?? 0, `sitepipe cloudbuild ${args.join(' ')}`).toBe(0);
}

async function siteRepo(
  builder: 'oci' | 'docker',
  repository: string,
  branch: string,
  generateArgs: string[] = [],
): Promise<SiteRepo> {
  const example = await readFile(join(EXAMPLE_DIR, 'sitepipe.yaml'), 'utf8');
  const configYaml = example
    .replace(/repository: .*/, `repository: ${repository}\n  builder: ${builder}`)
    .replace(/credentials: .*/, 'credentials: none');
  const repo = await exampleRepo({ branch, configYaml });
  await sitepipeCloudbuild([
    '--config',
    repo.config,
    '--out',
    join(repo.dir, 'cloudbuild.yaml'),
    ...generateArgs,
  ]);
  await repo.git('add', 'cloudbuild.yaml');
  await repo.git('commit', '-qm', 'cloudbuild.yaml from sitepipe cloudbuild');
  await sitepipeCloudbuild([
    '--config',
    repo.config,
    '--out',
    join(repo.dir, 'cloudbuild.yaml'),
    '--check',
    ...generateArgs,
  ]);
  return repo;
}

/** What `sitepipe cloudbuild local cloudbuild.yaml` does, with the structured result kept. */
async function cloudbuildLocal(
  repo: SiteRepo,
): Promise<{ result: LocalBuildResult; log: string; seconds: number }> {
  const file = join(repo.dir, 'cloudbuild.yaml');
  const log = collectLog();
  const started = Date.now();
  try {
    const result = await runLocalBuild({
      build: parseBuildConfig(await readFile(file, 'utf8'), file),
      configFile: file,
      sourceDir: repo.dir,
      docker: await connectDocker(process.env),
      log,
      builtIns: await localBuiltIns(repo.dir, { projectId: LOCAL_PROJECT_ID, configFile: file }),
      keepWorkspace: true,
    });
    return { result, log: log.text(), seconds: (Date.now() - started) / 1000 };
  } catch (e) {
    await removeWorkspace((e as { result?: LocalBuildResult }).result);
    throw new Error(`${(e as Error).message}\n${log.text()}`);
  }
}

/** A step's record in the build's /workspace/.sitepipe, read as `sitepipe run <step>` reads it. */
function record<N extends StepName>(result: LocalBuildResult, step: N): Promise<Outputs[N]> {
  return readRecord(join(result.workspace ?? '', '.sitepipe'), step);
}

async function removeWorkspace(result: LocalBuildResult | undefined): Promise<void> {
  if (result?.workspace) await rm(join(result.workspace, '..'), { recursive: true, force: true });
}

beforeAll(async () => {
  await ensureStandinBuilders();
});

describe('cloudbuild.yaml for a copy of example/, run the way Cloud Build runs it (default builder)', () => {
  const repository = `${SETUP_REGISTRY}/e2e-cb-${randomBytes(4).toString('hex')}/website`;
  let repo: SiteRepo;
  let first: LocalBuildResult | undefined;

  beforeAll(async () => {
    repo = await siteRepo('oci', repository, 'feature/cloud-build');
  });
  afterAll(async () => {
    await removeWorkspace(first);
    await repo?.remove();
  });

  it('pushes the image under the branch and commit tags, and the cache image', async () => {
    const commit = await repo.git('rev-parse', 'HEAD');
    const run = await cloudbuildLocal(repo);
    first = run.result;
    console.log(`cloudbuild local (cold cache): ${run.seconds.toFixed(1)} s`);
    expect(run.result.status).toBe('SUCCESS');
    for (const step of PIPELINE) {
      expect(run.result.steps.find((s) => s.id === step.name)?.status, step.name).toBe('SUCCESS');
    }
    const pushed = await record(run.result, 'push');
    expect(pushed.tags).toEqual([commit.slice(0, 12), 'feature-cloud-build']);
    expect(await skopeoDigest(`${repository}:${commit.slice(0, 12)}`)).toBe(pushed.digest);
    expect(await skopeoDigest(`${repository}:feature-cloud-build`)).toBe(pushed.digest);
    expect(run.result.images).toEqual([
      { name: `${repository}/sitepipe-cache:latest`, digest: expect.stringMatching(/^sha256:/) },
    ]);
    expect(run.log).toMatch(/this build starts cold/);
  });

  it('a second build restores the cache and pushes the same image', async () => {
    const run = await cloudbuildLocal(repo);
    try {
      console.log(`cloudbuild local (warm cache): ${run.seconds.toFixed(1)} s`);
      expect(run.result.status).toBe('SUCCESS');
      expect(run.log).toMatch(/Step #0 - "cache-restore": restored .* of cache from/);
      if (ociBuilder && first) {
        expect((await record(run.result, 'push')).digest).toBe((await record(first, 'push')).digest);
      }
    } finally {
      await removeWorkspace(run.result);
    }
  });

  it.skipIf(!ociBuilder)(
    'the digest equals what a local `sitepipe run` of the same commit pushes (daemonless builder)',
    async () => {
      expect(first, 'the first test ran the Cloud Build config').toBeDefined();
      const built = await record(first as LocalBuildResult, 'push');
      const loaded = await loadConfig(repo.config);
      const stateDir = await mkdtemp(join(tmpdir(), 'sitepipe-e2e-state-'));
      const out: string[] = [];
      try {
        const outputs = await runPipeline({
          pipeline: PIPELINE,
          only: [],
          reporter: new Reporter('plain', { write: (t: string) => out.push(t) }),
          context: {
            config: loaded.config,
            configPath: loaded.path,
            siteDir: loaded.siteDir,
            stateDir,
            cacheDir: join(stateDir, 'cache'),
            dryRun: false,
            allowDirty: false,
            signal: new AbortController().signal,
            env: process.env,
          },
        });
        expect(outputs.push?.digest, out.join('')).toBe(built.digest);
      } finally {
        await rm(stateDir, { recursive: true, force: true });
      }
    },
  );
});

describe('cloudbuild.yaml with the Docker path (image.builder: docker, the engine through /var/run/docker.sock)', () => {
  const repository = `${SETUP_REGISTRY}/e2e-cb-${randomBytes(4).toString('hex')}/website`;
  let repo: SiteRepo;
  let result: LocalBuildResult | undefined;

  beforeAll(async () => {
    repo = await siteRepo('docker', repository, 'main');
  });
  afterAll(async () => {
    await removeWorkspace(result);
    await repo?.remove();
  });

  it('builds with the Docker engine and pushes the branch and commit tags', async () => {
    const commit = await repo.git('rev-parse', 'HEAD');
    const run = await cloudbuildLocal(repo);
    result = run.result;
    console.log(`cloudbuild local (Docker path): ${run.seconds.toFixed(1)} s`);
    expect(run.result.status).toBe('SUCCESS');
    const image = await record(run.result, 'image');
    expect(image.builder).toBe('docker');
    const pushed = await record(run.result, 'push');
    // With the Docker builder digests differ from run to run; the tags must agree with each other.
    expect(await skopeoDigest(`${repository}:${commit.slice(0, 12)}`)).toBe(pushed.digest);
    expect(await skopeoDigest(`${repository}:main`)).toBe(pushed.digest);
  });
});

/**
 * The builder image runs sitepipe's real CLI, whose `cloudbuild docker-context` and
 * `cloudbuild docker-image` exist once pipeline/cli.ts calls registerCloudbuild(program).
 */
const cliHasCloudbuild = readFileSync(join(packageRoot(), 'pipeline', 'cli.ts'), 'utf8').includes(
  'registerCloudbuild(',
);

describe.skipIf(!cliHasCloudbuild)(
  'cloudbuild.yaml with the Docker path built by the standard Docker builder (--image-step docker-builder; skipped until pipeline/cli.ts registers the cloudbuild commands)',
  () => {
    const repository = `${SETUP_REGISTRY}/e2e-cb-${randomBytes(4).toString('hex')}/website`;
    let repo: SiteRepo;
    let result: LocalBuildResult | undefined;

    beforeAll(async () => {
      repo = await siteRepo('docker', repository, 'release/1.x', ['--image-step', 'docker-builder']);
    });
    afterAll(async () => {
      await removeWorkspace(result);
      await repo?.remove();
    });

    it('sitepipe writes the context, gcr.io/cloud-builders/docker builds it, smoke and push ship it', async () => {
      const commit = await repo.git('rev-parse', 'HEAD');
      const run = await cloudbuildLocal(repo);
      result = run.result;
      console.log(`cloudbuild local (Docker builder step): ${run.seconds.toFixed(1)} s`);
      expect(run.result.status).toBe('SUCCESS');
      expect(run.result.steps.find((s) => s.id === 'image-build')?.name).toBe('gcr.io/cloud-builders/docker');
      expect(run.log).toMatch(
        /Step #\d+ - "image-build": Step 1\/\d+ : ARG SITEPIPE_BUILDER_IMAGE="127\.0\.0\.1:5000/,
      );
      const image = await record(run.result, 'image');
      expect(image.labels['org.opencontainers.image.revision']).toBe(commit);
      const pushed = await record(run.result, 'push');
      expect(await skopeoDigest(`${repository}:${commit.slice(0, 12)}`)).toBe(pushed.digest);
      expect(await skopeoDigest(`${repository}:release-1.x`)).toBe(pushed.digest);
    });
  },
);

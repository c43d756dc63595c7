// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are Dockerfile and Cloud Build text
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type BuildConfig, parseBuildConfig } from '../../pipeline/cloudbuild/build-config.js';
import { bakeDockerfile } from '../../pipeline/cloudbuild/docker-context.js';
import {
  CACHE_IMAGE_SUBSTITUTION,
  CACHE_RESTORE_ID,
  CACHE_SAVE_ID,
  DOCKER_CONTEXT,
  escapeDollars,
  generateCloudBuild,
  renderCloudBuildYaml,
  STATE_DIR,
  UNSHALLOW_ID,
} from '../../pipeline/cloudbuild/generate.js';
import { substituteBuild } from '../../pipeline/cloudbuild/substitute.js';
import { generateForConfig } from '../../pipeline/commands/cloudbuild.js';
import { parseConfig } from '../../pipeline/config.js';
import { packageRoot } from '../../pipeline/paths.js';
import { PIPELINE } from '../../pipeline/pipeline.js';
import { dependencies } from '../../pipeline/step.js';
import { buildConfigProblems } from '../helpers/cloudbuild.js';

const config = parseConfig(
  'hugo: { version: 0.111.3 }\nimage: { repository: gcr.io/my-project/website }\nsmoke: { timeoutSeconds: 30 }\n',
  'test',
);

function generate(
  settings: Parameters<typeof generateCloudBuild>[0]['settings'] = {},
  withConfig = config,
): BuildConfig {
  return generateCloudBuild({
    config: withConfig,
    configPath: 'site/sitepipe.yaml',
    pipeline: PIPELINE,
    settings,
    version: '1.2.3',
  });
}

const stepById = (build: BuildConfig, id: string) => build.steps.find((s) => s.id === id);

describe('the root cloudbuild.yaml', () => {
  it('is exactly what `sitepipe cloudbuild` generates for example/ (regenerate it when this fails)', async () => {
    const { text, configPath } = await generateForConfig(join(packageRoot(), 'example', 'sitepipe.yaml'));
    expect(configPath).toBe('example/sitepipe.yaml');
    const committed = await readFile(join(packageRoot(), 'cloudbuild.yaml'), 'utf8');
    expect(committed, 'run: sitepipe cloudbuild --config example/sitepipe.yaml --out cloudbuild.yaml').toBe(
      text,
    );
  });

  it('is a valid Build of the Cloud Build API (its cloudbuild.proto)', async () => {
    const doc = parse(await readFile(join(packageRoot(), 'cloudbuild.yaml'), 'utf8'));
    expect(buildConfigProblems(doc)).toEqual([]);
  });
});

describe('generateCloudBuild', () => {
  it('is a valid Build (cloudbuild.proto) in every shape it takes', () => {
    const shapes = [
      generate(),
      generate({ cache: { enabled: false } }),
      generate({
        builder: 'europe-docker.pkg.dev/$PROJECT_ID/tools/sitepipe:1',
        substitutions: { _ENV: 'prod' },
      }),
      generate({ machineType: 'E2_MEDIUM', logging: 'GCS_ONLY', timeoutSeconds: 7200 }),
    ];
    for (const build of shapes) expect(buildConfigProblems(JSON.parse(JSON.stringify(build)))).toEqual([]);
  });

  it('the Build check is real: it rejects what Cloud Build rejects', () => {
    const build = JSON.parse(JSON.stringify(generate())) as {
      steps: Array<Record<string, unknown>>;
      timeout: string;
    };
    (build.steps[0] as Record<string, unknown>).command = 'nope';
    build.timeout = '10 minutes';
    expect(buildConfigProblems(build)).toEqual([
      'steps[0].command: BuildStep has no field command',
      'timeout: expected a duration in seconds like "600s" or "3.5s", got "10 minutes"',
    ]);
  });

  it('runs every pipeline step as `sitepipe run <step>` in the builder, sharing /workspace/.sitepipe', () => {
    const build = generate();
    for (const step of PIPELINE) {
      expect(stepById(build, step.name)).toMatchObject({
        name: 'gcr.io/$PROJECT_ID/sitepipe:1.2.3',
        entrypoint: 'sitepipe',
        args: ['run', step.name, '--config', 'site/sitepipe.yaml', '--state-dir', STATE_DIR, '--json'],
      });
    }
    expect(build.steps.map((s) => s.id)).toEqual(
      expect.arrayContaining([...PIPELINE.map((s) => s.name), CACHE_RESTORE_ID, CACHE_SAVE_ID]),
    );
  });

  it('fetches the history of a shallow trigger checkout before source, when media times come from git', () => {
    const build = generate();
    const unshallow = stepById(build, UNSHALLOW_ID);
    expect(unshallow).toMatchObject({
      name: 'gcr.io/$PROJECT_ID/sitepipe:1.2.3',
      entrypoint: 'bash',
      waitFor: ['-'],
    });
    expect(unshallow?.args?.[1]).toContain('git fetch --unshallow');
    // $(…) reaches bash as written: Cloud Build would substitute a single $.
    expect(unshallow?.args?.[1]).toContain('$$(git rev-parse --is-shallow-repository');
    expect(stepById(build, 'source')?.waitFor).toEqual([UNSHALLOW_ID]);
    for (const image of ['mediaTimes: commit', 'builder: docker']) {
      const other = generate(
        {},
        parseConfig(`hugo: { version: 0.111.3 }\nimage: { repository: gcr.io/p/w, ${image} }\n`, 'test'),
      );
      expect(
        other.steps.some((s) => s.id === UNSHALLOW_ID),
        image,
      ).toBe(false);
    }
  });

  it('derives waitFor from needs and awaits: a step with no needs starts at once', () => {
    const build = generate({ cache: { enabled: false } });
    for (const step of PIPELINE) {
      // source also waits for the history of a shallow checkout (below).
      const after = [...dependencies(step), ...(step.name === 'source' ? [UNSHALLOW_ID] : [])];
      expect(stepById(build, step.name)?.waitFor).toEqual(after.length > 0 ? after : ['-']);
    }
    expect(stepById(build, 'hugo')?.waitFor).toEqual(['-']);
    expect(stepById(build, 'pygments')?.waitFor).toEqual(['-']);
    expect(stepById(build, UNSHALLOW_ID)?.waitFor).toEqual(['-']);
  });

  it('with the cache: restore starts at once, Hugo and Pygments wait for it, save follows render', () => {
    const build = generate();
    expect(stepById(build, CACHE_RESTORE_ID)?.waitFor).toEqual(['-']);
    expect(stepById(build, 'hugo')?.waitFor).toEqual([CACHE_RESTORE_ID]);
    expect(stepById(build, 'pygments')?.waitFor).toEqual([CACHE_RESTORE_ID]);
    expect(stepById(build, CACHE_SAVE_ID)?.waitFor).toEqual(['render']);
    expect(build.substitutions).toEqual({
      [CACHE_IMAGE_SUBSTITUTION]: 'gcr.io/my-project/website/sitepipe-cache:latest',
    });
    expect(build.images).toEqual([`$${CACHE_IMAGE_SUBSTITUTION}`]);
    expect(stepById(build, CACHE_SAVE_ID)?.name).toBe('gcr.io/cloud-builders/docker');
  });

  it('lists every step after the steps it waits for, as Cloud Build requires', () => {
    const build = generate();
    const seen = new Set(['-']);
    for (const step of build.steps) {
      for (const dep of step.waitFor ?? []) expect(seen.has(dep), `${step.id} waits for ${dep}`).toBe(true);
      seen.add(step.id ?? '');
    }
  });

  it('sets the build timeout, options and per-step timeouts no longer than the build', () => {
    const build = generate({ timeoutSeconds: 600 });
    expect(build.timeout).toBe('600s');
    // No machineType: the API's standard machine (e2-standard-2) is enough for a static site.
    expect(build.options).toEqual({
      logging: 'CLOUD_LOGGING_ONLY',
      // Cloud Logging reads the steps' --json events (severity, message) as structured entries.
      enableStructuredLogging: true,
    });
    for (const step of build.steps) expect(Number.parseInt(step.timeout ?? '', 10)).toBeLessThanOrEqual(600);
    expect(stepById(generate(), 'smoke')?.timeout).toBe('330s');
  });

  it('hands Cloud Build built-ins to the source step and user substitutions to every sitepipe step', () => {
    const build = generate({ substitutions: { _ENV: 'prod' } });
    expect(stepById(build, 'source')?.env).toEqual(
      expect.arrayContaining(['BRANCH_NAME=$BRANCH_NAME', 'COMMIT_SHA=$COMMIT_SHA', '_ENV=$_ENV']),
    );
    expect(stepById(build, 'render')?.env).toContain('_ENV=$_ENV');
    expect(build.substitutions?._ENV).toBe('prod');
  });

  it('passes Cloud Build substitution checks: no unknown keys, every user substitution used', () => {
    const build = generate({ substitutions: { _ENV: 'prod' } });
    const { build: out } = substituteBuild(build, {
      builtIns: { PROJECT_ID: 'p1', BRANCH_NAME: 'main', COMMIT_SHA: 'a'.repeat(40) },
    });
    expect(stepById(out, 'source')?.name).toBe('gcr.io/p1/sitepipe:1.2.3');
    const script = stepById(out, CACHE_SAVE_ID)?.args?.[1] ?? '';
    expect(script).toContain('docker build --quiet --tag "$CACHE_IMAGE"');
    expect(script).not.toContain('$$');
  });

  it('with imageStep docker-builder: sitepipe writes the context, the standard Docker builder builds it', () => {
    const dockerConfig = parseConfig(
      'hugo: { version: 0.111.3 }\nimage: { repository: gcr.io/my-project/website, builder: docker }\n',
      'test',
    );
    const build = generateCloudBuild({
      config: dockerConfig,
      configPath: 'sitepipe.yaml',
      pipeline: PIPELINE,
      settings: { imageStep: 'docker-builder' },
      version: '1.2.3',
    });
    expect(buildConfigProblems(JSON.parse(JSON.stringify(build)))).toEqual([]);
    const image = PIPELINE.find((s) => s.name === 'image');
    expect(stepById(build, 'image-context')).toMatchObject({
      entrypoint: 'sitepipe',
      args: [
        'cloudbuild',
        'docker-context',
        '--out',
        DOCKER_CONTEXT,
        '--config',
        'sitepipe.yaml',
        '--state-dir',
        STATE_DIR,
        '--json',
      ],
      waitFor: image ? dependencies(image) : undefined,
    });
    expect(stepById(build, 'image-build')).toEqual({
      id: 'image-build',
      name: 'gcr.io/cloud-builders/docker',
      args: ['build', '--network=host', '--tag', 'sitepipe-build:$BUILD_ID', DOCKER_CONTEXT],
      waitFor: ['image-context'],
      timeout: '1800s',
    });
    expect(stepById(build, 'image')).toMatchObject({
      args: [
        'cloudbuild',
        'docker-image',
        'sitepipe-build:$BUILD_ID',
        '--config',
        'sitepipe.yaml',
        '--state-dir',
        STATE_DIR,
        '--json',
      ],
      waitFor: ['image-build'],
    });
    expect(() => generate({ imageStep: 'docker-builder' })).toThrowError(
      expect.objectContaining({ code: 'CLOUDBUILD_GENERATE_FAILED' }),
    );
  });

  it('bakes build arguments and labels into the Dockerfile for the Docker builder', () => {
    const baked = bakeDockerfile(
      'ARG BUILDER_IMAGE\nFROM ${BUILDER_IMAGE}\nARG HUGO_BASEURL=""\nARG OTHER\n',
      { BUILDER_IMAGE: 'debian:12', HUGO_BASEURL: 'https://x.test/a "b"' },
      { 'org.opencontainers.image.revision': 'abc' },
    );
    expect(baked).toBe(
      'ARG BUILDER_IMAGE="debian:12"\nFROM ${BUILDER_IMAGE}\nARG HUGO_BASEURL="https://x.test/a \\"b\\""\nARG OTHER\n' +
        'LABEL "org.opencontainers.image.revision"="abc"\n',
    );
  });

  it('escapes a script’s own $ as $$', () => {
    expect(escapeDollars('echo "$HOME" $(pwd) $$')).toBe('echo "$$HOME" $$(pwd) $$$$');
  });

  it('renders YAML that parses back to the same build, with a header naming its source', () => {
    const build = generate();
    const text = renderCloudBuildYaml(build, 'site/sitepipe.yaml', '1.2.3');
    expect(text).toMatch(
      /^# Generated by `sitepipe cloudbuild` \(sitepipe 1\.2\.3\) from site\/sitepipe\.yaml\./,
    );
    expect(parseBuildConfig(text, 'cloudbuild.yaml')).toEqual(build);
  });
});

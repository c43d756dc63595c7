import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { type Command, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_PRODUCTION_BRANCHES } from '../branches.js';
import { resolveCredentials } from '../clients/credentials.js';
import { connectDocker, pingDocker } from '../clients/docker.js';
import { type BuildConfig, parseBuildConfig } from '../cloudbuild/build-config.js';
import { cloudbuildSettings } from '../cloudbuild/config.js';
import { adoptDockerImage, writeDockerContext } from '../cloudbuild/docker-context.js';
import { generateCloudBuild, renderCloudBuildYaml } from '../cloudbuild/generate.js';
import { definedSecrets, runLocalBuild } from '../cloudbuild/local.js';
import { localBuiltIns } from '../cloudbuild/workspace.js';
import { DEFAULT_CONFIG_FILE, type LoadedConfig, loadConfig } from '../config.js';
import { SitepipeError } from '../errors.js';
import type { Reporter } from '../output.js';
import { PIPELINE } from '../pipeline.js';
import { runProcess } from '../process.js';
import { withReporter } from './context.js';

/** The project ID local builds use for $PROJECT_ID unless --project says otherwise. */
export const LOCAL_PROJECT_ID = 'sitepipe-local';

/** Runs a command body with the one top-level catch, interrupts and closed output of every command. */
async function guarded(
  json: boolean | undefined,
  body: (reporter: Reporter, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  process.exitCode = await withReporter({ json }, body);
}

/** The git work tree holding `dir`, else `dir` itself. */
async function repoRootOf(dir: string): Promise<string> {
  try {
    return (
      await runProcess('git', ['rev-parse', '--show-toplevel'], { cwd: dir, timeoutMs: 30_000 })
    ).stdout.trim();
  } catch {
    return dir;
  }
}

function posixRelative(from: string, to: string): string {
  return relative(from, to).split(sep).join('/') || '.';
}

interface GenerateFlags {
  config: string;
  out?: string;
  check?: boolean;
  builder?: string;
  cache?: boolean;
  imageStep?: 'sitepipe' | 'docker-builder';
}

/** The generated config and its text for the site of `configFile`. */
export async function generateForConfig(
  configFile: string,
  flags: Pick<GenerateFlags, 'builder' | 'cache' | 'imageStep'> = {},
): Promise<{ text: string; configPath: string; build: BuildConfig; loaded: LoadedConfig }> {
  const loaded = await loadConfig(configFile);
  const root = await repoRootOf(dirname(loaded.path));
  const configPath = posixRelative(root, loaded.path);
  const base = cloudbuildSettings(loaded.config);
  const build = generateCloudBuild({
    config: loaded.config,
    configPath,
    pipeline: PIPELINE,
    settings: {
      ...(flags.builder ? { builder: flags.builder } : {}),
      ...(flags.cache === false ? { cache: { ...base.cache, enabled: false } } : {}),
      ...(flags.imageStep ? { imageStep: flags.imageStep } : {}),
    },
  });
  return { text: renderCloudBuildYaml(build, configPath), configPath, build, loaded };
}

/** `_A=1,BRANCH_NAME=x` (as gcloud takes them), given once or more. */
function collectSubstitutions(value: string, previous: Record<string, string>): Record<string, string> {
  const out = { ...previous };
  for (const pair of value.split(',').filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      throw new SitepipeError(
        'USAGE',
        `--substitutions ${pair}: expected KEY=VALUE`,
        'e.g. --substitutions _ENV=staging,BRANCH_NAME=main',
      );
    }
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** A secrets file: a YAML/JSON mapping of NAME: value, or KEY=VALUE lines. */
export function parseSecretsFile(text: string, file: string): Record<string, string> {
  const lines = text.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  if (lines.length > 0 && lines.every((l) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(l))) {
    return Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  }
  const data: unknown = parseYaml(text);
  if (!data || typeof data !== 'object' || Array.isArray(data)) {
    throw new SitepipeError(
      'SECRETS_INVALID',
      `${file} is not a mapping of secret names to values`,
      'write NAME: value lines',
    );
  }
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, String(v)]));
}

interface LocalFlags {
  source?: string;
  substitutions: Record<string, string>;
  project: string;
  secrets?: string;
  secretsFromEnv?: boolean;
  push: boolean;
  keepWorkspace?: boolean;
  config: string;
}

async function localCommand(
  file: string,
  flags: LocalFlags,
  reporter: Reporter,
  signal: AbortSignal,
): Promise<void> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new SitepipeError(
      'CLOUDBUILD_CONFIG_MISSING',
      `no Cloud Build config at ${path}`,
      'generate one with `sitepipe cloudbuild --out cloudbuild.yaml`, or name the file',
    );
  }
  const build = parseBuildConfig(text, path);
  const source = resolve(flags.source ?? (await repoRootOf(dirname(path))));
  const secrets: Record<string, string> = {};
  if (flags.secretsFromEnv) {
    for (const name of definedSecrets(build)) {
      const value = process.env[name];
      if (value !== undefined) secrets[name] = value;
    }
  }
  if (flags.secrets)
    Object.assign(secrets, parseSecretsFile(await readFile(flags.secrets, 'utf8'), flags.secrets));
  for (const v of Object.values(secrets)) reporter.secret(v);
  const docker = await connectDocker(process.env);
  await pingDocker(docker);
  // Registry credentials for `images`: the sitepipe config's settings when there is one, else the Docker config.
  const sitepipeConfig = await loadConfig(flags.config).catch(() => null);
  const result = await runLocalBuild({
    build,
    configFile: path,
    sourceDir: source,
    docker,
    log: { line: (l) => reporter.info('cloudbuild', l) },
    builtIns: await localBuiltIns(source, { projectId: flags.project, configFile: path }),
    substitutions: flags.substitutions,
    secrets,
    dockerSocket: process.env.DOCKER_HOST?.startsWith('unix://')
      ? process.env.DOCKER_HOST.slice('unix://'.length)
      : '/var/run/docker.sock',
    push: flags.push,
    credentials: sitepipeConfig
      ? (registry) => resolveCredentials(sitepipeConfig.config, registry, process.env, signal)
      : undefined,
    keepWorkspace: flags.keepWorkspace ?? false,
    signal,
  });
  const images = result.images.map((i) => `${i.name}@${i.digest}`);
  reporter.result(
    { buildId: result.buildId, status: result.status, images: result.images, workspace: result.workspace },
    [
      `build ${result.buildId}: ${result.status} in ${(result.durationMs / 1000).toFixed(1)} s`,
      ...images.map((i) => `pushed ${i}`),
      ...(result.workspace ? [`workspace kept: ${result.workspace}`] : []),
    ].join('\n'),
  );
}

interface TriggerFlags {
  config: string;
  project?: string;
  dryRun?: boolean;
  json?: boolean;
}

async function triggerApplyCommand(flags: TriggerFlags, reporter: Reporter): Promise<void> {
  const { build, configPath, loaded } = await generateForConfig(flags.config);
  const settings = cloudbuildSettings(loaded.config);
  if (!settings.trigger) {
    throw new SitepipeError(
      'TRIGGER_NOT_CONFIGURED',
      `${loaded.path} has no cloudbuild.trigger section`,
      'add cloudbuild: { trigger: { github: { owner, name }, branch: ^main$ } } (see README)',
    );
  }
  const projectId = flags.project ?? settings.projectId ?? process.env.GOOGLE_CLOUD_PROJECT;
  if (!projectId) {
    throw new SitepipeError(
      'PROJECT_MISSING',
      'no Google Cloud project to create the trigger in',
      'pass --project, set cloudbuild.projectId, or export GOOGLE_CLOUD_PROJECT',
    );
  }
  // The Cloud Build client (gRPC and protobufs) loads only for this command: 0.3 s of every start otherwise.
  const { applyTrigger, connectCloudBuild, defaultCredentials, resolveTriggers } = await import(
    '../cloudbuild/trigger.js'
  );
  const deploy = loaded.config.deploy;
  const triggers = resolveTriggers(
    settings.trigger,
    deploy?.production.branches ?? DEFAULT_PRODUCTION_BRANCHES,
  );
  if (deploy?.previews && triggers.length === 1 && settings.trigger.branch === undefined) {
    reporter.warn(
      'trigger',
      'deploy.previews is set but Cloud Build builds only the production branches; cloudbuild.trigger.previews: true adds a trigger for the others',
    );
  }
  const credentials = await defaultCredentials();
  const client = credentials ? connectCloudBuild({ authClient: credentials }) : null;
  const dryRun = flags.dryRun ?? false;
  try {
    const json: Record<string, unknown>[] = [];
    const lines: string[] = [];
    for (const trigger of triggers) {
      const r = await applyTrigger({ projectId, trigger, build, client, dryRun });
      const on = `on branches ${trigger.invertRegex ? 'not ' : ''}matching ${trigger.branch}`;
      if (r.lookupFailed) {
        reporter.warn(
          'trigger',
          `could not look up trigger ${trigger.name} (${r.lookupFailed}); if it exists, the request is a PATCH to its id`,
        );
      }
      if (r.request) {
        json.push({
          action: r.action,
          trigger: trigger.name,
          request: r.request,
          dryRun: true,
          ...(r.lookupFailed ? { lookupFailed: r.lookupFailed } : {}),
        });
        lines.push(
          `would ${r.action} trigger ${trigger.name} in ${projectId} (${configPath}), ${on}:`,
          `${r.request.method} ${r.request.path}`,
          JSON.stringify(r.request.body, null, 2),
        );
      } else {
        json.push({ action: r.action, trigger: trigger.name, id: r.id });
        lines.push(
          `${r.action === 'create' ? 'created' : 'updated'} trigger ${trigger.name} (${r.id}) in ${projectId}, ${on}`,
        );
      }
    }
    const [production, previews] = json;
    reporter.result({ ...production, ...(previews ? { previews } : {}) }, lines.join('\n'));
  } finally {
    await client?.close();
  }
}

/** Adds `sitepipe cloudbuild`, `sitepipe cloudbuild local` and `sitepipe trigger apply`. */
export function registerCloudbuild(program: Command): void {
  const cloudbuild = program
    .command('cloudbuild')
    .description(
      'write the Cloud Build config (cloudbuild.yaml) for the pipeline; see also: cloudbuild local',
    )
    .option(
      '-c, --config <file>',
      'the sitepipe config (for every cloudbuild subcommand too)',
      DEFAULT_CONFIG_FILE,
    )
    .option('-o, --out <file>', 'write it here (default: print it); docker-context: the context dir')
    .option('--check', 'with --out: fail if the file differs from what would be generated')
    .option(
      '--builder <image>',
      'the image sitepipe steps run in (default gcr.io/$PROJECT_ID/sitepipe:<version>, or LOCATION-docker.pkg.dev/$PROJECT_ID/sitepipe/sitepipe:<version> with cloudbuild.location)',
    )
    .option('--no-cache', 'leave out the cache steps')
    .addOption(
      new Option(
        '--image-step <how>',
        'sitepipe: `sitepipe run image`; docker-builder: the standard Docker builder builds the Docker path',
      ).choices(['sitepipe', 'docker-builder']),
    )
    .action(async (flags: GenerateFlags) => {
      await guarded(false, async () => {
        const { text } = await generateForConfig(flags.config, flags);
        if (!flags.out) {
          process.stdout.write(text);
          return;
        }
        if (flags.check) {
          const current = await readFile(flags.out, 'utf8').catch(() => '');
          if (current !== text) {
            throw new SitepipeError(
              'CLOUDBUILD_DRIFT',
              `${flags.out} is not what \`sitepipe cloudbuild\` generates from ${flags.config}`,
              `regenerate it: sitepipe cloudbuild --config ${flags.config} --out ${flags.out}`,
            );
          }
          return;
        }
        await writeFile(flags.out, text);
        process.stdout.write(`wrote ${flags.out}\n`);
      });
    });
  cloudbuild
    .command('local')
    .description('run a Cloud Build config on the local Docker engine, the way Cloud Build runs it')
    .argument('[file]', 'the Cloud Build config', 'cloudbuild.yaml')
    .option('--source <dir>', "what becomes /workspace (default: the file's git work tree)")
    .option(
      '--substitutions <pairs>',
      'KEY=VALUE[,KEY=VALUE…], as gcloud builds submit takes them',
      collectSubstitutions,
      {},
    )
    .option('--project <id>', '$PROJECT_ID for the build', LOCAL_PROJECT_ID)
    .option('--secrets <file>', 'values of secretEnv variables: NAME: value (YAML/JSON) or NAME=value lines')
    .option('--secrets-from-env', 'take secretEnv values from this environment')
    .option('--no-push', 'leave out pushing images:')
    .option('--keep-workspace', 'keep the temp /workspace copy for inspection')
    .option('--json', 'print NDJSON events')
    .action(async (file: string, _flags: unknown, cmd: Command) => {
      // --config belongs to `cloudbuild` (Commander hands a parent's options to the parent
      // wherever they stand): here it names the config whose registry credentials push images:.
      const flags = cmd.optsWithGlobals<LocalFlags & { json?: boolean }>();
      await guarded(flags.json, (reporter, signal) => localCommand(file, flags, reporter, signal));
    });

  // The two halves of imageStep: docker-builder, run by the generated cloudbuild.yaml.
  cloudbuild
    .command('docker-context')
    .description(
      '(cloudbuild.yaml, imageStep: docker-builder) write the Docker build context for the standard Docker builder',
    )
    .option('--state-dir <dir>', 'where the records are (default: .sitepipe next to the config)')
    .action(async (_flags: unknown, cmd: Command) => {
      // --config and --out (the context dir) are the `cloudbuild` command's options.
      const flags = cmd.optsWithGlobals<{ config: string; stateDir?: string; out?: string }>();
      await guarded(false, async (reporter) => {
        if (!flags.out)
          throw new SitepipeError('USAGE', 'docker-context needs --out DIR', 'name where the context goes');
        const loaded = await loadConfig(flags.config);
        const stateDir = resolve(flags.stateDir ?? join(dirname(loaded.path), '.sitepipe'));
        const out = resolve(flags.out);
        const labels = await writeDockerContext({
          config: loaded.config,
          siteDir: loaded.siteDir,
          stateDir,
          out,
        });
        reporter.result({ context: out, labels }, `wrote the Docker build context to ${flags.out}`);
      });
    });
  cloudbuild
    .command('docker-image')
    .description(
      '(cloudbuild.yaml, imageStep: docker-builder) tag the image the Docker builder built and record it',
    )
    .argument('<ref>', 'the image the Docker builder step built')
    .option('--state-dir <dir>', 'where the records are (default: .sitepipe next to the config)')
    .action(async (ref: string, _flags: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<{ config: string; stateDir?: string }>();
      await guarded(false, async (reporter) => {
        const loaded = await loadConfig(flags.config);
        const stateDir = resolve(flags.stateDir ?? join(dirname(loaded.path), '.sitepipe'));
        const docker = await connectDocker(process.env);
        await pingDocker(docker);
        const image = await adoptDockerImage({ config: loaded.config, stateDir, ref, docker });
        reporter.result({ ...image }, `recorded ${ref} as ${image.localRef}`);
      });
    });

  const trigger = program.command('trigger').description('manage the Cloud Build trigger');
  trigger
    .command('apply')
    .description('create or update the push trigger (cloudbuild.trigger in the config)')
    .option('-c, --config <file>', 'the sitepipe config', DEFAULT_CONFIG_FILE)
    .option(
      '--project <id>',
      'the Google Cloud project (default cloudbuild.projectId, $GOOGLE_CLOUD_PROJECT)',
    )
    .option('-n, --dry-run', 'print the exact request instead of sending it')
    .option('--json', 'print NDJSON events')
    .action(async (flags: TriggerFlags) => {
      await guarded(flags.json, (reporter) => triggerApplyCommand(flags, reporter));
    });
}

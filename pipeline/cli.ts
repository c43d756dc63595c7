#!/usr/bin/env node
import { dirname, join, resolve } from 'node:path';
import { Command, CommanderError } from 'commander';
import { registerManifests } from './commands/manifests.js';
import { DEFAULT_CONFIG_FILE, loadConfig } from './config.js';
import { toSitepipeError } from './errors.js';
import { type OutputMode, Reporter } from './output.js';
import { defaultCacheDir } from './paths.js';
import { PIPELINE } from './pipeline.js';
import { runPipeline } from './runner.js';

interface RunFlags {
  config: string;
  stateDir?: string;
  dryRun?: boolean;
  json?: boolean;
  allowDirty?: boolean;
}

function outputMode(json: boolean | undefined): OutputMode {
  if (json) return 'json';
  return process.stdout.isTTY && !process.env.CI ? 'tty' : 'plain';
}

async function runCommand(steps: string[], flags: RunFlags): Promise<number> {
  const reporter = new Reporter(outputMode(flags.json), process.stdout, process.stderr);
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    const { config, path, siteDir } = await loadConfig(flags.config);
    const outputs = await runPipeline({
      pipeline: PIPELINE,
      only: steps,
      reporter,
      context: {
        config,
        configPath: path,
        siteDir,
        stateDir: resolve(flags.stateDir ?? join(dirname(path), '.sitepipe')),
        cacheDir: defaultCacheDir(process.env),
        dryRun: flags.dryRun ?? false,
        allowDirty: flags.allowDirty ?? false,
        signal: controller.signal,
        env: process.env,
      },
    });
    const pushed = outputs.push;
    if (pushed) {
      const names = pushed.tags.map((t) => `${pushed.repository}:${t}`).join(', ');
      reporter.result({ ...pushed }, `pushed ${names}\ndigest: ${pushed.digest}`);
    }
    return 0;
  } catch (e) {
    reporter.error(toSitepipeError(e));
    return controller.signal.aborted ? 130 : 1;
  } finally {
    reporter.close();
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
}

export function buildCli(): Command {
  const program = new Command('sitepipe')
    .description('Ship a Hugo site from a git commit to an nginx image in a registry')
    .exitOverride();
  program
    .command('run')
    .description(`run the pipeline, or only the named steps (${PIPELINE.map((s) => s.name).join(', ')})`)
    .argument('[steps...]', 'steps to run; the others are read from their records in the state dir')
    .option('-c, --config <file>', 'the sitepipe config', DEFAULT_CONFIG_FILE)
    .option(
      '--state-dir <dir>',
      'where step records and the rendered site go (default: .sitepipe next to the config)',
    )
    .option('-n, --dry-run', 'mutating steps only say what they would do')
    .option('--json', 'print NDJSON events')
    .option('--allow-dirty', 'build uncommitted changes; tags end in -dirty')
    .action(async (steps: string[], flags: RunFlags) => {
      process.exitCode = await runCommand(steps, flags);
    });
  program
    .command('steps')
    .description('list the pipeline steps in order')
    .action(() => {
      for (const s of PIPELINE) {
        const needs = s.needs.length ? ` (needs ${s.needs.join(', ')})` : '';
        process.stdout.write(
          `${s.name.padEnd(9)} ${s.mutates ? 'mutates' : '       '}  ${s.description}${needs}\n`,
        );
      }
    });
  registerManifests(program, loadConfig);
  return program;
}

try {
  await buildCli().parseAsync(process.argv);
} catch (e) {
  // Commander has printed usage errors already; --help and --version end here too.
  if (!(e instanceof CommanderError)) process.stderr.write(`${String(e)}\n`);
  process.exitCode = e instanceof CommanderError ? (e.exitCode === 0 ? 0 : 2) : 1;
}

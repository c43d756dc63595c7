#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { registerCloudbuild } from './commands/cloudbuild.js';
import { type CommonFlags, runContext, withReporter } from './commands/context.js';
import { registerDeployCommands } from './commands/deploy.js';
import { registerManifests } from './commands/manifests.js';
import { DEFAULT_CONFIG_FILE, loadConfig } from './config.js';
import { PIPELINE } from './pipeline.js';
import { runPipeline } from './runner.js';
import { dependencies } from './step.js';

function runCommand(steps: string[], flags: CommonFlags): Promise<number> {
  return withReporter(flags, async (reporter, signal) => {
    const outputs = await runPipeline({
      pipeline: PIPELINE,
      only: steps,
      reporter,
      context: await runContext(flags, signal),
    });
    const pushed = outputs.push;
    if (pushed) {
      const names = pushed.tags.map((t) => `${pushed.repository}:${t}`).join(', ');
      reporter.result({ ...pushed }, `pushed ${names}\ndigest: ${pushed.digest}`);
    }
  });
}

export function buildCli(): Command {
  const program = new Command('sitepipe')
    .description('Ship a Hugo site from a git commit to an nginx image in a registry, and on to Kubernetes')
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
    .action(async (steps: string[], flags: CommonFlags) => {
      process.exitCode = await runCommand(steps, flags);
    });
  program
    .command('steps')
    .description('list the pipeline steps in order')
    .action(() => {
      for (const s of PIPELINE) {
        const after = dependencies(s);
        const needs = after.length ? ` (needs ${after.join(', ')})` : '';
        process.stdout.write(
          `${s.name.padEnd(9)} ${s.mutates ? 'mutates' : '       '}  ${s.description}${needs}\n`,
        );
      }
    });
  registerManifests(program, loadConfig);
  registerDeployCommands(program);
  registerCloudbuild(program);
  return program;
}

try {
  await buildCli().parseAsync(process.argv);
} catch (e) {
  // Commander has printed usage errors already; --help and --version end here too.
  if (!(e instanceof CommanderError)) process.stderr.write(`${String(e)}\n`);
  process.exitCode = e instanceof CommanderError ? (e.exitCode === 0 ? 0 : 2) : 1;
}

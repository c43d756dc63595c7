#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { sitepipeVersion } from './cloudbuild/generate.js';
import { registerBuilder } from './commands/builder.js';
import { registerCloudbuild } from './commands/cloudbuild.js';
import {
  type CommonFlags,
  requestJson,
  runContext,
  stopWhenOutputCloses,
  withReporter,
} from './commands/context.js';
import { registerDeployCommands } from './commands/deploy.js';
import { registerHostCommands } from './commands/host.js';
import { registerInit } from './commands/init.js';
import { registerManifests } from './commands/manifests.js';
import { registerPreviews } from './commands/previews.js';
import { registerServe } from './commands/serve.js';
import { registerVerify } from './commands/verify.js';
import { DEFAULT_CONFIG_FILE, loadConfig } from './config.js';
import { exitCodeOf, type SitepipeError, toSitepipeError, usageError } from './errors.js';
import { Reporter, runSummary } from './output.js';
import { PIPELINE } from './pipeline.js';
import { runPipeline, selectSteps } from './runner.js';
import { dependencies } from './step.js';

function runCommand(steps: string[], flags: CommonFlags): Promise<number> {
  return withReporter(flags, async (reporter, signal) => {
    // A mistyped step is a usage error, reported before a missing config is.
    selectSteps(PIPELINE, steps);
    const started = Date.now();
    const outputs = await runPipeline({
      pipeline: PIPELINE,
      only: steps,
      reporter,
      context: await runContext(flags, signal),
    });
    const summary = runSummary(outputs, Date.now() - started);
    if (summary) reporter.result(summary.fields, summary.text, summary.value);
  });
}

/** How a command is typed, e.g. `sitepipe cloudbuild local`. */
function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) names.unshift(c.name());
  return ['sitepipe', ...names].join(' ');
}

/** The subcommand commander runs when none is named (`previews` is `previews list`). */
function defaultSubcommand(command: Command): Command | undefined {
  // commander keeps the name in a private field; options given to the parent go to this command.
  const name = (command as unknown as { _defaultCommandName?: string })._defaultCommandName;
  return name ? command.commands.find((c) => c.name() === name) : undefined;
}

/** Whether `flag` is an option, of the command, its default subcommand or one above it, that takes a value. */
function takesValue(command: Command, flag: string): boolean {
  const chain = [defaultSubcommand(command)].filter((c) => c !== undefined);
  for (let c: Command | null = command; c; c = c.parent) chain.push(c);
  for (const c of chain) {
    const option = c.options.find((o) => o.short === flag || o.long === flag);
    if (option) return option.required || option.optional;
  }
  return false;
}

/**
 * The command that `words` (the command line after `sitepipe`) name, and the first word that
 * names none where only a command can stand (under a command that takes no operands).
 */
function findCommand(program: Command, words: readonly string[]): { command: Command; unknown?: string } {
  let command = program;
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string;
    if (word === '--') break;
    if (word.startsWith('-')) {
      // The value of `--config FILE` is no command name.
      if (!word.includes('=') && takesValue(command, word)) i++;
      continue;
    }
    const sub = command.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (sub) command = sub;
    else if (command.commands.length > 0 && command.registeredArguments.length === 0) {
      return { command, unknown: word };
    } else break;
  }
  return { command };
}

function noSuchCommand(under: Command, word: string): SitepipeError {
  return usageError(
    `there is no command \`${commandPath(under)} ${word}\``,
    `its commands are: ${under.commands.map((c) => c.name()).join(', ')}; see \`${commandPath(under)} --help\``,
  );
}

/**
 * `--json` on every command (its errors, usage errors too, come out as a JSON `error` event; see
 * main), for the commands registered without one.
 */
function everyCommandTakesJson(command: Command): void {
  if (!command.parent) {
    // For the commands that do not pass their own --json on to the reporter.
    command.hook('preAction', (_, action) => requestJson(action.optsWithGlobals().json === true));
  }
  for (const sub of command.commands) {
    if (!sub.options.some((o) => o.long === '--json')) sub.option('--json', 'print errors as NDJSON events');
    everyCommandTakesJson(sub);
  }
}

export function buildCli(): Command {
  const program = new Command('sitepipe')
    .description('Ship a Hugo site from a git commit to an nginx image in a registry, and on to Kubernetes')
    .version(sitepipeVersion(), '-V, --version', 'print the sitepipe version')
    // Set before the commands are added, so that they inherit it: usage errors are thrown and
    // printed by main, as every other error is.
    .exitOverride()
    .configureOutput({ outputError: () => undefined })
    .helpCommand(false);
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
    .option('-q, --quiet', 'print only the image (repo@sha256:…) on stdout; logs go to stderr')
    .option('--allow-dirty', 'build uncommitted changes; tags end in -dirty')
    .option('--full-layers', 'oci builder: full site layers, not a delta on the previous release')
    .action(async (steps: string[], flags: CommonFlags) => {
      process.exitCode = await runCommand(steps, flags);
    });
  program
    .command('steps')
    .description('list the pipeline steps in order')
    .option('--json', 'print the steps as one NDJSON result event')
    .action(async (flags: { json?: boolean }) => {
      process.exitCode = await withReporter(flags, async (reporter) => {
        const steps = PIPELINE.map((s) => ({
          step: s.name,
          mutates: s.mutates,
          description: s.description,
          needs: dependencies(s),
        }));
        const text = steps.map(
          (s) =>
            `${s.step.padEnd(9)} ${s.mutates ? 'mutates' : '       '}  ${s.description}${s.needs.length ? ` (needs ${s.needs.join(', ')})` : ''}`,
        );
        reporter.result({ steps }, text.join('\n'));
      });
    });
  registerInit(program);
  registerManifests(program, loadConfig);
  registerDeployCommands(program);
  registerPreviews(program);
  registerHostCommands(program);
  registerCloudbuild(program);
  registerBuilder(program);
  registerVerify(program);
  registerServe(program);
  everyCommandTakesJson(program);
  program
    .command('help')
    .description('show the help of a command, e.g. `sitepipe help cloudbuild local`')
    .argument('[command...]', 'a command and its subcommands')
    .action((words: string[]) => {
      const { command, unknown } = findCommand(program, words);
      if (unknown !== undefined) throw noSuchCommand(command, unknown);
      command.outputHelp();
    });
  return program;
}

async function main(argv: string[]): Promise<void> {
  const program = buildCli();
  const words = argv.slice(2);
  const { command, unknown } = findCommand(program, words);
  try {
    // Before Commander parses: it would answer `sitepipe nosuch --help` with the root help.
    if (unknown !== undefined) throw noSuchCommand(command, unknown);
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError && e.exitCode === 0) return; // --help, --version
    if (e instanceof CommanderError && e.code === 'commander.help') {
      // A command that needs a subcommand has printed its help on stderr: that says it all.
      process.exitCode = 2;
      return;
    }
    const error =
      e instanceof CommanderError
        ? usageError(e.message.replace(/^error: /, ''), `see \`${commandPath(command)} --help\``)
        : toSitepipeError(e);
    new Reporter(words.includes('--json') ? 'json' : 'plain', process.stdout, process.stderr).error(error);
    process.exitCode = exitCodeOf(error);
  }
}

stopWhenOutputCloses(process.stdout, process.stderr);
await main(process.argv);

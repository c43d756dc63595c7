import type { Command } from 'commander';
import { DEFAULT_CONFIG_FILE } from '../config.js';
import { requireHostDeploy } from '../host/layout.js';
import { type RunContext, startNow } from '../step.js';
import { type CommonFlags, runContext, withReporter } from './context.js';

/** `sitepipe host init`: prepares the servers of a host target (docs/host.md). */
export function registerHostCommands(program: Command): void {
  const host = program.command('host').description('the single-host target: servers served by Caddy');
  host
    .command('init')
    .description(
      'prepare every server idempotently: Caddy and rsync from the distribution, the root, the site config',
    )
    .option('-c, --config <file>', 'the sitepipe config', DEFAULT_CONFIG_FILE)
    .option('-n, --dry-run', 'say what would change, change nothing')
    .option('--json', 'print NDJSON events')
    .action(async (flags: CommonFlags) => {
      process.exitCode = await withReporter(flags, async (reporter, signal) => {
        const log = reporter.logFor('host init');
        const ctx: RunContext = { ...(await runContext(flags, signal)), log, afterRun: startNow(log) };
        const hd = requireHostDeploy(ctx.config);
        const { initHosts } = await import('../host/init.js');
        const results = await initHosts(ctx, hd);
        const lines = results.map((r) =>
          r.changed.length
            ? `${r.server}:\n${r.changed.map((c) => `  ${c}`).join('\n')}`
            : `${r.server}: ready, nothing changed`,
        );
        reporter.result({ servers: results }, lines.join('\n'));
      });
    });
}

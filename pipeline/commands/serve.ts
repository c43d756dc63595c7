import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_CONFIG_FILE, loadConfig } from '../config.js';
import { exitCodeOf, SitepipeError, toSitepipeError } from '../errors.js';
import { Reporter } from '../output.js';
import { defaultCacheDir } from '../paths.js';

/** Starts the server and runs until SIGTERM or SIGINT; resolves with the exit code. */
export async function serveCommand(flags: { config: string }): Promise<number> {
  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  try {
    const { config, path, siteDir } = await loadConfig(flags.config);
    if (!config.serve) {
      throw new SitepipeError(
        'SERVE_NOT_CONFIGURED',
        `${path} has no serve: section`,
        'add one with at least `remote:` (the git remote to fetch pushes from); see docs/serve.md',
      );
    }
    // SQLite's native module loads only for this command.
    const { ServeServer } = await import('../serve/server.js');
    const { previewReaper } = await import('../serve/previews.js');
    const stateDir = join(dirname(path), '.sitepipe');
    const paths = { configPath: path, siteDir, stateDir, cacheDir: defaultCacheDir(process.env) };
    const branchDeleted = previewReaper(config, paths, process.env, log) ?? undefined;
    const server = new ServeServer({
      serve: config.serve,
      baseDir: dirname(path),
      env: process.env,
      log,
      branchDeleted,
    });
    await server.start();
    await new Promise<void>((done) => {
      const stop = (signal: NodeJS.Signals) => {
        process.off('SIGTERM', stop).off('SIGINT', stop);
        // A second signal does not wait for the grace period.
        process.once('SIGTERM', () => process.exit(143)).once('SIGINT', () => process.exit(130));
        log(`${signal}: stopping`);
        server.stop().then(done, (e: Error) => {
          log(`error while stopping: ${e.message}`);
          done();
        });
      };
      process.on('SIGTERM', stop).on('SIGINT', stop);
    });
    return 0;
  } catch (e) {
    const error = toSitepipeError(e);
    new Reporter('plain', process.stdout, process.stderr).error(error);
    return exitCodeOf(error);
  }
}

/** `sitepipe serve`: push to deploy (docs/serve.md). */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('receive push webhooks and run the pipeline for every push (docs/serve.md)')
    .option('-c, --config <file>', 'the config with the serve: section', DEFAULT_CONFIG_FILE)
    .action(async (flags: { config: string }) => {
      process.exitCode = await serveCommand(flags);
      // Keep-alive sockets and timers must not hold a stopped server open.
      process.exit();
    });
}

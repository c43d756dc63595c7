/**
 * One run of `sitepipe serve`, in a process of its own so that a crashing run cannot take the
 * server down: the same runner and steps as `sitepipe run`, with NDJSON events on stdout.
 *
 *     node child.js <config> <state dir>
 *
 * stdin is a pipe from the server: when it closes (the server exited or was killed), the run
 * stops and cleans up as on SIGTERM, so no orphan keeps building or holding state locks.
 */
import { resolve } from 'node:path';
import { loadConfig } from '../config.js';
import { abortedError, toSitepipeError } from '../errors.js';
import { Reporter } from '../output.js';
import { defaultCacheDir } from '../paths.js';
import { PIPELINE } from '../pipeline.js';
import { runPipeline } from '../runner.js';

async function main(configFile: string, stateDir: string): Promise<number> {
  const reporter = new Reporter('json', process.stdout, process.stderr);
  const stop = new AbortController();
  const abort = (why: string) => {
    if (!stop.signal.aborted) stop.abort(Object.assign(new Error(why), { name: 'AbortError' }));
  };
  process.on('SIGTERM', () => abort('SIGTERM')).on('SIGINT', () => abort('SIGINT'));
  process.stdin.on('close', () => abort('the server went away')).resume();
  try {
    const { config, path, siteDir } = await loadConfig(configFile);
    const outputs = await runPipeline({
      pipeline: PIPELINE,
      only: [],
      reporter,
      context: {
        config,
        configPath: path,
        siteDir,
        stateDir: resolve(stateDir),
        cacheDir: defaultCacheDir(process.env),
        dryRun: false,
        allowDirty: false,
        signal: stop.signal,
        env: process.env,
      },
    });
    if (outputs.push) reporter.result({ ...outputs.push }, '');
    return 0;
  } catch (e) {
    reporter.error(
      stop.signal.aborted ? abortedError(String(stop.signal.reason?.message)) : toSitepipeError(e),
    );
    return stop.signal.aborted ? 143 : 1;
  } finally {
    reporter.close();
  }
}

const [configFile, stateDir] = process.argv.slice(2);
if (!configFile || !stateDir) {
  process.stderr.write('usage: child.js <config> <state dir>\n');
  process.exit(2);
}
process.exitCode = await main(configFile, stateDir);
// Handles the steps leave open (Docker sockets, keep-alive agents) must not keep a finished run alive.
setTimeout(() => process.exit(), 2000).unref();
process.stdin.destroy();

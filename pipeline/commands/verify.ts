import { join } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { DEFAULT_CONFIG_FILE, type LoadedConfig, loadConfig, parseConfig } from '../config.js';
import { SitepipeError } from '../errors.js';
import type { Reporter } from '../output.js';
import { formatDuration, parseDuration } from '../verify/duration.js';
import { verifyEdge } from '../verify/edge.js';
import { expectedRelease } from '../verify/expected-release.js';
import { edgePlan } from '../verify/plan.js';
import { reportLines, summaryLine } from '../verify/report.js';
import { withReporter } from './context.js';

export interface VerifyFlags {
  config: string;
  configEnv?: string;
  /** Milliseconds (--wait DURATION). */
  wait: number;
  release?: string;
  json?: boolean;
}

function waitOption(value: string): number {
  const ms = parseDuration(value);
  if (ms === null) throw new InvalidArgumentError('expected a duration such as 90s, 5m or 1h30m');
  return ms;
}

/** The config from a file, or (the in-cluster CronJob) from an environment variable. */
async function configFor(flags: VerifyFlags, env: NodeJS.ProcessEnv): Promise<LoadedConfig> {
  if (!flags.configEnv) return loadConfig(flags.config);
  const text = env[flags.configEnv];
  if (!text) {
    throw new SitepipeError(
      'CONFIG_MISSING',
      `the environment variable ${flags.configEnv} is empty or unset`,
      'set it to the YAML of a sitepipe config, or pass --config FILE',
    );
  }
  const path = join(process.cwd(), DEFAULT_CONFIG_FILE);
  return { config: parseConfig(text, `$${flags.configEnv}`), path, siteDir: process.cwd() };
}

/**
 * What `sitepipe verify` does: checks what visitors get from every address of every host
 * (certificate, expiry, one certificate everywhere, HTTP redirect, HSTS, release header),
 * reports the table (or a JSON result event), and throws VERIFY_FAILED when anything fails.
 */
export async function runVerify(
  flags: VerifyFlags,
  reporter: Reporter,
  signal: AbortSignal,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const { config, path } = await configFor(flags, env);
  const release = await expectedRelease(flags.release, config, env);
  const plan = await edgePlan(config, path, release, env);
  const log = reporter.logFor('verify');
  const report = await verifyEdge(plan, {
    waitMs: flags.wait,
    signal,
    onRetry: (r, attempt, next) =>
      log.info(
        `attempt ${attempt}: ${r.problems.length} problem(s), first: ${r.problems[0]}; next in ${formatDuration(next)}`,
      ),
  });
  reporter.result(
    { ...report, expected: release },
    [...reportLines(report), ...(report.ok ? [summaryLine(report)] : [])].join('\n'),
  );
  if (!report.ok) {
    throw new SitepipeError(
      'VERIFY_FAILED',
      summaryLine(report),
      flags.wait
        ? `every FAIL line names the address and what it serves; the wait (${formatDuration(flags.wait)}) ran out`
        : 'every FAIL line names the address and what it serves; --wait 15m polls while a load balancer converges',
    );
  }
}

/** `sitepipe verify [--config FILE | --config-env NAME] [--wait DURATION] [--release R] [--json]`. */
export function registerVerify(program: Command): Command {
  return program
    .command('verify')
    .description(
      'check every frontend of every host: certificate, expiry, redirect, HSTS and the release served',
    )
    .option('-c, --config <file>', 'the sitepipe config', DEFAULT_CONFIG_FILE)
    .option(
      '--config-env <name>',
      'read the config YAML from this environment variable (the in-cluster CronJob)',
    )
    .option(
      '--wait <duration>',
      'poll with backoff until every check passes, at most this long (e.g. 15m)',
      waitOption,
      0,
    )
    .option(
      '--release <commit|tag|live|any|off>',
      'the release to expect (default: the live Deployment with a deploy: section, else any, the same one everywhere)',
    )
    .option('--json', 'print NDJSON events; the result event holds every row')
    .action(async (flags: VerifyFlags) => {
      process.exitCode = await withReporter(flags, (reporter, signal) =>
        runVerify(flags, reporter, signal, process.env),
      );
    });
}

import type { Command } from 'commander';
import { DEFAULT_CONFIG_FILE } from '../config.js';
import { type DeployTarget, openTarget } from '../deploy-target.js';
import { SitepipeError } from '../errors.js';
import { requireDeploy } from '../kube/manifests-common.js';
import type { RollTarget } from '../kube/roll.js';
import { parseRepository, repositoryName } from '../reference.js';
import { openRegistry } from '../registries.js';
import { type RunContext, startNow } from '../step.js';
import { type CommonFlags, runContext, withReporter } from './context.js';

const COMMIT = /^[0-9a-f]{7,40}$/;

/**
 * A commit (full or abbreviated) or tag, resolved to the digest its tag points to in the
 * registry. Nothing changes when there is none.
 */
export async function resolveRelease(ctx: RunContext, ref: string): Promise<RollTarget> {
  const repo = parseRepository(ctx.config.image.repository);
  const { client } = await openRegistry(ctx, repo.registry);
  const length = ctx.config.tags.commitLength;
  let tag = ref;
  if (COMMIT.test(ref)) {
    if (ref.length >= length) tag = ref.slice(0, length);
    else {
      const matches = (await client.listTags(repo.path)).filter(
        (t) => t.length === length && t.startsWith(ref),
      );
      if (matches.length > 1) {
        throw new SitepipeError(
          'PIN_AMBIGUOUS',
          `${ref} matches ${matches.length} commit tags: ${matches.slice(0, 5).join(', ')}`,
          'give more characters of the commit',
        );
      }
      tag = matches[0] ?? ref;
    }
  }
  const digest = await client.tagDigest(repo.path, tag);
  if (!digest) {
    throw new SitepipeError(
      'PIN_NOT_FOUND',
      `${repositoryName(repo)} has no image for ${ref}${tag !== ref ? ` (tag ${tag})` : ''}; nothing was changed`,
      'only commits that went through `sitepipe run` (up to push) have images; `sitepipe releases` lists what was live',
    );
  }
  const labels = await client.imageLabels(repo.path, digest);
  return {
    repository: repositoryName(repo),
    digest,
    commit: labels['org.opencontainers.image.revision'] ?? null,
    branch: labels['io.sitepipe.branch'] ?? null,
    tag,
    action: 'pin',
  };
}

function siteOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'the sitepipe config', DEFAULT_CONFIG_FILE)
    .option('-n, --dry-run', 'say what would be rolled, change nothing')
    .option('--json', 'print NDJSON events');
}

/** `sitepipe pin`, `sitepipe rollback` and `sitepipe releases`, on whichever target the config names. */
export function registerDeployCommands(program: Command): void {
  const roll = async (flags: CommonFlags, step: string, pick: (target: DeployTarget) => Promise<unknown>) =>
    withReporter(flags, async (reporter, signal) => {
      const log = reporter.logFor(step);
      const ctx: RunContext = { ...(await runContext(flags, signal)), log, afterRun: startNow(log) };
      requireDeploy(ctx.config);
      const target = await openTarget(ctx);
      const to = await pick(target);
      if (ctx.dryRun) {
        await target.roll(to);
        reporter.result({ wouldRoll: to }, `would roll to ${target.describe(to)}`);
        return;
      }
      const release = await target.roll(to);
      reporter.result({ release }, `live: ${target.describe(to)}`);
    });

  siteOptions(program.command('pin'))
    .description('roll the live site to the release of an earlier commit (full or short sha) or tag')
    .argument('<commit-or-tag>')
    .action(async (ref: string, flags: CommonFlags) => {
      process.exitCode = await roll(flags, 'pin', (target) => target.resolve(ref));
    });

  siteOptions(program.command('rollback'))
    .description('roll the live site back to the release before the current one')
    .action(async (flags: CommonFlags) => {
      process.exitCode = await roll(flags, 'rollback', (target) => target.previous());
    });

  program
    .command('releases')
    .description('the release history of the live site, newest first')
    .option('-c, --config <file>', 'the sitepipe config', DEFAULT_CONFIG_FILE)
    .option('--json', 'print the history as JSON')
    .action(async (flags: CommonFlags) => {
      process.exitCode = await withReporter({}, async (reporter, signal) => {
        const log = reporter.logFor('releases');
        const ctx: RunContext = { ...(await runContext(flags, signal)), log, afterRun: startNow(log) };
        requireDeploy(ctx.config);
        const target = await openTarget(ctx);
        const history = await target.history();
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(history, null, 2)}\n`);
          return;
        }
        const rows = history.map((r) => [
          r.at.replace(/\.\d+Z$/, 'Z'),
          r.action,
          r.outcome,
          r.commit?.slice(0, 12) ?? '-',
          r.branch ?? '-',
          r.digest.slice(0, 19),
          r.by,
        ]);
        const head = ['WHEN', 'ACTION', 'OUTCOME', 'COMMIT', 'BRANCH', target.digestHeading, 'BY'];
        const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
        for (const row of [head, ...rows]) {
          process.stdout.write(
            `${row
              .map((c, i) => c.padEnd(widths[i] ?? 0))
              .join('  ')
              .trimEnd()}\n`,
          );
        }
      });
    });
}

import type { Command } from 'commander';
import { execa } from 'execa';
import { DEFAULT_CONFIG_FILE } from '../config.js';
import { SitepipeError } from '../errors.js';
import { requireDeploy } from '../kube/manifests-common.js';
import type { Preview } from '../kube/previews.js';
import type { Reporter } from '../output.js';
import { type RunContext, startNow } from '../step.js';
import { parseDuration } from '../verify/duration.js';
import { type CommonFlags, runContext, withReporter } from './context.js';

/** The branches `remote` has now, by asking it (git ls-remote): what prune compares previews with. */
export async function remoteBranches(
  siteDir: string,
  remote: string,
  signal: AbortSignal,
): Promise<Set<string>> {
  const r = await execa('git', ['ls-remote', '--heads', remote], {
    cwd: siteDir,
    reject: false,
    cancelSignal: signal,
  });
  if (r.exitCode !== 0) {
    throw new SitepipeError(
      'REMOTE_UNREADABLE',
      `git ls-remote --heads ${remote} failed in ${siteDir}, so it is unknown which branches still exist; nothing was pruned`,
      `check that ${remote} is a remote of the site's repository and can be reached (--remote NAME picks another)`,
      r.stderr.split('\n').filter(Boolean).slice(-3),
    );
  }
  const branches = new Set<string>();
  for (const line of r.stdout.split('\n')) {
    const ref = line.split('\t')[1];
    if (ref?.startsWith('refs/heads/')) branches.add(ref.slice('refs/heads/'.length));
  }
  return branches;
}

function age(deployedAt: string | null, now = Date.now()): string {
  if (!deployedAt) return '-';
  const minutes = Math.max(0, Math.floor((now - Date.parse(deployedAt)) / 60_000));
  if (minutes < 60) return `${minutes}m`;
  if (minutes < 48 * 60) return `${Math.floor(minutes / 60)}h`;
  return `${Math.floor(minutes / 1440)}d`;
}

function table(rows: string[][]): string {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Needs deploy.previews: else there is nothing to list or delete. */
function requirePreviewsConfig(ctx: RunContext): void {
  const deploy = requireDeploy(ctx.config);
  if (deploy.previews) return;
  throw new SitepipeError(
    'PREVIEWS_OFF',
    'the config has no deploy.previews section, so there are no previews',
    `add deploy.previews: { domain: previews.example.com } (${deploy.target === 'host' ? 'docs/host.md' : 'docs/kubernetes.md'}, "Previews")`,
  );
}

/** What each target does with previews: the cluster's objects, or the trees and site files on the hosts. */
interface PreviewOps {
  listPreviews(ctx: RunContext): Promise<Preview[]>;
  findPreview(previews: readonly Preview[], branch: string, ctx: RunContext): Preview;
  deletePreview(ctx: RunContext, preview: Preview): Promise<string[]>;
}

/** The operations of the config's target, loaded on use (the Kubernetes client is big). */
export async function previewOps(ctx: RunContext): Promise<PreviewOps> {
  return ctx.config.deploy?.target === 'host' ? import('../host/previews.js') : import('../kube/previews.js');
}

/** The run context of a previews command, and its target's operations. */
async function previewsContext(flags: CommonFlags, reporter: Reporter, signal: AbortSignal) {
  const log = reporter.logFor('previews');
  const ctx: RunContext = { ...(await runContext(flags, signal)), log, afterRun: startNow(log) };
  requirePreviewsConfig(ctx);
  return { ctx, log, ops: await previewOps(ctx) };
}

/** `sitepipe previews [list]`, `previews delete BRANCH`, `previews prune`. */
export function registerPreviews(program: Command): void {
  const previews = program
    .command('previews')
    .description('the preview sites of non-production branches: list, delete, prune');

  previews
    .command('list', { isDefault: true })
    .description('every preview: branch, commit, URL, age')
    .option('-c, --config <file>', 'the sitepipe config', DEFAULT_CONFIG_FILE)
    .option('--json', 'print the previews as JSON')
    .action(async (flags: CommonFlags) => {
      process.exitCode = await withReporter({}, async (reporter, signal) => {
        const { ctx, ops } = await previewsContext(flags, reporter, signal);
        const all = await ops.listPreviews(ctx);
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
          return;
        }
        const rows = all.map((p) => [p.branch, p.commit?.slice(0, 12) ?? '-', p.url, age(p.deployedAt)]);
        process.stdout.write(`${table([['BRANCH', 'COMMIT', 'URL', 'AGE'], ...rows])}\n`);
      });
    });

  previews
    .command('delete')
    .description(
      "remove a branch's preview (Kubernetes: its Deployment, Service, route and history; host: its tree, history and Caddy site block)",
    )
    .argument('<branch>')
    .option('-c, --config <file>', 'the sitepipe config', DEFAULT_CONFIG_FILE)
    .option('-n, --dry-run', 'list what would be removed, remove nothing')
    .option('--json', 'print NDJSON events')
    .action(async (branch: string, flags: CommonFlags) => {
      process.exitCode = await withReporter(flags, async (reporter, signal) => {
        const { ctx, ops } = await previewsContext(flags, reporter, signal);
        const preview = ops.findPreview(await ops.listPreviews(ctx), branch, ctx);
        const removed = await ops.deletePreview(ctx, preview);
        reporter.result(
          { branch: preview.branch, removed, dryRun: ctx.dryRun },
          `${ctx.dryRun ? 'would remove' : 'removed'} the preview of ${preview.branch}: ${removed.join(', ') || 'nothing was left'}`,
        );
      });
    });

  previews
    .command('prune')
    .description('remove previews whose branch is gone from the remote, or older than --max-age')
    .option('-c, --config <file>', 'the sitepipe config', DEFAULT_CONFIG_FILE)
    .option('--max-age <duration>', 'also remove previews last deployed longer ago than this (e.g. 14d)')
    .option('--remote <name>', 'the remote whose branches count', 'origin')
    .option('-n, --dry-run', 'list what would be removed, remove nothing')
    .option('--json', 'print NDJSON events')
    .action(async (flags: CommonFlags & { maxAge?: string; remote: string }) => {
      const maxAgeMs = flags.maxAge === undefined ? null : parseDuration(flags.maxAge);
      process.exitCode = await withReporter(flags, async (reporter, signal) => {
        if (maxAgeMs === null && flags.maxAge !== undefined) {
          throw new SitepipeError(
            'USAGE',
            `--max-age ${flags.maxAge} is not a duration`,
            'e.g. --max-age 14d, 36h, 90m',
          );
        }
        const { ctx, log, ops } = await previewsContext(flags, reporter, signal);
        const all = await ops.listPreviews(ctx);
        const heads = await remoteBranches(ctx.siteDir, flags.remote, signal);
        // prunable is pure; it lives with the Kubernetes operations, so it is loaded for either target.
        const { prunable } = await import('../kube/previews.js');
        const doomed = prunable(all, heads, maxAgeMs);
        for (const { preview, why } of doomed) {
          log.info(`${ctx.dryRun ? 'would remove' : 'removing'} ${preview.branch} (${preview.url}): ${why}`);
          await ops.deletePreview(ctx, preview);
        }
        reporter.result(
          {
            pruned: doomed.map((d) => d.preview.branch),
            kept: all.length - doomed.length,
            dryRun: ctx.dryRun,
          },
          `${ctx.dryRun ? 'would prune' : 'pruned'} ${doomed.length} of ${all.length} preview(s)`,
        );
      });
    });
}

import { SitepipeError } from '../pipeline/errors.js';
import type { VerifyResult } from '../pipeline/records.js';
import { defineStep } from '../pipeline/step.js';
import type { ReleaseExpectation } from '../pipeline/verify/checks.js';
import { formatDuration } from '../pipeline/verify/duration.js';
import { verifyEdge } from '../pipeline/verify/edge.js';
import { edgePlan, verifyHosts } from '../pipeline/verify/plan.js';
import { releaseHeaderValue } from '../pipeline/verify/release-header.js';
import { reportLines, resultTable, summaryLine } from '../pipeline/verify/report.js';

/**
 * Checks, after deploy, what visitors get from every address of every host: a valid certificate
 * that covers the host, the same one everywhere, with days to spare; plain HTTP redirecting to
 * HTTPS; and the release just deployed. Load balancers take minutes to converge, so it polls
 * with backoff for up to verify.waitSeconds. Skipped when the config names no hosts, or with
 * verify.enabled: false.
 */
export const verify = defineStep({
  name: 'verify',
  needs: ['source', 'tag', 'deploy'],
  mutates: false,
  description: 'check every frontend of every host: certificate, redirect, release',
  async run(ctx, { source, tag, deploy }): Promise<VerifyResult> {
    const hosts = verifyHosts(ctx.config);
    // The production hosts serve what this run deployed only when it deployed production.
    const notProduction = ctx.config.deploy && (!deploy.deployed || deploy.preview);
    if (hosts.length === 0 || !ctx.config.verify.enabled || notProduction) {
      ctx.log.info(
        notProduction
          ? `this run did not deploy production (${deploy.preview ? `it rolled the preview ${deploy.preview.url}` : deploy.skipped}); production is not verified`
          : ctx.config.verify.enabled
            ? 'no hosts in deploy.hosts or verify.hosts; nothing to verify'
            : 'verify.enabled is false',
      );
      return {
        commit: source.commit,
        verified: false,
        release: null,
        attempts: 0,
        addresses: [],
        warnings: [],
      };
    }
    const value = releaseHeaderValue(ctx.config, tag.commitTag);
    const release: ReleaseExpectation =
      value === null ? { mode: 'off' } : { mode: 'expect', release: value, from: 'the commit just deployed' };
    const plan = await edgePlan(ctx.config, ctx.configPath, release, ctx.env);
    const waitMs = ctx.config.verify.waitSeconds * 1000;
    ctx.log.info(`checking ${hosts.join(', ')}${waitMs ? `, waiting up to ${formatDuration(waitMs)}` : ''}`);
    const report = await verifyEdge(plan, {
      waitMs,
      signal: ctx.signal,
      onRetry: (r, attempt, next) =>
        ctx.log.info(
          `attempt ${attempt}: ${r.problems.length} problem(s), first: ${r.problems[0]}; next in ${formatDuration(next)}`,
        ),
    });
    if (!report.ok) {
      throw new SitepipeError(
        'VERIFY_FAILED',
        `the edge does not serve ${value ?? 'the site'} correctly: ${summaryLine(report)}`,
        report.timedOut
          ? `each line names the address and what it serves; the load balancer had ${formatDuration(waitMs)} (verify.waitSeconds) to converge`
          : 'each line names the address and what it serves; `sitepipe verify --wait 15m` polls while a load balancer converges',
        reportLines(report),
      );
    }
    for (const line of resultTable(report.rows)) ctx.log.info(line);
    for (const w of report.warnings) ctx.log.warn(w);
    return {
      commit: source.commit,
      verified: true,
      release: value,
      attempts: report.attempts,
      addresses: report.rows.map((r) => ({
        host: r.host,
        address: r.address,
        family: r.family,
        serial: r.serial,
        expiry: r.expiry,
        daysLeft: r.daysLeft,
        release: r.release,
        redirect: r.redirect,
        verdict: r.verdict,
      })),
      warnings: report.warnings,
    };
  },
  summarize: (v) =>
    v.verified
      ? `${v.addresses.length} address(es) serve ${v.release ?? 'the site'}${v.warnings.length ? `, ${v.warnings.length} warning(s)` : ''}`
      : 'skipped (no hosts, or verify.enabled: false)',
});

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../pipeline/config.js';
import type { ReleaseExpectation } from '../../pipeline/verify/checks.js';
import { verifyEdge } from '../../pipeline/verify/edge.js';
import { edgePlan } from '../../pipeline/verify/plan.js';
import { SETUP_REGISTRY } from '../helpers/registry.js';
import { runSteps } from '../helpers/run.js';
import { exampleConfig, exampleRepo, type SiteRepo } from '../helpers/site-repo.js';
import { type Frontend, freeDualStackPort, startFrontend } from '../helpers/tls-frontend.js';
import { createTestCa } from '../helpers/tls-frontend-ca.js';
import { runSitePod, type SitePod } from '../helpers/tls-frontend-image.js';

const HOST = 'www.example.com';
const BUILD = ['source', 'tag', 'hugo', 'pygments', 'render', 'image'];

describe('verify against the real sitepipe image, run twice behind an IPv4 and an IPv6 TLS frontend', () => {
  let repo: SiteRepo;
  let dir: string;
  let commitTag: string;
  let configYaml: string;
  const pods: SitePod[] = [];
  const frontends: Frontend[] = [];

  beforeAll(async () => {
    const repository = `${SETUP_REGISTRY}/verify-${randomBytes(4).toString('hex')}/website`;
    repo = await exampleRepo({ configYaml: await exampleConfig(repository) });
    dir = await mkdtemp(join(tmpdir(), 'sitepipe-verify-image-'));
    const { outputs } = await runSteps({
      config: repo.config,
      only: BUILD,
      stateDir: join(dir, 'state'),
      cacheDir: join(dir, 'cache'),
    });
    const image = outputs.image?.localRef as string;
    commitTag = outputs.tag?.commitTag as string;
    pods.push(...(await Promise.all([runSitePod(image, SETUP_REGISTRY), runSitePod(image, SETUP_REGISTRY)])));

    const ca = await createTestCa(join(dir, 'ca'));
    const certificate = await ca.issue({ names: [HOST] });
    const httpsPort = await freeDualStackPort();
    let httpPort: number;
    do httpPort = await freeDualStackPort();
    while (httpPort === httpsPort);
    // Each frontend proxies to its own copy of the image and adds nothing of its own but HSTS.
    frontends.push(
      ...(await Promise.all(
        [
          ['127.0.0.1', pods[0]],
          ['::1', pods[1]],
        ].map(([ip, pod]) =>
          startFrontend({
            ips: [ip as string],
            httpsPort,
            httpPort,
            certificate,
            upstream: (pod as SitePod).upstream,
          }),
        ),
      )),
    );
    configYaml = [
      'hugo: { version: 0.111.3 }',
      `image: { repository: ${repository} }`,
      'verify:',
      `  hosts: [${HOST}]`,
      "  addresses: ['127.0.0.1', '::1']",
      `  httpsPort: ${httpsPort}`,
      `  httpPort: ${httpPort}`,
      `  caFile: ${ca.certPath}`,
      '',
    ].join('\n');
  });
  afterAll(async () => {
    await Promise.all([...frontends, ...pods].map((x) => x.stop()));
    await repo?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function check(release: ReleaseExpectation, path = '/') {
    const text = `${configYaml}  path: ${path}\n`;
    const plan = await edgePlan(parseConfig(text, 'test.yaml'), join(dir, 'sitepipe.yaml'), release, {});
    return verifyEdge(plan, { waitMs: 0, signal: new AbortController().signal });
  }

  it('passes the certificate, redirect and HSTS checks with the site served through both frontends', async () => {
    const report = await check({ mode: 'off' });
    expect(report.problems).toEqual([]);
    expect(report.rows.map((r) => [r.family, r.redirect, r.verdict])).toEqual([
      ['IPv4', 'ok', 'ok'],
      ['IPv6', 'ok', 'ok'],
    ]);
  });

  it('does not count the image as serving a release other than its own', async () => {
    const report = await check({ mode: 'expect', release: 'fedcba987654', from: 'the test' });
    expect(report.ok).toBe(false);
    // Without the header in the image yet: "sends no … header"; with it: "serves release <tag>, not …".
    for (const r of report.rows) {
      expect(r.problems.join('\n')).toMatch(
        new RegExp(`sends no Sitepipe-Release header|serves release ${commitTag}, not fedcba987654`),
      );
    }
  });

  // Passes once the image's nginx config sends the header (pipeline/nginx.ts, releaseHeaderDirective).
  it('reads the release header the image sends: the commit tag, from both copies, on pages and assets', async () => {
    // A stylesheet is served by the location with its own add_header (Cache-Control).
    for (const path of ['/', '/css/syntax.css']) {
      const report = await check({ mode: 'expect', release: commitTag, from: 'the build' }, path);
      expect(
        report.rows.map((r) => r.release),
        path,
      ).toEqual([commitTag, commitTag]);
      expect(report.problems, path).toEqual([]);
    }
  });
});

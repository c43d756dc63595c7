import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../pipeline/config.js';
import type { SitepipeError } from '../../pipeline/errors.js';
import { Reporter } from '../../pipeline/output.js';
import { PIPELINE } from '../../pipeline/pipeline.js';
import { verifyRecord } from '../../pipeline/records.js';
import { runPipeline } from '../../pipeline/runner.js';
import { writeRecord } from '../../pipeline/state.js';
import type { ReleaseExpectation } from '../../pipeline/verify/checks.js';
import { type EdgeReport, verifyEdge } from '../../pipeline/verify/edge.js';
import { edgePlan } from '../../pipeline/verify/plan.js';
import {
  type Frontend,
  type FrontendSpec,
  freeDualStackPort,
  startFrontend,
} from '../helpers/tls-frontend.js';
import { createTestCa, type Issued, type TestCa } from '../helpers/tls-frontend-ca.js';
import { sitepipeVerify } from '../helpers/tls-frontend-cli.js';

const HOST = 'www.example.com';
const RELEASE = '0123456789ab';
const OLD_RELEASE = 'ba9876543210';
const DAY = 86_400_000;
const days = (n: number) => new Date(Date.now() + n * DAY);

describe('verify against TLS frontends on 127.0.0.1 and [::1] (Debian nginx, a CA made by the test)', () => {
  let dir: string;
  let ca: TestCa;
  let good: Issued;
  let httpsPort: number;
  let httpPort: number;
  const running: Frontend[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sitepipe-verify-'));
    ca = await createTestCa(join(dir, 'ca'));
    good = await ca.issue({ names: [HOST, 'example.com'] });
    httpsPort = await freeDualStackPort();
    do httpPort = await freeDualStackPort();
    while (httpPort === httpsPort);
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((f) => f.stop()));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  /** The IPv4 and the IPv6 frontend: what both serve, then what the IPv6 one serves differently. */
  async function serve(
    both: Partial<FrontendSpec> = {},
    v6: Partial<FrontendSpec> = {},
  ): Promise<Frontend[]> {
    const spec = (ips: string[], extra: Partial<FrontendSpec>): FrontendSpec => ({
      ips,
      httpsPort,
      httpPort,
      certificate: good,
      release: RELEASE,
      ...both,
      ...extra,
    });
    const started = await Promise.all([
      startFrontend(spec(['127.0.0.1'], {})),
      startFrontend(spec(['::1'], v6)),
    ]);
    running.push(...started);
    return started;
  }

  const configYaml = (verify: string[] = []) =>
    [
      'hugo: { version: 0.111.3 }',
      'image: { repository: 127.0.0.1:5000/website }',
      'verify:',
      `  hosts: [${HOST}]`,
      ...(verify.some((l) => l.startsWith('addresses:')) ? [] : ["  addresses: ['127.0.0.1', '::1']"]),
      `  httpsPort: ${httpsPort}`,
      `  httpPort: ${httpPort}`,
      `  caFile: ${ca.certPath}`,
      '  timeoutSeconds: 5',
      ...verify.map((l) => `  ${l}`),
      '',
    ].join('\n');

  async function check(
    verify: string[] = [],
    release: ReleaseExpectation = { mode: 'expect', release: RELEASE, from: 'the test' },
  ): Promise<EdgeReport> {
    const config = parseConfig(configYaml(verify), 'test.yaml');
    const plan = await edgePlan(config, join(dir, 'sitepipe.yaml'), release, process.env);
    return verifyEdge(plan, { waitMs: 0, signal: new AbortController().signal });
  }

  const v4 = () => `127.0.0.1:${httpsPort}`;
  const v6 = () => `[::1]:${httpsPort}`;

  it('passes when both families serve the same valid certificate, the release, a redirect and HSTS', async () => {
    await serve();
    const report = await check();
    expect(report.problems).toEqual([]);
    expect(report.warnings).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.rows.map((r) => [r.address, r.family, r.serial, r.release, r.redirect, r.verdict])).toEqual(
      [
        [v4(), 'IPv4', good.serial, RELEASE, 'ok', 'ok'],
        [v6(), 'IPv6', good.serial, RELEASE, 'ok', 'ok'],
      ],
    );
    for (const r of report.rows) {
      expect(r.expiry).toBe(good.notAfter.toISOString().replace(/\.\d+Z$/, '.000Z'));
      expect(r.daysLeft).toBeGreaterThanOrEqual(89);
    }
  });

  it('fails when the IPv6 frontend keeps an older certificate for the same host, naming what each address serves', async () => {
    const old = await ca.issue({ names: [HOST, 'example.com'], notBefore: days(-60), notAfter: days(30) });
    await serve({}, { certificate: old });
    const report = await check();
    expect(report.ok).toBe(false);
    expect(old.serial).not.toBe(good.serial);
    const mismatch = report.problems.find((p) => p.includes('different certificates'));
    expect(mismatch).toContain(
      `${v4()} serial ${good.serial}, expires ${good.notAfter.toISOString().slice(0, 10)}`,
    );
    expect(mismatch).toContain(
      `${v6()} serial ${old.serial}, expires ${old.notAfter.toISOString().slice(0, 10)}`,
    );
    // Each on its own is valid: the mismatch is the only failure, and it fails both rows.
    expect(report.problems).toHaveLength(1);
    expect(report.rows.map((r) => r.verdict)).toEqual(['FAIL', 'FAIL']);
  });

  it('fails an expired certificate', async () => {
    const expired = await ca.issue({ names: [HOST], notBefore: days(-100), notAfter: days(-10) });
    await serve({ certificate: expired });
    const report = await check();
    expect(report.ok).toBe(false);
    expect(report.problems).toContain(
      `${HOST} ${v4()}: the certificate expired on ${expired.notAfter.toISOString().slice(0, 10)}`,
    );
    expect(report.rows.map((r) => r.daysLeft)).toEqual([-10, -10]);
  });

  it('fails a certificate with fewer than verify.minDays left', async () => {
    const soon = await ca.issue({ names: [HOST], notAfter: days(5.5) });
    await serve({ certificate: soon });
    const report = await check(['minDays: 14']);
    expect(report.ok).toBe(false);
    expect(report.problems[0]).toMatch(
      /^www\.example\.com 127\.0\.0\.1:\d+: the certificate expires in 5 days, on .* \(verify\.minDays: 14\)$/,
    );
    expect((await check(['minDays: 5'])).ok).toBe(true);
  });

  it('fails a certificate that does not cover the host', async () => {
    const other = await ca.issue({ names: ['other.example.org'] });
    await serve({ certificate: other });
    const report = await check();
    expect(report.ok).toBe(false);
    expect(report.problems).toContain(
      `${HOST} ${v6()}: the certificate does not cover ${HOST} (it covers DNS:other.example.org)`,
    );
  });

  it('fails a self-signed certificate', async () => {
    const self = await ca.selfSigned({ names: [HOST] });
    await serve({ certificate: self });
    const report = await check();
    expect(report.ok).toBe(false);
    expect(report.problems.join('\n')).toMatch(/127\.0\.0\.1:\d+: the certificate is self-signed/);
    expect(report.problems.join('\n')).toMatch(/\[::1\]:\d+: the certificate is self-signed/);
  });

  it('fails when plain HTTP does not redirect to HTTPS', async () => {
    await serve({ redirect: false });
    const report = await check();
    expect(report.ok).toBe(false);
    expect(report.rows.map((r) => r.redirect)).toEqual(['FAIL', 'FAIL']);
    expect(report.problems[0]).toBe(
      `${HOST} ${v4()}: plain HTTP (http://${HOST}:${httpPort}/sitepipe-verify?redirect=1) answered 200 instead of a redirect to HTTPS`,
    );
  });

  it('fails a frontend that serves an old release', async () => {
    await serve({}, { release: OLD_RELEASE });
    const report = await check();
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      `${HOST} ${v6()}: serves release ${OLD_RELEASE}, not ${RELEASE} (the test)`,
    ]);
    expect(report.rows.map((r) => r.release)).toEqual([RELEASE, OLD_RELEASE]);
  });

  it('fails an address that refuses connections, and still checks the others', async () => {
    await serve();
    const report = await check(["addresses: ['127.0.0.1', '::1', '127.0.0.2']"]);
    expect(report.ok).toBe(false);
    expect(report.rows.map((r) => r.verdict)).toEqual(['ok', 'ok', 'FAIL']);
    expect(report.problems.join('\n')).toMatch(
      new RegExp(`^${HOST} 127\\.0\\.0\\.2:${httpsPort}: no TLS connection: connect ECONNREFUSED`, 'm'),
    );
  });

  it('warns, and passes, when HSTS is not sent', async () => {
    await serve({ hsts: false });
    const report = await check();
    expect(report.ok).toBe(true);
    expect(report.rows.map((r) => r.verdict)).toEqual(['warn', 'warn']);
    expect(report.warnings).toEqual([
      `${HOST} ${v4()}: sends no Strict-Transport-Security (HSTS) header`,
      `${HOST} ${v6()}: sends no Strict-Transport-Security (HSTS) header`,
    ]);
  });

  it('with no release to expect, fails frontends that serve different ones', async () => {
    await serve({}, { release: OLD_RELEASE });
    const report = await check([], { mode: 'same' });
    expect(report.problems).toEqual([
      `the addresses serve different releases: ${HOST} ${v4()} ${RELEASE}; ${HOST} ${v6()} ${OLD_RELEASE}`,
    ]);
  });

  it('finds the addresses of a name through the system resolver (localhost)', async () => {
    const local = await ca.issue({ names: ['localhost'] });
    await serve({ certificate: local });
    const text = configYaml()
      .replace(`hosts: [${HOST}]`, 'hosts: [localhost]')
      .replace(/^ {2}addresses: .*\n/m, '');
    const plan = await edgePlan(
      parseConfig(text, 'test.yaml'),
      join(dir, 'sitepipe.yaml'),
      { mode: 'same' },
      {},
    );
    const report = await verifyEdge(plan, { waitMs: 0, signal: new AbortController().signal });
    // /etc/hosts has localhost as 127.0.0.1 only here; a ::1 entry would add the IPv6 row.
    expect(report.rows.map((r) => r.address)).toContain(`127.0.0.1:${httpsPort}`);
    expect(report.ok).toBe(true);
  });

  describe('the verify step, after deploy', () => {
    const COMMIT = `${RELEASE}${'0'.repeat(28)}`;

    /** `sitepipe run verify`, with the records of source, tag and deploy an earlier step left. */
    async function runVerifyStep(configText: string) {
      const stateDir = await mkdtemp(join(dir, 'state-'));
      await writeRecord(stateDir, 'source', {
        commit: COMMIT,
        shortSha: RELEASE,
        branch: 'main',
        commitTime: '2026-03-01T12:00:00Z',
        dirty: false,
        sourceUrl: null,
      });
      await writeRecord(stateDir, 'tag', {
        commit: COMMIT,
        repository: '127.0.0.1:5000/website',
        tags: [RELEASE, 'main'],
        commitTag: RELEASE,
        branchTag: 'main',
      });
      await writeRecord(stateDir, 'deploy', {
        commit: COMMIT,
        deployed: true,
        image: 'x',
        previousImage: null,
      });
      const text: string[] = [];
      const reporter = new Reporter('plain', { write: (t: string) => text.push(t) });
      const configPath = join(stateDir, 'sitepipe.yaml');
      const config = parseConfig(configText, configPath);
      try {
        const outputs = await runPipeline({
          pipeline: PIPELINE,
          only: ['verify'],
          reporter,
          context: {
            config,
            configPath,
            siteDir: stateDir,
            stateDir,
            cacheDir: join(stateDir, 'cache'),
            dryRun: false,
            allowDirty: false,
            signal: new AbortController().signal,
            env: {},
          },
        });
        return { outputs, text: text.join('') };
      } catch (e) {
        return { error: e as SitepipeError, text: text.join('') };
      }
    }

    it('checks for the commit tag just deployed and records what every address serves', async () => {
      await serve();
      const { outputs, text } = await runVerifyStep(configYaml(['waitSeconds: 0']));
      const record = verifyRecord.parse(outputs?.verify);
      expect(record).toMatchObject({ commit: COMMIT, verified: true, release: RELEASE, attempts: 1 });
      expect(record.addresses.map((a) => [a.address, a.release, a.verdict])).toEqual([
        [v4(), RELEASE, 'ok'],
        [v6(), RELEASE, 'ok'],
      ]);
      expect(text).toMatch(/\[verify\] ok in .*: 2 address\(es\) serve 0123456789ab/);
    });

    it('fails the run with VERIFY_FAILED and the table when an address serves another release', async () => {
      await serve({}, { release: OLD_RELEASE });
      const { error } = await runVerifyStep(configYaml(['waitSeconds: 0']));
      expect(error?.code).toBe('VERIFY_FAILED');
      expect(error?.details.join('\n')).toMatch(/^HOST\s+ADDRESS/);
      expect(error?.details).toContain(
        `FAIL ${HOST} ${v6()}: serves release ${OLD_RELEASE}, not ${RELEASE} (the commit just deployed)`,
      );
    });

    it('with image.releaseHeader: false, checks everything but the release', async () => {
      await serve({}, { release: OLD_RELEASE });
      const text = configYaml(['waitSeconds: 0']).replace(
        'repository: 127.0.0.1:5000/website }',
        'repository: 127.0.0.1:5000/website, releaseHeader: false }',
      );
      const { outputs } = await runVerifyStep(text);
      expect(outputs?.verify).toMatchObject({ verified: true, release: null });
    });

    it('is skipped when the config names no hosts, or with verify.enabled: false', async () => {
      const { outputs } = await runVerifyStep(
        'hugo: { version: 0.111.3 }\nimage: { repository: 127.0.0.1:5000/website }\n',
      );
      expect(outputs?.verify).toMatchObject({ verified: false, addresses: [] });
      // Nothing listens: had it checked, it would have failed.
      const off = await runVerifyStep(configYaml(['enabled: false']));
      expect(off.outputs?.verify).toMatchObject({ verified: false, addresses: [] });
    });
  });

  describe('sitepipe verify (the command)', () => {
    async function command(args: string[], onOutput?: (text: string) => void) {
      const config = join(dir, `sitepipe-${Math.random().toString(36).slice(2)}.yaml`);
      await writeFile(config, configYaml());
      return sitepipeVerify(
        ['--config', config, '--release', RELEASE, ...args],
        onOutput ? { onOutput } : {},
      );
    }

    it('prints the table and exits 0 when every check passes', async () => {
      await serve();
      const { code, text } = await command([]);
      expect(code).toBe(0);
      const [head, ...lines] = text.split('\n');
      expect(head).toMatch(
        /^HOST\s+ADDRESS\s+FAMILY\s+SERIAL\s+EXPIRY\s+DAYS\s+RELEASE\s+REDIRECT\s+VERDICT$/,
      );
      expect(lines[0]).toMatch(
        new RegExp(`^${HOST}\\s+127\\.0\\.0\\.1:${httpsPort}\\s+IPv4\\s+${good.serial}\\s+`),
      );
      expect(lines[1]).toMatch(/\s+IPv6\s+.*\s+0123456789ab\s+ok\s+ok$/);
      expect(text).toMatch(/2 addresses of 1 host pass, serving 0123456789ab/);
    });

    it('reads the config from an environment variable, as the CronJob runs it (--config-env)', async () => {
      await serve();
      const { code, text } = await sitepipeVerify(
        ['--config-env', 'SITEPIPE_CONFIG', '--release', RELEASE, '--json'],
        { env: { SITEPIPE_CONFIG: configYaml() } },
      );
      expect(code).toBe(0);
      const result = text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .find((e) => e.event === 'result');
      expect(result).toMatchObject({ ok: true, expected: { mode: 'expect', release: RELEASE } });
    });

    it('exits 1 with every failure named, and --json carries every row', async () => {
      const old = await ca.issue({ names: [HOST], notBefore: days(-60), notAfter: days(30) });
      await serve({}, { certificate: old });
      const plain = await command([]);
      expect(plain.code).toBe(1);
      expect(plain.text).toMatch(/^FAIL www\.example\.com: the addresses serve different certificates: /m);
      expect(plain.text).toMatch(/error\[VERIFY_FAILED\]: 2 of 2 addresses fail/);

      const json = await command(['--json']);
      expect(json.code).toBe(1);
      const events = json.text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      const result = events.find((e) => e.event === 'result');
      expect(result.ok).toBe(false);
      expect(result.rows.map((r: { serial: string }) => r.serial)).toEqual([good.serial, old.serial]);
      expect(events.at(-1)).toMatchObject({ event: 'error', code: 'VERIFY_FAILED' });
    });

    it('--wait passes once a frontend becomes correct while it polls', async () => {
      const old = await ca.issue({ names: [HOST], notBefore: days(-60), notAfter: days(30) });
      const [, ipv6] = await serve({}, { certificate: old });
      let fixed: Promise<void> | null = null;
      // The renewal reaches the IPv6 frontend as soon as verify has seen it fail once.
      const { code, text } = await command(['--wait', '2m'], (t) => {
        if (!fixed && t.includes('attempt 1:')) {
          fixed =
            ipv6?.restart({ ips: ['::1'], httpsPort, httpPort, certificate: good, release: RELEASE }) ?? null;
        }
      });
      expect(fixed).not.toBeNull();
      expect(text).toMatch(
        /\[verify\] attempt 1: 1 problem\(s\), first: www\.example\.com: the addresses serve different certificates/,
      );
      expect(code).toBe(0);
      expect(text).toMatch(/2 addresses of 1 host pass after \d+ attempts/);
    });

    it('--wait fails when the time is up and a frontend never becomes correct', async () => {
      await serve({ redirect: false });
      const { code, text } = await command(['--wait', '4s', '--json']);
      expect(code).toBe(1);
      const events = text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      const result = events.find((e) => e.event === 'result');
      expect(result.timedOut).toBe(true);
      expect(result.attempts).toBeGreaterThanOrEqual(2);
      expect(events.filter((e) => e.event === 'log' && e.message.startsWith('attempt '))).toHaveLength(
        result.attempts - 1,
      );
      expect(events.at(-1).message).toMatch(/\(the wait ran out\)/);
    });
  });
});

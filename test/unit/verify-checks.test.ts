import { describe, expect, it } from 'vitest';
import { ANNOTATION } from '../../pipeline/kube/roll.js';
import { formatAddress, parseAddress, type Target } from '../../pipeline/verify/addresses.js';
import { judge, type Probed, redirectProblem } from '../../pipeline/verify/checks.js';
import { formatDuration, parseDuration } from '../../pipeline/verify/duration.js';
import { statusAddresses } from '../../pipeline/verify/frontend-addresses.js';
import type { HttpProbe } from '../../pipeline/verify/http-probe.js';
import { releaseHeaderDirective, releaseMatches } from '../../pipeline/verify/release-header.js';
import type { ServedCertificate } from '../../pipeline/verify/tls-probe.js';

const target = (over: Partial<Target> = {}): Target => ({
  host: 'www.example.com',
  ip: '203.0.113.7',
  family: 'IPv4',
  httpsPort: 443,
  httpPort: 80,
  ...over,
});
const redirect = (status: number, location?: string): HttpProbe => ({
  ok: true,
  status,
  headers: location ? { location } : {},
});
const PATH = '/sitepipe-verify?redirect=1';

describe('the redirect check', () => {
  it('accepts a redirect to the same host and path over HTTPS, with the HTTPS port when it is not 443', () => {
    expect(redirectProblem(redirect(301, `https://www.example.com${PATH}`), target(), PATH)).toBeNull();
    expect(redirectProblem(redirect(308, `https://www.example.com:443${PATH}`), target(), PATH)).toBeNull();
    expect(
      redirectProblem(
        redirect(301, `https://www.example.com:8443${PATH}`),
        target({ httpsPort: 8443 }),
        PATH,
      ),
    ).toBeNull();
  });

  it.each([
    [redirect(200), /answered 200 instead of a redirect to HTTPS/],
    [redirect(301, `http://www.example.com${PATH}`), /not to HTTPS/],
    [redirect(301, `https://example.com${PATH}`), /redirects to another host/],
    [redirect(301, 'https://www.example.com/'), /redirects to another path/],
    [redirect(301, '/sitepipe-verify?redirect=1'), /not an absolute https:\/\/ URL/],
    [redirect(301, `https://www.example.com:8443${PATH}`), /redirects to port 8443/],
    [{ ok: false, error: 'connect ECONNREFUSED' } as HttpProbe, /failed: connect ECONNREFUSED/],
  ])('fails %j', (answer, why) => {
    expect(redirectProblem(answer, target(), PATH)).toMatch(why);
  });

  it('expects the HTTPS port in the Location when it is not 443', () => {
    expect(
      redirectProblem(redirect(301, `https://www.example.com${PATH}`), target({ httpsPort: 8443 }), PATH),
    ).toMatch(/redirects to port 443/);
  });
});

const cert = (serial: string, validTo = '2030-01-01T00:00:00.000Z'): ServedCertificate => ({
  serial,
  validFrom: '2029-10-01T00:00:00.000Z',
  validTo,
  fingerprint256: serial,
  subject: 'www.example.com',
  issuer: 'Test CA',
  altNames: ['DNS:www.example.com'],
});
const served = (t: Target, c: ServedCertificate, release = 'abc1234def56'): Probed => ({
  target: t,
  tls: { ok: true, certificate: c, chainError: null, identityError: null },
  https: {
    ok: true,
    status: 200,
    headers: { 'sitepipe-release': release, 'strict-transport-security': 'max-age=1' },
  },
  http: redirect(301, `https://${t.host}${PATH}`),
});
const options = {
  minDays: 14,
  release: { mode: 'expect', release: 'abc1234def56', from: 'the deploy' } as const,
  path: '/',
  redirectPath: PATH,
  now: new Date('2029-12-01T00:00:00Z'),
};
const v4 = target();
const v6 = target({ ip: '2001:db8::7', family: 'IPv6' });

describe('judging a round', () => {
  it('passes addresses that serve one valid certificate and the release', () => {
    const r = judge([served(v4, cert('0A')), served(v6, cert('0A'))], [], options);
    expect(r.ok).toBe(true);
    expect(r.rows.map((x) => [x.address, x.daysLeft, x.verdict])).toEqual([
      ['203.0.113.7:443', 31, 'ok'],
      ['[2001:db8::7]:443', 31, 'ok'],
    ]);
  });

  it('names each address with its serial and expiry when they differ, and fails them all', () => {
    const r = judge(
      [served(v4, cert('0A')), served(v6, cert('0B', '2029-12-20T00:00:00.000Z'))],
      [],
      options,
    );
    expect(r.problems).toEqual([
      'www.example.com: the addresses serve different certificates: 203.0.113.7:443 serial 0A, expires 2030-01-01 (31 days left); [2001:db8::7]:443 serial 0B, expires 2029-12-20 (19 days left)',
    ]);
    expect(r.rows.map((x) => x.verdict)).toEqual(['FAIL', 'FAIL']);
  });

  it('counts the same serial with another expiry as a different certificate', () => {
    const r = judge(
      [served(v4, cert('0A')), served(v6, cert('0A', '2029-12-31T00:00:00.000Z'))],
      [],
      options,
    );
    expect(r.ok).toBe(false);
  });

  it('says once why an address that refuses connections fails over HTTPS', () => {
    const refused: Probed = {
      target: v6,
      tls: { ok: false, error: 'connect ECONNREFUSED' },
      https: { ok: false, error: 'connect ECONNREFUSED' },
      http: null,
    };
    const r = judge([served(v4, cert('0A')), refused], [], options);
    expect(r.problems).toEqual([
      'www.example.com [2001:db8::7]:443: no TLS connection: connect ECONNREFUSED',
    ]);
    expect(r.rows[1]?.redirect).toBe('off');
  });

  it('fails a host without addresses, with a row of its own', () => {
    const r = judge([], [{ host: 'www.example.com', error: 'no addresses: getaddrinfo ENOTFOUND' }], options);
    expect(r.ok).toBe(false);
    expect(r.rows).toMatchObject([{ host: 'www.example.com', address: '-', verdict: 'FAIL' }]);
  });

  it('fails a missing release header unless the header is off, and an error status always', () => {
    const bare = { ...served(v4, cert('0A')), https: { ok: true, status: 200, headers: {} } as HttpProbe };
    expect(judge([bare], [], options).problems).toEqual([
      'www.example.com 203.0.113.7:443: sends no Sitepipe-Release header (expected abc1234def56)',
    ]);
    const off = judge([bare], [], { ...options, release: { mode: 'off' } });
    expect(off.ok).toBe(true);
    expect(off.warnings).toEqual([
      'www.example.com 203.0.113.7:443: sends no Strict-Transport-Security (HSTS) header',
    ]);
    const broken = { ...bare, https: { ok: true, status: 502, headers: {} } as HttpProbe };
    expect(judge([broken], [], { ...options, release: { mode: 'off' } }).problems).toEqual([
      'www.example.com 203.0.113.7:443: HTTPS GET / answered 502',
    ]);
  });
});

describe('releases', () => {
  it('match a commit and its abbreviations, a tag only exactly', () => {
    const commit = '0123456789abcdef0123456789abcdef01234567';
    expect(releaseMatches('0123456789ab', commit)).toBe(true);
    expect(releaseMatches(commit, '0123456789ab')).toBe(true);
    expect(releaseMatches('0123456789ab', '0123456789ac')).toBe(false);
    expect(releaseMatches('012345', '0123456789ab')).toBe(false);
    expect(releaseMatches('0123456789ab-dirty', commit)).toBe(false);
    expect(releaseMatches('0123456789ab-dirty', '0123456789ab-dirty')).toBe(true);
  });

  it('read the commit from the annotation deploy writes', async () => {
    const source = await import('node:fs/promises').then((fs) =>
      fs.readFile(new URL('../../pipeline/verify/live-release.ts', import.meta.url), 'utf8'),
    );
    expect(source).toContain(`'${ANNOTATION.commit}'`);
  });

  it('become one add_header line, or none', () => {
    expect(releaseHeaderDirective('0123456789ab')).toBe(
      '    add_header Sitepipe-Release 0123456789ab always;\n',
    );
    expect(releaseHeaderDirective(null)).toBe('');
    expect(() => releaseHeaderDirective('a b;')).toThrow(/cannot be sent/);
  });
});

describe('addresses and durations', () => {
  it('parse with and without the HTTPS port', () => {
    expect(parseAddress('203.0.113.7')).toEqual({ ip: '203.0.113.7' });
    expect(parseAddress('2001:db8::7')).toEqual({ ip: '2001:db8::7' });
    expect(parseAddress('127.0.0.1:8443')).toEqual({ ip: '127.0.0.1', port: 8443 });
    expect(parseAddress('[::1]:8443')).toEqual({ ip: '::1', port: 8443 });
    for (const bad of ['example.com', '::1:8443x', '[::1]', '127.0.0.1:0', '127.0.0.1:70000', '300.1.1.1']) {
      expect(parseAddress(bad), bad).toBeNull();
    }
    expect(formatAddress('::1', 443)).toBe('[::1]:443');
  });

  it('come from the Ingress and Gateway status', () => {
    expect(
      statusAddresses({
        kind: 'Ingress',
        status: { loadBalancer: { ingress: [{ ip: '203.0.113.7' }, { hostname: 'x' }] } },
      }),
    ).toEqual(['203.0.113.7']);
    expect(
      statusAddresses({
        kind: 'Gateway',
        status: {
          addresses: [
            { type: 'IPAddress', value: '203.0.113.7' },
            { type: 'IPAddress', value: '2001:db8::7' },
            { type: 'Hostname', value: 'lb.example.com' },
          ],
        },
      }),
    ).toEqual(['203.0.113.7', '2001:db8::7']);
    expect(statusAddresses(null)).toEqual([]);
  });

  it('parse durations the way --wait takes them', () => {
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('90')).toBe(90_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('5 minutes')).toBeNull();
    expect(formatDuration(90_000)).toBe('1m30s');
    expect(formatDuration(900_000)).toBe('15m');
  });
});

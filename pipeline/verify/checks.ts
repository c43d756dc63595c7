import { type Family, formatAddress, type Target } from './addresses.js';
import type { HttpProbe } from './http-probe.js';
import { RELEASE_HEADER, releaseMatches } from './release-header.js';
import type { ServedCertificate, TlsProbe } from './tls-probe.js';

/** What the release header must say. */
export type ReleaseExpectation =
  /** image.releaseHeader is off: the header is shown when sent, never required. */
  | { mode: 'off' }
  /** Any release, as long as every address serves the same one. */
  | { mode: 'same' }
  /** This release (a commit, full or abbreviated, or a tag); `from` says where it came from. */
  | { mode: 'expect'; release: string; from: string };

/** Everything learnt about one address of one host in one round. */
export interface Probed {
  target: Target;
  tls: TlsProbe;
  /** GET of verify.path over HTTPS. */
  https: HttpProbe;
  /** GET over plain HTTP; null when the redirect is not checked. */
  http: HttpProbe | null;
}

/** A host whose addresses could not be found (DNS, the frontends' status). */
export interface Unresolved {
  host: string;
  error: string;
}

export interface CheckOptions {
  minDays: number;
  release: ReleaseExpectation;
  /** The path the plain-HTTP request asked for; the redirect must keep it. */
  redirectPath: string;
  /** The path fetched over HTTPS. */
  path: string;
  now: Date;
}

export type Verdict = 'ok' | 'warn' | 'FAIL';

/** One line of the result table. */
export interface Row {
  host: string;
  /** ip:port as connected to; '-' for a host without addresses. */
  address: string;
  family: Family | '-';
  serial: string | null;
  /** ISO time the certificate expires. */
  expiry: string | null;
  daysLeft: number | null;
  release: string | null;
  redirect: 'ok' | 'FAIL' | 'off' | '-';
  hsts: boolean | null;
  verdict: Verdict;
  problems: string[];
  warnings: string[];
}

export interface Result {
  ok: boolean;
  rows: Row[];
  /** Every failure, each naming the host and address it is about. */
  problems: string[];
  warnings: string[];
}

const DAY_MS = 86_400_000;

/** OpenSSL's chain verdicts, as a person would say them. */
function chainProblem(code: string, cert: ServedCertificate): string {
  switch (code) {
    case 'CERT_HAS_EXPIRED':
      return `the certificate expired on ${cert.validTo.slice(0, 10)}`;
    case 'CERT_NOT_YET_VALID':
      return `the certificate is not valid before ${cert.validFrom}`;
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return `the certificate is self-signed (issuer ${cert.issuer || 'itself'}), not issued by a trusted CA`;
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return 'the chain ends in a self-signed certificate that is not a trusted root';
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return `the chain does not lead to a trusted root (issuer ${cert.issuer}; an intermediate missing, or an untrusted CA) [${code}]`;
    default:
      return `the chain is not valid: ${code}`;
  }
}

/** Why the plain-HTTP answer is not a redirect to the same host and path over HTTPS; null when it is. */
export function redirectProblem(answer: HttpProbe, target: Target, path: string): string | null {
  const asked = `http://${target.host}${target.httpPort === 80 ? '' : `:${target.httpPort}`}${path}`;
  if (!answer.ok) return `plain HTTP (${asked}) failed: ${answer.error}`;
  const location = answer.headers.location;
  if (![301, 302, 303, 307, 308].includes(answer.status) || !location) {
    return `plain HTTP (${asked}) answered ${answer.status} instead of a redirect to HTTPS`;
  }
  let to: URL;
  try {
    to = new URL(location);
  } catch {
    return `plain HTTP (${asked}) redirects to ${location}, not an absolute https:// URL`;
  }
  const port = target.httpsPort === 443 ? '' : String(target.httpsPort);
  if (to.protocol !== 'https:') return `plain HTTP (${asked}) redirects to ${location}, not to HTTPS`;
  if (to.hostname !== target.host) return `plain HTTP (${asked}) redirects to another host: ${location}`;
  if (to.port !== port) return `plain HTTP (${asked}) redirects to port ${to.port || 443}: ${location}`;
  if (`${to.pathname}${to.search}` !== path)
    return `plain HTTP (${asked}) redirects to another path: ${location}`;
  return null;
}

function header(answer: HttpProbe, name: string): string | null {
  if (!answer.ok) return null;
  const value = answer.headers[name.toLowerCase()];
  return (Array.isArray(value) ? value[0] : value)?.trim() || null;
}

/** The row for one address on its own; what needs the other addresses comes after. */
function checkOne(p: Probed, o: CheckOptions): Row {
  const problems: string[] = [];
  const warnings: string[] = [];
  let certificate: ServedCertificate | null = null;
  let daysLeft: number | null = null;
  if (!p.tls.ok) problems.push(`no TLS connection: ${p.tls.error}`);
  else {
    certificate = p.tls.certificate;
    // Whole days: 5.5 left is 5, expired 10.5 days ago is -10 (|| 0: no -0).
    daysLeft = Math.trunc((Date.parse(certificate.validTo) - o.now.getTime()) / DAY_MS) || 0;
    if (p.tls.chainError) problems.push(chainProblem(p.tls.chainError, certificate));
    if (p.tls.identityError) {
      problems.push(
        `the certificate does not cover ${p.target.host} (it covers ${certificate.altNames.join(', ') || certificate.subject})`,
      );
    }
    if (p.tls.chainError !== 'CERT_HAS_EXPIRED' && daysLeft < o.minDays) {
      problems.push(
        `the certificate expires in ${daysLeft} days, on ${certificate.validTo.slice(0, 10)} (verify.minDays: ${o.minDays})`,
      );
    }
  }

  const release = header(p.https, RELEASE_HEADER);
  if (!p.https.ok) {
    // A failed handshake fails the request too: say it once.
    if (p.tls.ok) problems.push(`HTTPS GET ${o.path} failed: ${p.https.error}`);
  } else {
    if (p.https.status >= 400) problems.push(`HTTPS GET ${o.path} answered ${p.https.status}`);
    if (o.release.mode !== 'off' && !release) {
      problems.push(
        `sends no ${RELEASE_HEADER} header${o.release.mode === 'expect' ? ` (expected ${o.release.release})` : ''}`,
      );
    }
    if (o.release.mode === 'expect' && release && !releaseMatches(release, o.release.release)) {
      problems.push(`serves release ${release}, not ${o.release.release} (${o.release.from})`);
    }
  }
  const hsts = p.https.ok ? header(p.https, 'strict-transport-security') !== null : null;
  if (hsts === false) warnings.push('sends no Strict-Transport-Security (HSTS) header');

  let redirect: Row['redirect'] = 'off';
  if (p.http) {
    const why = redirectProblem(p.http, p.target, o.redirectPath);
    if (why) problems.push(why);
    redirect = why ? 'FAIL' : 'ok';
  }
  return {
    host: p.target.host,
    address: formatAddress(p.target.ip, p.target.httpsPort),
    family: p.target.family,
    serial: certificate?.serial ?? null,
    expiry: certificate?.validTo ?? null,
    daysLeft,
    release,
    redirect,
    hsts,
    verdict: 'ok',
    problems,
    warnings,
  };
}

function describeCertificate(r: Row): string {
  return `serial ${r.serial}, expires ${r.expiry?.slice(0, 10)} (${r.daysLeft} days left)`;
}

/**
 * Every address of a host must serve one certificate (serial and expiry): the seed failure was
 * an IPv6 frontend keeping an old one after the IPv4 one was renewed. The message names each
 * address with what it serves; every address of the host fails, as which one is wrong is not
 * for sitepipe to guess.
 */
function certificateMismatches(rows: Row[]): string[] {
  const problems: string[] = [];
  for (const host of new Set(rows.map((r) => r.host))) {
    const served = rows.filter((r) => r.host === host && r.serial !== null);
    const kinds = new Set(served.map((r) => `${r.serial} ${r.expiry}`));
    if (kinds.size < 2) continue;
    problems.push(
      `${host}: the addresses serve different certificates: ${served.map((r) => `${r.address} ${describeCertificate(r)}`).join('; ')}`,
    );
    for (const r of served)
      r.problems.push('serves a different certificate from another address of the host');
  }
  return problems;
}

/** With no release to expect, every address must at least serve the same one. */
function releaseMismatches(rows: Row[]): string[] {
  const served = rows.filter((r) => r.release !== null);
  if (new Set(served.map((r) => r.release)).size < 2) return [];
  for (const r of served) r.problems.push('serves a different release from another address');
  return [
    `the addresses serve different releases: ${served.map((r) => `${r.host} ${r.address} ${r.release}`).join('; ')}`,
  ];
}

/** Judges one round of probes: a row per address, and every problem and warning named. */
export function judge(probed: readonly Probed[], unresolved: readonly Unresolved[], o: CheckOptions): Result {
  const rows = probed.map((p) => checkOne(p, o));
  const problems = rows.flatMap((r) => r.problems.map((m) => `${r.host} ${r.address}: ${m}`));
  const warnings = rows.flatMap((r) => r.warnings.map((m) => `${r.host} ${r.address}: ${m}`));
  problems.push(...certificateMismatches(rows));
  if (o.release.mode === 'same') problems.push(...releaseMismatches(rows));
  for (const u of unresolved) {
    problems.push(`${u.host}: ${u.error}`);
    rows.push({
      host: u.host,
      address: '-',
      family: '-',
      serial: null,
      expiry: null,
      daysLeft: null,
      release: null,
      redirect: '-',
      hsts: null,
      verdict: 'FAIL',
      problems: [u.error],
      warnings: [],
    });
  }
  for (const r of rows) r.verdict = r.problems.length ? 'FAIL' : r.warnings.length ? 'warn' : 'ok';
  return { ok: problems.length === 0, rows, problems, warnings };
}

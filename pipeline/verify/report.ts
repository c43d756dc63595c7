import type { Row } from './checks.js';
import type { EdgeReport } from './edge.js';

const HEAD = ['HOST', 'ADDRESS', 'FAMILY', 'SERIAL', 'EXPIRY', 'DAYS', 'RELEASE', 'REDIRECT', 'VERDICT'];

function cells(r: Row): string[] {
  return [
    r.host,
    r.address,
    r.family,
    r.serial ?? '-',
    r.expiry?.slice(0, 10) ?? '-',
    r.daysLeft === null ? '-' : String(r.daysLeft),
    r.release ?? '-',
    r.redirect,
    r.verdict,
  ];
}

/** The result as aligned columns, one row per address. */
export function resultTable(rows: readonly Row[]): string[] {
  const body = rows.map(cells);
  const widths = HEAD.map((h, i) => Math.max(h.length, ...body.map((c) => (c[i] ?? '').length)));
  return [HEAD, ...body].map((c) =>
    c
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}

/** The table, then every problem and warning. */
export function reportLines(report: EdgeReport): string[] {
  return [
    ...resultTable(report.rows),
    ...report.problems.map((p) => `FAIL ${p}`),
    ...report.warnings.map((w) => `warning: ${w}`),
  ];
}

/** One line: what passed, or how much failed. */
export function summaryLine(report: EdgeReport): string {
  const addresses = report.rows.filter((r) => r.address !== '-').length;
  const hosts = new Set(report.rows.map((r) => r.host)).size;
  const tries = report.attempts > 1 ? ` after ${report.attempts} attempts` : '';
  if (report.ok) {
    const releases = [...new Set(report.rows.map((r) => r.release).filter(Boolean))];
    const days = Math.min(...report.rows.map((r) => r.daysLeft ?? Number.POSITIVE_INFINITY));
    return `${addresses} address${addresses === 1 ? '' : 'es'} of ${hosts} host${hosts === 1 ? '' : 's'} pass${tries}${
      releases.length ? `, serving ${releases.join(', ')}` : ''
    }; the certificate has ${days} days left`;
  }
  const failing = report.rows.filter((r) => r.verdict === 'FAIL').length;
  return `${failing} of ${report.rows.length} address${report.rows.length === 1 ? '' : 'es'} fail${tries}${
    report.timedOut ? ' (the wait ran out)' : ''
  }`;
}

import { describe, expect, it } from 'vitest';
import { outputMode } from '../../pipeline/commands/context.js';
import { fitWidth, formatBytes, Reporter, transferProgress } from '../../pipeline/output.js';
import { image } from '../../steps/image.js';

function terminal(columns: number) {
  const chunks: string[] = [];
  const sink = { write: (t: string) => chunks.push(t), columns };
  return { reporter: new Reporter('tty', sink, sink), chunks };
}

/** The live line's redraws: what follows each `\r\x1b[2K` up to the next control or newline. */
function redraws(chunks: string[]): string[] {
  return chunks
    .join('')
    .split('\r\x1b[2K')
    .map((r) => r.split('\n')[0] ?? '')
    .filter(Boolean);
}

describe('the live line', () => {
  it('is cut to the terminal width', () => {
    const { reporter, chunks } = terminal(30);
    reporter.stepStarted('image', 'build the image');
    reporter.logFor('image').progress?.('uploading pages-0 and pages-1 and pages-2 and pages-3');
    reporter.stepStarted('pygments', 'find pygmentize');
    reporter.close();
    const lines = redraws(chunks);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect([...line].length).toBeLessThanOrEqual(29);
    expect(lines.some((l) => l.endsWith('…'))).toBe(true);
  });

  it('shows the step progress (bytes, rate, what is being sent)', () => {
    const { reporter, chunks } = terminal(200);
    reporter.stepStarted('image', 'build the image');
    reporter.logFor('image').progress?.(transferProgress('pages-0', 12_300_000, 3000));
    reporter.logFor('image').info('x'); // a redraw
    reporter.close();
    expect(redraws(chunks).at(-1)).toMatch(/image \d+\.\ds pages-0: 12\.3 MB sent at 4\.1 MB\/s/);
  });
});

describe('output mode', () => {
  it('is plain on TERM=dumb, in CI and off a terminal; tty otherwise', () => {
    expect(outputMode(false, { isTTY: true }, { TERM: 'xterm' })).toBe('tty');
    expect(outputMode(false, { isTTY: true }, { TERM: 'dumb' })).toBe('plain');
    expect(outputMode(false, { isTTY: true }, { CI: 'true' })).toBe('plain');
    expect(outputMode(false, { isTTY: false }, {})).toBe('plain');
    expect(outputMode(true, { isTTY: true }, {})).toBe('json');
  });
});

describe('formatting', () => {
  it('fits text to a width', () => {
    expect(fitWidth('abcdef', 4)).toBe('abc…');
    expect(fitWidth('abc', 4)).toBe('abc');
  });
  it('formats bytes', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(5_800_000)).toBe('5.8 MB');
  });
});

describe('the image step line', () => {
  const built = {
    commit: 'c'.repeat(40),
    builder: 'oci' as const,
    localRef: `r/w@sha256:${'a'.repeat(64)}`,
    digest: `sha256:${'a'.repeat(64)}`,
    baseImage: 'nginx:stable',
    baseDigest: null,
    labels: {},
  };

  it('says what was uploaded, not the layer sizes', () => {
    expect(image.summarize?.({ ...built, uploadedBytes: 5_800_000, layers: 'delta' })).toBe(
      'sha256:aaaaaaaaaaaa on nginx:stable, uploaded 5.8 MB (a delta layer)',
    );
    expect(image.summarize?.({ ...built, uploadedBytes: 0, layers: 'unchanged' })).toBe(
      'sha256:aaaaaaaaaaaa on nginx:stable, nothing uploaded (the registry had every blob)',
    );
  });
});

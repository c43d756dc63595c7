import { describe, expect, it } from 'vitest';
import { SitepipeError } from '../../pipeline/errors.js';
import { type OutputMode, Reporter } from '../../pipeline/output.js';

function capture(mode: OutputMode) {
  const chunks: string[] = [];
  const sink = { write: (t: string) => chunks.push(t) };
  return { reporter: new Reporter(mode, sink, sink), text: () => chunks.join('') };
}

describe('Reporter', () => {
  it.each(['tty', 'plain', 'json'] as const)('never prints a registered secret (%s)', (mode) => {
    const { reporter, text } = capture(mode);
    const log = reporter.logFor('push');
    log.secret('s3cr3t-token-value');
    reporter.stepStarted('push', 'push the image');
    log.info('using token s3cr3t-token-value for gcr.io');
    log.warn('retrying with s3cr3t-token-value');
    reporter.stepFinished('push', 'ok', 1200, 'auth s3cr3t-token-value');
    reporter.error(
      new SitepipeError('X', 'bad s3cr3t-token-value', 'hint s3cr3t-token-value', ['s3cr3t-token-value']),
    );
    reporter.result({ token: 's3cr3t-token-value' }, 'result s3cr3t-token-value');
    reporter.close();
    expect(text()).not.toContain('s3cr3t-token-value');
    expect(text()).toContain('***');
  });

  it('prints plain lines with durations', () => {
    const { reporter, text } = capture('plain');
    reporter.stepStarted('render', 'render the site');
    reporter.stepFinished('render', 'ok', 1500, '42 files');
    expect(text()).toBe('[render] render the site\n[render] ok in 1.5s: 42 files\n');
  });

  it('prints one JSON object per line', () => {
    const { reporter, text } = capture('json');
    reporter.stepStarted('tag', 'name it');
    reporter.stepFinished('tag', 'ok', 3, 'x:y');
    reporter.error(new SitepipeError('CODE', 'msg', 'hint'));
    const events = text()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events.map((e) => e.event)).toEqual(['step-start', 'step-end', 'error']);
    expect(events[2]).toMatchObject({ code: 'CODE', message: 'msg', hint: 'hint' });
  });

  it('prints an error with its code, details and hint', () => {
    const { reporter, text } = capture('plain');
    reporter.error(new SitepipeError('HUGO_BUILD_FAILED', 'hugo failed', 'fix the template', ['line 1']));
    expect(text()).toBe('error[HUGO_BUILD_FAILED]: hugo failed\n  line 1\n  hint: fix the template\n');
  });
});

import { describe, expect, it } from 'vitest';
import { SitepipeError } from '../../pipeline/errors.js';
import { EVENT_SCHEMA, Reporter, runSummary } from '../../pipeline/output.js';

function capture(opts: { quiet?: boolean } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const reporter = new Reporter(
    'json',
    { write: (t: string) => out.push(t) },
    { write: (t: string) => err.push(t) },
    opts,
  );
  const events = (chunks: string[]) =>
    chunks
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  return { reporter, out: () => events(out), err: () => events(err), rawOut: () => out.join('') };
}

describe('--json events', () => {
  it('carry severity, message, time and the schema version; the error names its step', () => {
    const { reporter, out } = capture();
    const log = reporter.logFor('render');
    reporter.stepStarted('render', 'render the site');
    log.info('42 pages');
    log.warn('a WARN from Hugo');
    reporter.stepFinished('render', 'failed', 1200);
    reporter.error(new SitepipeError('HUGO_BUILD_FAILED', 'hugo failed', 'fix it'));
    const events = out();
    expect(events.map((e) => [e.event, e.severity])).toEqual([
      ['step-start', 'INFO'],
      ['log', 'INFO'],
      ['log', 'WARNING'],
      ['step-end', 'ERROR'],
      ['error', 'ERROR'],
    ]);
    for (const e of events) {
      expect(e.schema).toBe(EVENT_SCHEMA);
      expect(typeof e.message).toBe('string');
      expect(e.message).not.toBe('');
      expect(Number.isNaN(Date.parse(e.time))).toBe(false);
    }
    expect(events[4]).toMatchObject({ step: 'render', code: 'HUGO_BUILD_FAILED' });
  });

  it('never attributes a line to a step after its step-end', () => {
    const { reporter, out } = capture();
    const log = reporter.logFor('render');
    reporter.stepStarted('render', 'render the site');
    reporter.stepFinished('render', 'ok', 10, 'done');
    log.warn('clean-up after the run failed: EBUSY'); // afterRun housekeeping, a late callback
    const events = out();
    const end = events.findIndex((e) => e.event === 'step-end');
    expect(events.slice(end + 1).filter((e) => e.step === 'render')).toEqual([]);
    expect(events[end + 1]).toMatchObject({ event: 'log', after: 'render', severity: 'WARNING' });
  });

  it('redacts a secret holding " and \\ (its JSON-escaped form too)', () => {
    const { reporter, rawOut } = capture();
    const password = 'pa"ss\\word-1';
    reporter.secret(password);
    reporter.logFor('push').info(`signing in with ${password}`);
    reporter.error(new SitepipeError('X', `refused ${password}`, 'hint', [password]));
    reporter.result({ password }, password);
    expect(rawOut()).not.toContain('pa\\"ss');
    expect(rawOut()).not.toContain('ss\\\\word');
    expect(rawOut()).not.toContain(password);
    expect(rawOut()).toContain('***');
  });

  it('-q puts only the image on stdout and every event on stderr', () => {
    const { reporter, out, err, rawOut } = capture({ quiet: true });
    reporter.stepStarted('push', 'set the tags');
    reporter.stepFinished('push', 'ok', 5);
    reporter.result({ digest: 'sha256:1' }, 'pushed it', 'r/w@sha256:1');
    expect(rawOut()).toBe('r/w@sha256:1\n');
    expect(() => out()).toThrow(); // not JSON: just the value
    expect(err().map((e) => e.event)).toEqual(['step-start', 'step-end', 'result']);
  });
});

describe('-q in plain mode', () => {
  it('prints the value alone on stdout and the logs on stderr', () => {
    const out: string[] = [];
    const err: string[] = [];
    const reporter = new Reporter(
      'plain',
      { write: (t: string) => out.push(t) },
      { write: (t: string) => err.push(t) },
      { quiet: true },
    );
    reporter.stepStarted('push', 'set the tags');
    reporter.logFor('push').info('r/w:main -> sha256:1');
    reporter.result({}, 'pushed r/w:main\ndigest: sha256:1', 'r/w@sha256:1');
    expect(out.join('')).toBe('r/w@sha256:1\n');
    expect(err.join('')).toContain('[push] set the tags');
    expect(err.join('')).toContain('digest: sha256:1');
  });
});

describe('runSummary', () => {
  const push = {
    commit: 'c'.repeat(40),
    repository: 'r/w',
    tags: ['cccccccccccc', 'main'],
    digest: `sha256:${'a'.repeat(64)}`,
  };

  it('names the image, tags, digest, total time and where it was deployed', () => {
    const summary = runSummary(
      {
        push,
        deploy: {
          commit: push.commit,
          deployed: true,
          target: 'kubernetes',
          image: `r/w@${push.digest}`,
          previousImage: null,
          release: 'cccccccccccc',
          servers: [],
        },
      },
      61_500,
    );
    expect(summary?.value).toBe(`r/w@${push.digest}`);
    expect(summary?.text).toContain(`digest: ${push.digest}`);
    expect(summary?.text).toContain('tags: cccccccccccc, main');
    expect(summary?.text).toContain('done in 61.5s');
    expect(summary?.text).toMatch(/deployed: Kubernetes, r\/w@sha256:a+ \(release cccccccccccc\)/);
  });

  it('is null when nothing was pushed', () => {
    expect(runSummary({}, 1)).toBeNull();
  });
});

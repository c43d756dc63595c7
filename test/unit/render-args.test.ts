import { describe, expect, it } from 'vitest';
import { formatRender, hugoBuildArgs, hugoErrorLines, hugoWarnings } from '../../steps/render.js';

describe('hugoBuildArgs', () => {
  it('builds a clean production render by default', () => {
    expect(hugoBuildArgs('/src/site', '/state/public')).toEqual([
      '--source',
      '/src/site',
      '--destination',
      '/state/public',
      '--cleanDestinationDir',
      '--environment',
      'production',
      '--noBuildLock',
    ]);
  });

  it('adds the cache dir, log file and baseURL override in a fixed order', () => {
    expect(
      hugoBuildArgs('/s', '/o', {
        cacheDir: '/cache/hugo-cache',
        baseURL: 'https://staging.example.org/',
        logFile: '/state/hugo.log',
        environment: 'staging',
      }),
    ).toEqual([
      '--source',
      '/s',
      '--destination',
      '/o',
      '--cleanDestinationDir',
      '--cacheDir',
      '/cache/hugo-cache',
      '--environment',
      'staging',
      '--noBuildLock',
      '--logFile',
      '/state/hugo.log',
      '--baseURL',
      'https://staging.example.org/',
    ]);
  });

  it('keeps paths with spaces as single arguments', () => {
    const args = hugoBuildArgs('/my site', '/out dir');
    expect(args[1]).toBe('/my site');
    expect(args[3]).toBe('/out dir');
  });
});

describe('hugoErrorLines', () => {
  it('keeps the final error and drops logged lines it repeats', () => {
    const parse =
      '"/s/layouts/_default/single.html:16:1": parse failed: template: _default/single.html:16: unclosed action';
    const stderr = [`Error: Error building site: ${parse}`];
    const log = [`ERROR 2024/03/02 09:00:00 ${parse}`, `ERROR 2024/03/02 09:00:00 ${parse}`, ''];
    expect(hugoErrorLines(stderr, log)).toEqual([`Error: Error building site: ${parse}`]);
  });

  it('puts logged errors, once each and without timestamps, before a summary error', () => {
    const log = [
      'ERROR 2024/03/02 09:00:00 missing thing About',
      'WARN 2024/03/02 09:00:00 careful',
      'ERROR 2024/03/02 09:00:01 missing thing About',
    ];
    expect(hugoErrorLines(['Error: Error building site: logged 2 error(s)'], log)).toEqual([
      'ERROR missing thing About',
      'Error: Error building site: logged 2 error(s)',
    ]);
  });

  it('finds nothing in unrelated output', () => {
    expect(hugoErrorLines(['Start building sites …', 'Total in 57 ms'])).toEqual([]);
  });
});

describe('hugoWarnings', () => {
  it('returns WARN lines without their timestamps, once each', () => {
    const out =
      'Start building sites …\nWARN 2024/03/02 09:00:00 careful\nWARN 2024/03/02 09:00:00 careful\nTotal in 9 ms';
    expect(hugoWarnings(out)).toEqual(['careful']);
  });
});

describe('formatRender', () => {
  it('summarizes files, megabytes and seconds', () => {
    expect(formatRender({ files: 42, bytes: 1_234_567, durationMs: 2_345 })).toBe(
      '42 files, 1.23 MB in 2.3 s',
    );
  });
});

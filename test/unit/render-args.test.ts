import { describe, expect, it } from 'vitest';
import {
  formatRender,
  hideSiteDir,
  hugoBuildArgs,
  hugoErrorLines,
  hugoWarnings,
} from '../../steps/render.js';

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

describe('hideSiteDir', () => {
  const dir = '/app';

  it("rewrites esbuild's module names and a source map's paths to /src", () => {
    expect(hideSiteDir('// ns-hugo:/app/themes/t/lib.js\n', dir, false)).toBe(
      '// ns-hugo:/src/themes/t/lib.js\n',
    );
    const map = '{"sourceRoot": "/app", "sources": ["/app/assets/a.scss", "assets/b.scss"]}';
    expect(hideSiteDir(map, dir, true)).toBe(
      '{"sourceRoot": "/src", "sources": ["/src/assets/a.scss", "assets/b.scss"]}',
    );
  });

  it("leaves a page's own links alone, even where the checkout path is a URL path too", () => {
    const page = '<a href="/app/">App</a> <a href="/app">x</a> <a href="/apps/">y</a>';
    expect(hideSiteDir(page, dir, false)).toBe(page);
    // In a map, a string inside sourcesContent is escaped, and a longer name is another path.
    const map = '{"sourceRoot": "/apps", "sourcesContent": ["fetch(\\"/app/x\\")"]}';
    expect(hideSiteDir(map, dir, true)).toBe(map);
  });

  it('rewrites a base64 source map inlined in a script', () => {
    const encode = (s: string) => Buffer.from(s).toString('base64');
    const script = (root: string) =>
      `x();\n//# sourceMappingURL=data:application/json;base64,${encode(`{"sources": ["ns-hugo:${root}/a.js"]}`)}\n`;
    expect(hideSiteDir(script('/app'), dir, false)).toBe(script('/src'));
  });

  it('passes bytes that are not UTF-8 through unchanged', () => {
    const text = Buffer.from([0xff, 0xfe, 0x41]).toString('latin1');
    expect(hideSiteDir(text, dir, false)).toBe(text);
  });
});

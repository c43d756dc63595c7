import { describe, expect, it } from 'vitest';
import { parseLog, parseStatus } from '../../pipeline/clients/git.js';

describe('parseStatus (git status --porcelain -z)', () => {
  it('reads each entry exactly, renames with their old name', () => {
    const out = [
      ' M static/café.png',
      '?? content/a\tb.md',
      'R  new name.md',
      'old\nname.md',
      '!! node_modules/',
      '',
    ];
    expect(parseStatus(out.join('\0'))).toEqual([
      { status: ' M', path: 'static/café.png' },
      { status: '??', path: 'content/a\tb.md' },
      { status: 'R ', path: 'new name.md', from: 'old\nname.md' },
      { status: '!!', path: 'node_modules/' },
    ]);
  });

  it('reads nothing from a clean tree', () => {
    expect(parseStatus('')).toEqual([]);
  });
});

describe('parseLog (git log -z --format=%x00%H %ct --name-only)', () => {
  const a = 'a'.repeat(40);
  const b = 'b'.repeat(40);
  const m = 'c'.repeat(40);

  it('reads every commit with the names it touched, exactly', () => {
    // As git prints it: a merge names nothing; a name may start with a space or hold a newline.
    const out = `\0${a} 200\0\nstatic/ lead.png\0static/new\nline.png\0\0${m} 150\0\0${b} 100\0\nstatic/café.png\0`;
    expect(parseLog(out)).toEqual([
      { commit: a, time: new Date(200_000), paths: ['static/ lead.png', 'static/new\nline.png'] },
      { commit: m, time: new Date(150_000), paths: [] },
      { commit: b, time: new Date(100_000), paths: ['static/café.png'] },
    ]);
  });

  it('keeps a name that itself starts with a newline', () => {
    expect(parseLog(`\0${a} 1\0\n\nodd.png\0`)[0]?.paths).toEqual(['\nodd.png']);
  });
});

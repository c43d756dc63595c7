import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { source } from '../../steps/source.js';
import { testContext } from '../helpers/context.js';
import { EXAMPLE_DIR } from '../helpers/site-repo.js';

// Cloud Build can check a commit out without .git; the generated config hands the source step
// COMMIT_SHA and BRANCH_NAME.

const COMMIT = '0123456789abcdef0123456789abcdef01234567';
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sitepipe-nogit-'));
  await cp(EXAMPLE_DIR, dir, {
    recursive: true,
    filter: (src) => !/\/(public|resources|\.sitepipe)$/.test(src),
  });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('source step in a checkout without .git (Cloud Build)', () => {
  it('reads the commit and branch from COMMIT_SHA and BRANCH_NAME, the time from SOURCE_DATE_EPOCH', async () => {
    const ctx = testContext({
      siteDir: dir,
      env: { COMMIT_SHA: COMMIT, BRANCH_NAME: 'feature/x', SOURCE_DATE_EPOCH: '1772366400' },
    });
    expect(await source.run(ctx, {})).toEqual({
      commit: COMMIT,
      shortSha: COMMIT.slice(0, 12),
      branch: 'feature/x',
      commitTime: '2026-03-01T12:00:00.000Z',
      dirty: false,
      sourceUrl: null,
    });
    expect(ctx.lines.join('\n')).toMatch(/not in a git work tree; using COMMIT_SHA 0123456789ab/);
  });

  it('without SOURCE_DATE_EPOCH uses the build time and says so', async () => {
    const ctx = testContext({ siteDir: dir, env: { COMMIT_SHA: COMMIT, BRANCH_NAME: '' } });
    const before = Date.now();
    const out = await source.run(ctx, {});
    expect(Date.parse(out.commitTime)).toBeGreaterThanOrEqual(before - 1000);
    expect(out.branch).toBeNull();
    expect(ctx.lines.join('\n')).toMatch(/no SOURCE_DATE_EPOCH/);
  });

  it('still refuses a site outside git when there is no commit in the environment', async () => {
    for (const env of [{}, { COMMIT_SHA: 'not-a-sha' }]) {
      await expect(source.run(testContext({ siteDir: dir, env }), {})).rejects.toMatchObject({
        code: 'NOT_A_GIT_REPO',
      });
    }
  });
});

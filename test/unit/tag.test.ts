import { describe, expect, it } from 'vitest';
import { planTags, sanitizeBranch } from '../../steps/tag.js';

const commit = '2409248a51dd0c6a54a0b5e8f6a3d6a1f7b2c3d4';
const base = {
  repository: '127.0.0.1:5000/website',
  commit,
  branch: 'master',
  dirty: false,
  commitLength: 12,
  maxLength: 128,
  branchTags: true,
  commitTags: true,
};

describe('sanitizeBranch', () => {
  it.each([
    ['master', 'master'],
    ['feature/x', 'feature-x'],
    ['Feature/Some Thing!!', 'Feature-Some-Thing'],
    ['.hidden', 'hidden'],
    ['--lead', 'lead'],
    ['a//b', 'a-b'],
    ['release/1.2', 'release-1.2'],
    ['üñí', ''],
  ])('%s -> %s', (branch, tag) => {
    expect(sanitizeBranch(branch, 128)).toBe(tag);
  });

  it('cuts to the length limit without a trailing separator', () => {
    const tag = sanitizeBranch(`${'a'.repeat(20)}-${'b'.repeat(200)}`, 21);
    expect(tag).toBe('a'.repeat(20));
  });
});

describe('planTags', () => {
  it('names the commit (12 chars) and the branch, commit first', () => {
    expect(planTags(base)).toEqual({
      commit: base.commit,
      repository: '127.0.0.1:5000/website',
      tags: ['2409248a51dd', 'master'],
      commitTag: '2409248a51dd',
      branchTag: 'master',
    });
  });

  it('marks both tags of a dirty tree', () => {
    expect(planTags({ ...base, dirty: true }).tags).toEqual(['2409248a51dd-dirty', 'master-dirty']);
  });

  it('keeps a long dirty branch tag within 128 characters', () => {
    const { branchTag } = planTags({ ...base, dirty: true, branch: 'x'.repeat(300) });
    expect(branchTag).toHaveLength(128);
    expect(branchTag?.endsWith('-dirty')).toBe(true);
  });

  it('has no branch tag on a detached HEAD', () => {
    expect(planTags({ ...base, branch: null }).tags).toEqual(['2409248a51dd']);
  });

  it('refuses a branch that sanitizes to nothing', () => {
    expect(() => planTags({ ...base, branch: '///' })).toThrow(
      expect.objectContaining({ code: 'BRANCH_TAG_EMPTY', hint: expect.stringContaining('tags.branch') }),
    );
  });

  it('refuses a branch whose tag looks like a commit tag, which it could overwrite', () => {
    for (const branch of ['ec4595cdaf86', 'deadbee', '.ec4595cdaf86']) {
      expect(() => planTags({ ...base, branch })).toThrow(
        expect.objectContaining({ code: 'BRANCH_TAG_LOOKS_LIKE_COMMIT' }),
      );
    }
    // Shorter than any commit tag, or not only hex: no clash possible.
    expect(planTags({ ...base, branch: 'cafe' }).branchTag).toBe('cafe');
    expect(planTags({ ...base, branch: 'release-2024' }).branchTag).toBe('release-2024');
    expect(planTags({ ...base, branch: 'ec4595cdaf8z' }).branchTag).toBe('ec4595cdaf8z');
  });

  it('refuses an invalid repository', () => {
    expect(() => planTags({ ...base, repository: 'Not Valid' })).toThrow(
      expect.objectContaining({ code: 'IMAGE_NAME_INVALID' }),
    );
  });
});

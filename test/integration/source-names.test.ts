import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { source } from '../../steps/source.js';
import { testContext } from '../helpers/context.js';
import { exampleRepo, type SiteRepo } from '../helpers/site-repo.js';

/** Names git quotes in its default output: non-ASCII, a tab, a double quote, a leading space. */
const AWKWARD = ['café.md', 'tab\there.md', 'say "hi".md', ' leading space.md'];

describe('source step: changed paths by their exact names (real git)', () => {
  let repo: SiteRepo;
  afterEach(() => repo?.remove());

  const changed = async () => {
    const err = await source.run(testContext({ siteDir: repo.dir }), {}).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DIRTY_WORKTREE' });
    return [...(err as { details: string[] }).details].sort();
  };

  it('lists untracked files by their names, not git-quoted', async () => {
    repo = await exampleRepo();
    for (const name of AWKWARD)
      await writeFile(join(repo.dir, 'content/posts', name), '---\ntitle: x\n---\n');
    expect(await changed()).toEqual(AWKWARD.map((n) => `content/posts/${n}`).sort());
  });

  it('lists a staged rename as the new name, from the old one', async () => {
    repo = await exampleRepo();
    await repo.git('mv', 'content/about.md', 'content/à propos.md');
    expect(await changed()).toEqual(['content/à propos.md (renamed from content/about.md)']);
  });
});

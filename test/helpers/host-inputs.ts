import type { Outputs } from '../../pipeline/records.js';

/**
 * What the deploy step gets for one commit of a host target whose rendered tree is `dir`: the
 * host target reads the commit, the commit tag and the render; push is not used by it.
 */
export function hostDeployInputs(
  commit: string,
  dir: string,
  tree: { files: number; bytes: number; durationMs?: number; baseURL?: string },
): Pick<Outputs, 'source' | 'tag' | 'push' | 'render'> {
  const tag = commit.slice(0, 12);
  return {
    source: {
      commit,
      shortSha: commit.slice(0, 7),
      branch: 'main',
      commitTime: new Date().toISOString(),
      dirty: false,
      sourceUrl: null,
    },
    tag: { commit, repository: 'r', tags: [tag], commitTag: tag, branchTag: 'main' },
    push: { commit, repository: 'r', tags: [], digest: `sha256:${'0'.repeat(64)}` },
    render: {
      outputDir: dir,
      files: tree.files,
      bytes: tree.bytes,
      durationMs: tree.durationMs ?? 1,
      hugoVersion: 'x',
      commit,
      baseURL: tree.baseURL ?? 'https://www.site.test/',
      basePath: '/',
    },
  };
}

import { SitepipeError } from '../errors.js';

export type CommitState = 'pending' | 'success' | 'failure' | 'error';

/** Commit statuses back to GitHub: POST /repos/{owner}/{repo}/statuses/{sha}. */
export class GithubStatuses {
  constructor(
    private readonly apiUrl: string,
    private readonly token: string,
    private readonly context: string,
  ) {}

  async set(repository: string, commit: string, state: CommitState, targetUrl: string, description: string) {
    const url = `${this.apiUrl.replace(/\/$/, '')}/repos/${repository}/statuses/${commit}`;
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        accept: 'application/vnd.github+json',
        authorization: `Bearer ${this.token}`,
        'content-type': 'application/json',
        'user-agent': 'sitepipe-serve',
        'x-github-api-version': '2022-11-28',
      },
      // GitHub cuts descriptions at 140 characters.
      body: JSON.stringify({
        state,
        target_url: targetUrl,
        description: description.slice(0, 140),
        context: this.context,
      }),
      signal: AbortSignal.timeout(15_000),
    });
    if (!response.ok) {
      throw new SitepipeError(
        'GITHUB_STATUS_FAILED',
        `GitHub answered ${response.status} to the ${state} status of ${repository}@${commit.slice(0, 12)}`,
        'check that serve.github.tokenEnv names a token with the repo:status (or statuses: write) permission',
        [(await response.text()).slice(0, 300)],
      );
    }
  }
}

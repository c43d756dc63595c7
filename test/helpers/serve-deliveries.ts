import { createHmac, randomUUID } from 'node:crypto';
import { request } from 'node:http';

/** A GitHub user object as webhooks carry it. */
function user(login: string, id: number) {
  const api = `https://api.github.com/users/${login}`;
  return {
    login,
    id,
    node_id: `MDQ6VXNlcj${id}`,
    avatar_url: `https://avatars.githubusercontent.com/u/${id}?v=4`,
    gravatar_id: '',
    url: api,
    html_url: `https://github.com/${login}`,
    followers_url: `${api}/followers`,
    following_url: `${api}/following{/other_user}`,
    gists_url: `${api}/gists{/gist_id}`,
    starred_url: `${api}/starred{/owner}{/repo}`,
    subscriptions_url: `${api}/subscriptions`,
    organizations_url: `${api}/orgs`,
    repos_url: `${api}/repos`,
    events_url: `${api}/events{/privacy}`,
    received_events_url: `${api}/received_events`,
    type: 'User',
    site_admin: false,
  };
}

/** The repository object of a push event (GitHub sends created_at/pushed_at as epoch seconds there). */
function repository(fullName: string) {
  const [owner = 'o', name = 'r'] = fullName.split('/');
  const api = `https://api.github.com/repos/${fullName}`;
  const urls = Object.fromEntries(
    [
      ['forks_url', '/forks'],
      ['keys_url', '/keys{/key_id}'],
      ['collaborators_url', '/collaborators{/collaborator}'],
      ['teams_url', '/teams'],
      ['hooks_url', '/hooks'],
      ['issue_events_url', '/issues/events{/number}'],
      ['events_url', '/events'],
      ['assignees_url', '/assignees{/user}'],
      ['branches_url', '/branches{/branch}'],
      ['tags_url', '/tags'],
      ['blobs_url', '/git/blobs{/sha}'],
      ['git_tags_url', '/git/tags{/sha}'],
      ['git_refs_url', '/git/refs{/sha}'],
      ['trees_url', '/git/trees{/sha}'],
      ['statuses_url', '/statuses/{sha}'],
      ['languages_url', '/languages'],
      ['stargazers_url', '/stargazers'],
      ['contributors_url', '/contributors'],
      ['subscribers_url', '/subscribers'],
      ['subscription_url', '/subscription'],
      ['commits_url', '/commits{/sha}'],
      ['git_commits_url', '/git/commits{/sha}'],
      ['comments_url', '/comments{/number}'],
      ['issue_comment_url', '/issues/comments{/number}'],
      ['contents_url', '/contents/{+path}'],
      ['compare_url', '/compare/{base}...{head}'],
      ['merges_url', '/merges'],
      ['archive_url', '/{archive_format}{/ref}'],
      ['downloads_url', '/downloads'],
      ['issues_url', '/issues{/number}'],
      ['pulls_url', '/pulls{/number}'],
      ['milestones_url', '/milestones{/number}'],
      ['notifications_url', '/notifications{?since,all,participating}'],
      ['labels_url', '/labels{/name}'],
      ['releases_url', '/releases{/id}'],
      ['deployments_url', '/deployments'],
    ].map(([key, suffix]) => [key, `${api}${suffix}`]),
  );
  return {
    id: 123456,
    node_id: 'R_kgDOAbCdEf',
    name,
    full_name: fullName,
    private: false,
    owner: { ...user(owner, 1001), name: owner, email: null },
    html_url: `https://github.com/${fullName}`,
    description: 'a site',
    fork: false,
    url: `https://github.com/${fullName}`,
    ...urls,
    created_at: 1700000000,
    updated_at: '2026-03-01T12:00:00Z',
    pushed_at: 1772366400,
    git_url: `git://github.com/${fullName}.git`,
    ssh_url: `git@github.com:${fullName}.git`,
    clone_url: `https://github.com/${fullName}.git`,
    svn_url: `https://github.com/${fullName}`,
    homepage: null,
    size: 10,
    stargazers_count: 0,
    watchers_count: 0,
    language: 'HTML',
    has_issues: true,
    has_projects: true,
    has_downloads: true,
    has_wiki: true,
    has_pages: false,
    has_discussions: false,
    forks_count: 0,
    mirror_url: null,
    archived: false,
    disabled: false,
    open_issues_count: 0,
    license: null,
    allow_forking: true,
    is_template: false,
    web_commit_signoff_required: false,
    topics: [],
    visibility: 'public',
    forks: 0,
    open_issues: 0,
    watchers: 0,
    default_branch: 'master',
    stargazers: 0,
    master_branch: 'master',
    custom_properties: {},
  };
}

const ZERO = '0'.repeat(40);

/** A push event body as GitHub sends it for `after` on `branch` (a deletion when `after` is null). */
export function githubPush(opts: {
  branch: string;
  after: string | null;
  before?: string;
  message?: string;
  repository?: string;
}) {
  const fullName = opts.repository ?? 'example/site';
  const after = opts.after ?? ZERO;
  const deleted = opts.after === null;
  const person = { name: 'Site Author', email: 'author@example.com', username: 'author' };
  const commit = {
    id: after,
    tree_id: 'f'.repeat(40),
    distinct: true,
    message: opts.message ?? 'edit',
    timestamp: '2026-03-01T12:00:00Z',
    url: `https://github.com/${fullName}/commit/${after}`,
    author: person,
    committer: person,
    added: [],
    removed: [],
    modified: ['content/posts/first.md'],
  };
  return {
    ref: `refs/heads/${opts.branch}`,
    before: opts.before ?? ZERO,
    after,
    repository: repository(fullName),
    pusher: { name: 'author', email: 'author@example.com' },
    sender: user('author', 2002),
    created: opts.before === undefined && !deleted,
    deleted,
    forced: false,
    base_ref: null,
    compare: `https://github.com/${fullName}/compare/${(opts.before ?? ZERO).slice(0, 12)}...${after.slice(0, 12)}`,
    commits: deleted ? [] : [commit],
    head_commit: deleted ? null : commit,
  };
}

export function githubPing() {
  return {
    zen: 'Keep it logically awesome.',
    hook_id: 42,
    hook: {
      type: 'Repository',
      id: 42,
      name: 'web',
      active: true,
      events: ['push'],
      config: { content_type: 'json', insecure_ssl: '0', url: 'https://hooks.example.com/hooks/github' },
      updated_at: '2026-03-01T12:00:00Z',
      created_at: '2026-03-01T12:00:00Z',
      url: 'https://api.github.com/repos/example/site/hooks/42',
      test_url: 'https://api.github.com/repos/example/site/hooks/42/test',
      ping_url: 'https://api.github.com/repos/example/site/hooks/42/pings',
      deliveries_url: 'https://api.github.com/repos/example/site/hooks/42/deliveries',
      last_response: { code: null, status: 'unused', message: null },
    },
    repository: repository('example/site'),
    sender: user('author', 2002),
  };
}

export function sign(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** The headers GitHub sends with a delivery. */
export function githubHeaders(
  event: string,
  body: string,
  secret: string | null,
  delivery: string = randomUUID(),
) {
  return {
    'content-type': 'application/json',
    'user-agent': 'GitHub-Hookshot/044aadd',
    'x-github-event': event,
    'x-github-delivery': delivery,
    'x-github-hook-id': '42',
    'x-github-hook-installation-target-id': '123456',
    'x-github-hook-installation-target-type': 'repository',
    ...(secret ? { 'x-hub-signature-256': sign(secret, body) } : {}),
  };
}

export interface Answer {
  status: number;
  body: string;
  json(): Record<string, unknown>;
}

/** POSTs a body with node:http (fetch would refuse some of the headers tests send). */
export function post(url: string, headers: Record<string, string>, body: string | Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, body: text, json: () => JSON.parse(text) });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends a signed GitHub push for `commit` on `branch`. */
export function sendGithubPush(
  base: string,
  secret: string,
  opts: { branch: string; after: string | null; before?: string; message?: string; delivery?: string },
): Promise<Answer> {
  const body = JSON.stringify(githubPush(opts));
  return post(`${base}/hooks/github`, githubHeaders('push', body, secret, opts.delivery), body);
}

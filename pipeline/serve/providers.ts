import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { verify as verifyGithub } from '@octokit/webhooks-methods';

export type ProviderName = 'github' | 'gitlab' | 'hmac';

/** What a verified delivery asks for, whatever the provider. */
export type HookEvent =
  | { kind: 'ping' }
  | { kind: 'other'; event: string }
  | {
      kind: 'push';
      branch: string | null; // null: a tag or another ref
      commit: string;
      deleted: boolean;
      message: string;
      /** owner/name on GitHub, for commit statuses. */
      repository: string | null;
    };

export interface Provider {
  /** Checks the signature on the raw body; constant time. */
  verify(secret: string, body: Buffer, headers: IncomingHttpHeaders): Promise<boolean>;
  /** The id that stays the same when the provider redelivers. */
  deliveryId(headers: IncomingHttpHeaders): string | null;
  /** Reads a verified body; throws on a body that is not the event's shape. */
  parse(headers: IncomingHttpHeaders, payload: unknown): HookEvent;
}

function header(headers: IncomingHttpHeaders, name: string): string | null {
  const value = headers[name];
  return typeof value === 'string' && value.length > 0 ? value : null;
}

/** Equal-length digests first, so the compare takes the same time whatever the input's length. */
function constantTimeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

class MalformedPayload extends Error {}

function object(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new MalformedPayload(`${what} is not an object`);
  }
  return value as Record<string, unknown>;
}

function string(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new MalformedPayload(`${what} is not a string`);
  return value;
}

const ZERO_SHA = /^0{40}$/;
const SHA = /^[0-9a-f]{40}$/;

/** The push shape GitHub sends, which the generic HMAC provider takes too. */
function githubPush(payload: unknown): HookEvent {
  const body = object(payload, 'the body');
  const ref = string(body.ref, 'ref');
  const after = string(body.after, 'after');
  if (!SHA.test(after)) throw new MalformedPayload('after is not a commit id');
  const head =
    body.head_commit === null || body.head_commit === undefined
      ? null
      : object(body.head_commit, 'head_commit');
  const repo = body.repository === undefined ? null : object(body.repository, 'repository');
  return {
    kind: 'push',
    branch: ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : null,
    commit: after,
    deleted: body.deleted === true || ZERO_SHA.test(after),
    message: head && typeof head.message === 'string' ? head.message : '',
    repository: repo && typeof repo.full_name === 'string' ? repo.full_name : null,
  };
}

export const github: Provider = {
  async verify(secret, body, headers) {
    const signature = header(headers, 'x-hub-signature-256');
    if (!signature) return false; // SHA-1 (X-Hub-Signature) alone is never enough
    try {
      return await verifyGithub(secret, body.toString('utf8'), signature);
    } catch {
      return false; // a malformed signature header
    }
  },
  deliveryId: (headers) => header(headers, 'x-github-delivery'),
  parse(headers, payload) {
    const event = header(headers, 'x-github-event') ?? '';
    if (event === 'ping') return { kind: 'ping' };
    if (event !== 'push') return { kind: 'other', event };
    return githubPush(payload);
  },
};

export const gitlab: Provider = {
  async verify(secret, _body, headers) {
    const token = header(headers, 'x-gitlab-token');
    return token !== null && constantTimeEqual(token, secret);
  },
  // Idempotency-Key stays the same across GitLab's retries (17.4+); the event UUID before that.
  deliveryId: (headers) => header(headers, 'idempotency-key') ?? header(headers, 'x-gitlab-event-uuid'),
  parse(headers, payload) {
    const event = header(headers, 'x-gitlab-event') ?? '';
    if (event !== 'Push Hook') return { kind: 'other', event };
    const body = object(payload, 'the body');
    const ref = string(body.ref, 'ref');
    const after = string(body.after, 'after');
    if (!SHA.test(after)) throw new MalformedPayload('after is not a commit id');
    const commits = Array.isArray(body.commits) ? body.commits : [];
    const last = commits.find((c) => object(c, 'a commit').id === after) as
      | Record<string, unknown>
      | undefined;
    const project = body.project === undefined ? null : object(body.project, 'project');
    return {
      kind: 'push',
      branch: ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : null,
      commit: after,
      deleted: ZERO_SHA.test(after),
      message: typeof last?.message === 'string' ? last.message : '',
      repository:
        project && typeof project.path_with_namespace === 'string' ? project.path_with_namespace : null,
    };
  },
};

/** Any sender that signs `sha256=<hex HMAC-SHA256 of the body>` in X-Sitepipe-Signature-256, GitHub's push shape. */
export const hmac: Provider = {
  async verify(secret, body, headers) {
    const signature = header(headers, 'x-sitepipe-signature-256');
    if (!signature) return false;
    const expected = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
    return constantTimeEqual(signature, expected);
  },
  deliveryId: (headers) => header(headers, 'x-sitepipe-delivery'),
  parse(headers, payload) {
    const event = header(headers, 'x-sitepipe-event') ?? 'push';
    if (event === 'ping') return { kind: 'ping' };
    if (event !== 'push') return { kind: 'other', event };
    return githubPush(payload);
  },
};

export const PROVIDERS: Record<ProviderName, Provider> = { github, gitlab, hmac };

export function isMalformed(e: unknown): e is Error {
  return e instanceof MalformedPayload;
}

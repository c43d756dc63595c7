import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { SitepipeError } from '../errors.js';
import type { Credentials } from './credentials.js';
import { drain, type HttpOptions, type HttpResponse, header, readAll, send } from './http.js';

export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

const ACCEPT_MANIFESTS = [MEDIA.ociIndex, MEDIA.ociManifest, MEDIA.dockerList, MEDIA.dockerManifest].join(
  ', ',
);

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

interface ImageIndex {
  manifests: Descriptor[];
}

/** Where a blob's bytes come from; a seekable source (a file) can be uploaded in resumable chunks. */
export interface BlobSource {
  open(range?: { start: number; end: number }): Readable;
  seekable: boolean;
}

export interface FetchedManifest {
  mediaType: string;
  digest: string;
  body: Buffer;
}

/** Retries: attempts and the first backoff, doubled each time (with jitter). */
const ATTEMPTS = 5;
const BACKOFF_MS = 200;
/** Rate limits are waited out for up to this long in all, at most MAX_WAIT_MS at a time. */
const RATE_LIMIT_BUDGET_MS = 3 * 60_000;
const MAX_WAIT_MS = 60_000;
/** Registries send blob GETs and HEADs on to storage (S3, GCS) with a redirect. */
const REDIRECTS = [301, 302, 303, 307, 308];
const MAX_REDIRECTS = 5;
/** Blobs above this size go up in chunks, so a dropped connection costs one chunk, not the blob. */
export const CHUNKED_UPLOAD_ABOVE = 64 * 1024 * 1024;
const CHUNK_SIZE = 16 * 1024 * 1024;

/** Loopback registries speak plain HTTP, as Docker allows by default. */
export function registryBaseUrl(registry: string): string {
  const host = registry.replace(/:\d+$/, '');
  const loopback = host === 'localhost' || host.startsWith('127.') || host === '[::1]';
  return `${loopback ? 'http' : 'https'}://${registry === 'docker.io' ? 'registry-1.docker.io' : registry}`;
}

/** Parses `Bearer realm="…",service="…"` into its scheme and parameters. */
export function parseChallenge(value: string): { scheme: string; params: Record<string, string> } {
  const space = value.indexOf(' ');
  const scheme = (space < 0 ? value : value.slice(0, space)).toLowerCase();
  const params: Record<string, string> = {};
  for (const m of value.slice(space + 1).matchAll(/(\w+)="([^"]*)"/g))
    params[m[1] as string] = m[2] as string;
  return { scheme, params };
}

export function sha256Digest(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function basic(creds: Credentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
}

/** Worth another try: rate limits, server errors, dropped or stalled connections. */
function retryableStatus(status: number): boolean {
  return status === 429 || status === 408 || status >= 500;
}

function retryableError(e: unknown): boolean {
  if (e instanceof SitepipeError) return false;
  const code = (e as { code?: string }).code ?? '';
  return (
    ['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'UND_ERR_SOCKET', 'EAI_AGAIN'].includes(code) ||
    /socket hang up|aborted|premature/i.test((e as Error).message ?? '')
  );
}

/** A status worth another try, with the registry's Retry-After and what it said. */
export class RetryableStatus extends Error {
  constructor(
    readonly status: number,
    readonly retryAfterMs: number | undefined,
    readonly body: string,
  ) {
    super(`HTTP ${status}`);
  }
}

/** Retry-After in milliseconds from `now`: delay-seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function backoffMs(failures: number): number {
  return BACKOFF_MS * 2 ** (failures - 1) * (0.75 + Math.random() / 2);
}

/**
 * Whether to try again, and after how long. Failures get ATTEMPTS attempts; rate limits get a
 * time budget instead, since a registry that answers 429 will serve us once we slow down.
 */
export class Retries {
  attempts = 1;
  private failures = 0;
  private rateLimits = 0;
  private rateLimitedMs = 0;

  /** The wait before the next attempt, or null to give up on `e`. */
  next(e: unknown): number | null {
    if (!(e instanceof RetryableStatus || retryableError(e))) return null;
    const limited = e instanceof RetryableStatus && e.status === 429;
    const n = limited ? ++this.rateLimits : ++this.failures;
    // "Retry-After: 0" gives no guidance; retrying at once would only hammer the registry.
    const asked = e instanceof RetryableStatus ? e.retryAfterMs : undefined;
    const wait = Math.min(asked || backoffMs(n), MAX_WAIT_MS);
    if (limited ? this.rateLimitedMs + wait > RATE_LIMIT_BUDGET_MS : n >= ATTEMPTS) return null;
    if (limited) this.rateLimitedMs += wait;
    this.attempts++;
    return wait;
  }
}

interface OciError {
  code?: string;
  message?: string;
  detail?: unknown;
}

/** What a registry said about a failure: each OCI error as "CODE: message (detail)", else the start of the text. */
export function registryErrorLines(body: string): string[] {
  const errors = ociErrors(body);
  if (!errors) return body.trim() ? [body.trim().slice(0, 500)] : [];
  return errors.map((e) => {
    const detail = e.detail ? ` (${typeof e.detail === 'string' ? e.detail : JSON.stringify(e.detail)})` : '';
    return `${[e.code, e.message].filter(Boolean).join(': ')}${detail}`.slice(0, 500);
  });
}

function ociErrors(body: string): OciError[] | null {
  try {
    const { errors } = JSON.parse(body) as { errors?: unknown };
    return Array.isArray(errors) && errors.length > 0 ? (errors as OciError[]) : null;
  } catch {
    return null;
  }
}

interface Request extends HttpOptions {
  scope: string;
  /** Statuses the caller handles itself; anything else that is not 2xx becomes an error. */
  expect?: readonly number[];
}

export interface RegistryHooks {
  /** Gets every credential the client makes (the Basic header's base64, Bearer tokens), to redact it. */
  onSecret?(value: string): void;
  /** What to check when the registry refuses the credentials; it depends on where they came from. */
  authHint?: string;
}

/**
 * A client of the OCI distribution API for one registry: the auth handshake (anonymous,
 * Basic, Bearer token per scope), redirects to blob storage, retries with backoff on 429/5xx
 * and dropped or stalled connections (bodies included), and idle timeouts on every request.
 */
export class RegistryClient {
  readonly baseUrl: string;
  private readonly authByScope = new Map<string, string | null>();

  constructor(
    readonly registry: string,
    private readonly creds: Credentials | null,
    private readonly signal?: AbortSignal,
    private readonly idleTimeoutMs = 30_000,
    private readonly hooks: RegistryHooks = {},
  ) {
    this.baseUrl = registryBaseUrl(registry);
  }

  /** Checks that the registry answers and accepts our credentials for pushing to `path`. */
  async checkPushAccess(path: string): Promise<void> {
    const res = await this.call('/v2/', { scope: pushScope(path) });
    await drain(res);
  }

  /** The digest a tag points to, or null when the tag does not exist. */
  async tagDigest(path: string, tag: string): Promise<string | null> {
    const res = await this.call(`/v2/${path}/manifests/${encodeURIComponent(tag)}`, {
      method: 'HEAD',
      scope: pullScope(path),
      headers: { Accept: ACCEPT_MANIFESTS },
      expect: [404],
    });
    await drain(res);
    return res.status === 404 ? null : (header(res, 'docker-content-digest') ?? null);
  }

  /** Every tag of a repository, following the registry's pagination. */
  async listTags(path: string): Promise<string[]> {
    const tags: string[] = [];
    let next: string | null = `/v2/${path}/tags/list?n=1000`;
    while (next) {
      const { res, body } = await this.read(
        next,
        { scope: pullScope(path), expect: [404] },
        16 * 1024 * 1024,
      );
      if (res.status === 404) return [];
      tags.push(...((JSON.parse(body.toString('utf8')) as { tags?: string[] | null }).tags ?? []));
      next = /<([^>]+)>;\s*rel="next"/.exec(header(res, 'link') ?? '')?.[1] ?? null;
    }
    return tags;
  }

  /** The labels in an image's config, e.g. the commit it was built from. */
  async imageLabels(path: string, digest: string): Promise<Record<string, string>> {
    const manifest = await this.getManifest(path, digest);
    if (!manifest) return {};
    const config = (JSON.parse(manifest.body.toString('utf8')) as ImageManifest).config;
    if (!config) return {};
    const blob = JSON.parse((await this.getBlob(path, config.digest)).toString('utf8')) as {
      config?: { Labels?: Record<string, string> | null };
    };
    return blob.config?.Labels ?? {};
  }

  async getManifest(path: string, ref: string): Promise<FetchedManifest | null> {
    const { res, body } = await this.read(
      `/v2/${path}/manifests/${ref}`,
      { scope: pullScope(path), headers: { Accept: ACCEPT_MANIFESTS }, expect: [404] },
      4 * 1024 * 1024,
    );
    if (res.status === 404) return null;
    const digest = sha256Digest(body);
    const claimed = header(res, 'docker-content-digest');
    if ((ref.startsWith('sha256:') && ref !== digest) || (claimed && claimed !== digest)) {
      throw new SitepipeError(
        'REGISTRY_BAD_CONTENT',
        `the manifest ${path}:${ref} from ${this.registry} does not match its digest`,
        'the registry or a proxy altered the content; retry, or check the registry',
      );
    }
    const mediaType = (JSON.parse(body.toString('utf8')) as { mediaType?: string }).mediaType;
    return { mediaType: mediaType ?? header(res, 'content-type') ?? MEDIA.dockerManifest, digest, body };
  }

  /**
   * Resolves a tag or digest to one image manifest, picking `platform` from an index.
   * Returns the manifest's own digest, which pins the image for the whole run.
   */
  async resolveImage(
    path: string,
    ref: string,
    platform = { os: 'linux', architecture: 'amd64' },
  ): Promise<FetchedManifest & { manifest: ImageManifest }> {
    const top = await this.getManifest(path, ref);
    if (!top) {
      throw new SitepipeError(
        'IMAGE_NOT_FOUND',
        `${this.registry}/${path}:${ref} does not exist`,
        'check the image name and tag: image.base (the nginx image), or image.builderBase with image.builder: docker',
      );
    }
    if (top.mediaType !== MEDIA.ociIndex && top.mediaType !== MEDIA.dockerList) {
      return { ...top, manifest: JSON.parse(top.body.toString('utf8')) as ImageManifest };
    }
    const index = JSON.parse(top.body.toString('utf8')) as ImageIndex;
    const match = index.manifests.find(
      (m) => m.platform?.os === platform.os && m.platform.architecture === platform.architecture,
    );
    if (!match) {
      throw new SitepipeError(
        'IMAGE_PLATFORM_MISSING',
        `${this.registry}/${path}:${ref} has no ${platform.os}/${platform.architecture} image`,
        'choose a base image published for linux/amd64',
      );
    }
    return this.resolveImage(path, match.digest, platform);
  }

  async getBlob(path: string, digest: string, limit = 16 * 1024 * 1024): Promise<Buffer> {
    const { body } = await this.read(`/v2/${path}/blobs/${digest}`, { scope: pullScope(path) }, limit);
    if (sha256Digest(body) !== digest) {
      throw new SitepipeError('REGISTRY_BAD_CONTENT', `blob ${digest} does not match its digest`, 'retry');
    }
    return body;
  }

  /**
   * Streams a blob; the caller verifies the digest of what it reads. A connection that dies
   * midway is picked up where it stopped, so the reader sees one whole stream.
   */
  async openBlob(path: string, digest: string): Promise<Readable> {
    const url = `/v2/${path}/blobs/${digest}`;
    const first = await this.call(url, { scope: pullScope(path) });
    return Readable.from(this.blobBody(url, pullScope(path), first), { objectMode: false });
  }

  /**
   * The bytes of a blob GET. When the body breaks off, the rest is asked for again with a Range,
   * from the registry (a storage URL it redirected to may have expired); a server that ignores
   * the Range sends the whole blob again, and what was delivered already is skipped.
   */
  private async *blobBody(url: string, scope: string, first: HttpResponse): AsyncGenerator<Buffer> {
    const retries = new Retries();
    let res = first;
    let received = 0;
    let skip = 0;
    try {
      for (;;) {
        try {
          for await (const chunk of res.stream as AsyncIterable<Buffer>) {
            const part = chunk.subarray(Math.min(skip, chunk.length));
            skip -= chunk.length - part.length;
            received += part.length;
            if (part.length > 0) yield part;
          }
          return;
        } catch (e) {
          await this.pause(e, retries);
          res = await this.call(url, { scope, headers: { Range: `bytes=${received}-` } });
          skip = res.status === 206 ? 0 : received;
        }
      }
    } catch (e) {
      // The reader must get a SitepipeError, never a bare "aborted" the top level calls a bug.
      throw e instanceof SitepipeError || this.signal?.aborted ? e : this.unreachable(e);
    }
  }

  async hasBlob(path: string, digest: string): Promise<boolean> {
    const res = await this.call(`/v2/${path}/blobs/${digest}`, {
      method: 'HEAD',
      scope: pushScope(path),
      expect: [404],
    });
    await drain(res);
    return res.status !== 404;
  }

  /**
   * Puts a blob into `path` unless it is there: first a cross-repository mount from `from`
   * (no bytes move), else an upload, monolithic or in chunks. Returns how many bytes were sent.
   */
  async pushBlob(path: string, blob: Descriptor, source: BlobSource, from?: string): Promise<number> {
    if (await this.hasBlob(path, blob.digest)) return 0;
    return this.withRetry(async () => {
      const scope = from && from !== path ? `${pushScope(path)} ${pullScope(from)}` : pushScope(path);
      const query = from && from !== path ? `?mount=${blob.digest}&from=${encodeURIComponent(from)}` : '';
      const start = await this.once(`/v2/${path}/blobs/uploads/${query}`, {
        method: 'POST',
        scope,
        expect: [201],
      });
      await drain(start);
      if (start.status === 201) return 0;
      const location = this.uploadLocation(start);
      return source.seekable && blob.size > CHUNKED_UPLOAD_ABOVE
        ? this.uploadChunked(location, blob, source, scope)
        : this.uploadMonolithic(location, blob, source, scope);
    });
  }

  async putManifest(path: string, ref: string, mediaType: string, body: Buffer): Promise<string> {
    const digest = sha256Digest(body);
    const res = await this.call(`/v2/${path}/manifests/${ref}`, {
      method: 'PUT',
      scope: pushScope(path),
      headers: { 'Content-Type': mediaType, 'Content-Length': String(body.length) },
      body,
    });
    await drain(res);
    const stored = header(res, 'docker-content-digest');
    if (stored && stored !== digest) {
      throw new SitepipeError(
        'REGISTRY_BAD_CONTENT',
        `the registry stored ${path}:${ref} as ${stored}, not ${digest}`,
        'the registry rewrote the manifest; check it supports OCI image manifests',
      );
    }
    return digest;
  }

  private async uploadMonolithic(location: URL, blob: Descriptor, source: BlobSource, scope: string) {
    location.searchParams.set('digest', blob.digest);
    const res = await this.once(location.toString(), {
      method: 'PUT',
      scope,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(blob.size) },
      body: () => source.open(),
    });
    await drain(res);
    return blob.size;
  }

  /** PATCH chunk by chunk; after a failure, asks the registry how far it got and goes on from there. */
  private async uploadChunked(location: URL, blob: Descriptor, source: BlobSource, scope: string) {
    let offset = 0;
    let url = location;
    const retries = new Retries();
    while (offset < blob.size) {
      const end = Math.min(offset + CHUNK_SIZE, blob.size) - 1;
      try {
        const res = await this.once(url.toString(), {
          method: 'PATCH',
          scope,
          headers: {
            'Content-Type': 'application/octet-stream',
            'Content-Length': String(end - offset + 1),
            'Content-Range': `${offset}-${end}`,
          },
          body: () => source.open({ start: offset, end }),
        });
        await drain(res);
        url = this.uploadLocation(res);
        offset = end + 1;
      } catch (e) {
        await this.pause(e, retries);
        ({ offset, url } = await this.uploadStatus(url, scope));
        if (offset === 0) throw e;
      }
    }
    url.searchParams.set('digest', blob.digest);
    const done = await this.once(url.toString(), {
      method: 'PUT',
      scope,
      headers: { 'Content-Length': '0' },
    });
    await drain(done);
    return blob.size;
  }

  /** Where an interrupted upload stands: the registry's next offset and a fresh upload URL. */
  private async uploadStatus(url: URL, scope: string): Promise<{ offset: number; url: URL }> {
    const res = await this.once(url.toString(), { scope, expect: [204] });
    await drain(res);
    // "Range: 0-N" means N+1 bytes are in, except that registries say "0-0" for an empty
    // upload too: offset 0 then means "start over", which the caller does with a new session.
    const end = Number(/^0-(\d+)$/.exec(header(res, 'range') ?? '')?.[1] ?? 0);
    return { offset: end === 0 ? 0 : end + 1, url: header(res, 'location') ? this.uploadLocation(res) : url };
  }

  private uploadLocation(res: HttpResponse): URL {
    const location = header(res, 'location');
    if (!location) {
      throw new SitepipeError(
        'REGISTRY_ERROR',
        `${this.registry} started an upload without a Location`,
        'check the registry',
      );
    }
    return new URL(location, this.baseUrl);
  }

  /** A request with retries; for one whose body is read, see read(). */
  private call(pathOrUrl: string, req: Request): Promise<HttpResponse> {
    return this.withRetry(() => this.once(pathOrUrl, req));
  }

  /** A request with retries that reads the body in each attempt, so a body cut off midway is tried again. */
  private read(pathOrUrl: string, req: Request, limit: number): Promise<{ res: HttpResponse; body: Buffer }> {
    return this.withRetry(async () => {
      const res = await this.once(pathOrUrl, req);
      return { res, body: await readAll(res, limit) };
    });
  }

  private async withRetry<T>(attempt: () => Promise<T>): Promise<T> {
    const retries = new Retries();
    for (;;) {
      try {
        return await attempt();
      } catch (e) {
        await this.pause(e, retries);
      }
    }
  }

  /** Waits before the next attempt (waking when the run is aborted), or throws when `e` ends the retries. */
  private async pause(e: unknown, retries: Retries): Promise<void> {
    if (this.signal?.aborted) throw e;
    const wait = retries.next(e);
    if (wait === null) throw this.finalError(e, retries.attempts);
    await sleep(wait, undefined, { signal: this.signal });
  }

  /** One attempt: a 401 is answered once with credentials for the scope; redirects are followed. */
  private async once(pathOrUrl: string, req: Request): Promise<HttpResponse> {
    const url = pathOrUrl.startsWith('http') ? pathOrUrl : `${this.baseUrl}${pathOrUrl}`;
    let auth = this.authByScope.get(req.scope);
    let res = await this.exchange(url, req, auth);
    if (res.status === 401 && auth === undefined) {
      const challenge = header(res, 'www-authenticate') ?? '';
      await drain(res);
      auth = await this.authorize(challenge, req.scope);
      this.authByScope.set(req.scope, auth);
      if (auth !== null) res = await this.exchange(url, req, auth);
    }
    return this.check(res, url, req.expect);
  }

  /**
   * Sends a request, following the redirects of a GET or HEAD. `auth` goes to the first URL's
   * origin only: storage URLs are pre-signed, and must never see the registry's credentials.
   */
  private async exchange(
    url: string,
    req: HttpOptions,
    auth: string | null | undefined,
  ): Promise<HttpResponse> {
    const origin = new URL(url).origin;
    const follow = req.method === undefined || req.method === 'GET' || req.method === 'HEAD';
    let at = url;
    let res = await this.send(at, req, auth);
    for (let hops = 0; follow && REDIRECTS.includes(res.status); hops++) {
      const location = header(res, 'location');
      if (!location) return res;
      await drain(res);
      if (hops === MAX_REDIRECTS) {
        throw new SitepipeError(
          'REGISTRY_ERROR',
          `the registry ${this.registry} redirected ${url} more than ${MAX_REDIRECTS} times`,
          'check the registry, or the proxy in front of it',
        );
      }
      at = new URL(location, at).toString();
      res = await this.send(at, req, new URL(at).origin === origin ? auth : null);
    }
    return res;
  }

  /** A 2xx or expected status passes; anything else becomes an error carrying what the registry said. */
  private async check(res: HttpResponse, url: string, expect: readonly number[] = []): Promise<HttpResponse> {
    if ((res.status >= 200 && res.status < 300) || expect.includes(res.status)) return res;
    const body = (await readAll(res, 64 * 1024).catch(() => Buffer.alloc(0))).toString('utf8');
    if (retryableStatus(res.status)) {
      throw new RetryableStatus(res.status, parseRetryAfter(header(res, 'retry-after')), body);
    }
    if (res.status === 401 || res.status === 403) throw this.authError(res.status, body);
    throw this.unexpected(res.status, url, body);
  }

  private send(url: string, req: HttpOptions, auth: string | null | undefined): Promise<HttpResponse> {
    const headers = { ...req.headers, ...(auth ? { Authorization: auth } : {}) };
    const idleTimeoutMs = req.idleTimeoutMs ?? this.idleTimeoutMs;
    return send(url, { ...req, headers, idleTimeoutMs, signal: this.signal }).catch((e: unknown) => {
      // A SitepipeError here came from an upload's source, e.g. the registry a base layer streams from.
      if (e instanceof SitepipeError || retryableError(e) || this.signal?.aborted) throw e;
      throw this.unreachable(e);
    });
  }

  /** Answers a 401 challenge; null when we have nothing to answer it with. */
  private async authorize(challenge: string, scope: string): Promise<string | null> {
    const { scheme, params } = parseChallenge(challenge);
    const credentials = this.creds ? basic(this.creds) : null;
    if (credentials) this.hooks.onSecret?.(credentials.slice('Basic '.length));
    if (scheme === 'basic') return credentials;
    if (scheme !== 'bearer' || !params.realm) return null;
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set('service', params.service);
    for (const s of scope.split(' ')) url.searchParams.append('scope', s);
    const body = await this.withRetry(async () => {
      const res = await this.check(await this.exchange(url.toString(), {}, credentials), url.pathname);
      return readAll(res, 1024 * 1024);
    });
    const parsed = JSON.parse(body.toString('utf8')) as { token?: string; access_token?: string };
    const token = parsed.token ?? parsed.access_token;
    if (token) this.hooks.onSecret?.(token);
    return token ? `Bearer ${token}` : null;
  }

  private finalError(e: unknown, attempts: number): unknown {
    if (e instanceof RetryableStatus) {
      return new SitepipeError(
        'REGISTRY_ERROR',
        `the registry ${this.registry} kept failing (last: HTTP ${e.status}) after ${attempts} attempts`,
        e.status === 429
          ? 'the registry kept rate-limiting us; nothing was tagged, so running again later is safe (signed-in pulls often get a higher limit)'
          : 'the registry is overloaded or failing; nothing was tagged, so running again is safe',
        registryErrorLines(e.body),
      );
    }
    if (retryableError(e)) return this.unreachable(e, ` after ${attempts} attempts`);
    return e;
  }

  private unreachable(e: unknown, suffix = ''): SitepipeError {
    const err = e as { code?: string; message?: string };
    return new SitepipeError(
      'REGISTRY_UNREACHABLE',
      `cannot reach the registry ${this.registry} (${err.code ?? err.message})${suffix}`,
      `check that ${this.baseUrl} is up and the name in image.repository is right`,
    );
  }

  private authError(status: number, body = ''): SitepipeError {
    return new SitepipeError(
      'REGISTRY_AUTH_FAILED',
      `the registry ${this.registry} refused ${this.creds ? 'the credentials' : 'anonymous access'} (HTTP ${status})`,
      this.creds
        ? (this.hooks.authHint ??
            'check the credentials in ~/.docker/config.json (docker login, or gcloud auth configure-docker)')
        : `log in first: docker login ${this.registry} (or set registry.credentials)`,
      registryErrorLines(body),
    );
  }

  private unexpected(status: number, path: string, body: string): SitepipeError {
    return new SitepipeError(
      'REGISTRY_ERROR',
      `the registry ${this.registry} answered HTTP ${status} for ${path}`,
      'check the registry logs',
      registryErrorLines(body),
    );
  }
}

export function pullScope(path: string): string {
  return `repository:${path}:pull`;
}

export function pushScope(path: string): string {
  return `repository:${path}:pull,push`;
}

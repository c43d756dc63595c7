import { SitepipeError } from '../errors.js';
import type { Credentials } from './credentials.js';

const REQUEST_TIMEOUT_MS = 30_000;

const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** Loopback registries speak plain HTTP, as Docker allows by default. */
export function registryBaseUrl(registry: string): string {
  const host = registry.replace(/:\d+$/, '');
  const loopback = host === 'localhost' || host.startsWith('127.') || host === '[::1]';
  return `${loopback ? 'http' : 'https'}://${registry === 'docker.io' ? 'registry-1.docker.io' : registry}`;
}

/** Parses `Bearer realm="…",service="…"` into its scheme and parameters. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const space = header.indexOf(' ');
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const params: Record<string, string> = {};
  for (const m of header.slice(space + 1).matchAll(/(\w+)="([^"]*)"/g))
    params[m[1] as string] = m[2] as string;
  return { scheme, params };
}

function basic(creds: Credentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
}

/**
 * A client of the OCI distribution API for one registry, with the auth handshake
 * (anonymous, Basic, Bearer token) done once per scope.
 */
export class RegistryClient {
  readonly baseUrl: string;
  private readonly authByScope = new Map<string, string | null>();

  constructor(
    readonly registry: string,
    private readonly creds: Credentials | null,
    private readonly signal?: AbortSignal,
  ) {
    this.baseUrl = registryBaseUrl(registry);
  }

  /** Checks that the registry answers and accepts our credentials for pushing to `path`. */
  async checkPushAccess(path: string): Promise<void> {
    const res = await this.request('GET', '/v2/', `repository:${path}:pull,push`);
    if (res.status === 401 || res.status === 403) throw this.authError(res.status);
    if (!res.ok) throw this.unexpected(res, '/v2/');
  }

  /** The digest a tag points to, or null when the tag does not exist. */
  async tagDigest(path: string, tag: string): Promise<string | null> {
    const url = `/v2/${path}/manifests/${encodeURIComponent(tag)}`;
    const res = await this.request('HEAD', url, `repository:${path}:pull`, { Accept: MANIFEST_TYPES });
    if (res.status === 404) return null;
    if (res.status === 401 || res.status === 403) throw this.authError(res.status);
    if (!res.ok) throw this.unexpected(res, url);
    return res.headers.get('docker-content-digest');
  }

  private async request(
    method: string,
    path: string,
    scope: string,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    let auth = this.authByScope.get(scope);
    let res = await this.send(method, path, { ...headers, ...(auth ? { Authorization: auth } : {}) });
    if (res.status !== 401 || auth !== undefined) return res;
    auth = await this.authorize(res.headers.get('www-authenticate') ?? '', scope);
    this.authByScope.set(scope, auth);
    if (auth === null) return res;
    res = await this.send(method, path, { ...headers, Authorization: auth });
    return res;
  }

  /** Answers a 401 challenge; null when we have nothing to answer it with. */
  private async authorize(challenge: string, scope: string): Promise<string | null> {
    const { scheme, params } = parseChallenge(challenge);
    if (scheme === 'basic') return this.creds ? basic(this.creds) : null;
    if (scheme !== 'bearer' || !params.realm) return null;
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set('service', params.service);
    url.searchParams.set('scope', scope);
    const res = await this.fetch(url.toString(), {
      headers: this.creds ? { Authorization: basic(this.creds) } : {},
    });
    if (res.status === 401 || res.status === 403) throw this.authError(res.status);
    if (!res.ok) throw this.unexpected(res, url.pathname);
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    return token ? `Bearer ${token}` : null;
  }

  private send(method: string, path: string, headers: Record<string, string>): Promise<Response> {
    return this.fetch(`${this.baseUrl}${path}`, { method, headers });
  }

  private async fetch(url: string, init: RequestInit): Promise<Response> {
    const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    const signal = this.signal ? AbortSignal.any([this.signal, timeout]) : timeout;
    try {
      return await fetch(url, { ...init, signal, redirect: 'follow' });
    } catch (e) {
      if (this.signal?.aborted) throw e;
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new SitepipeError(
        'REGISTRY_UNREACHABLE',
        `cannot reach the registry ${this.registry} (${cause?.code ?? cause?.message ?? (e as Error).message})`,
        `check that ${this.baseUrl} is up and the name in image.repository is right (npm run setup starts a local one on 127.0.0.1:5000)`,
      );
    }
  }

  private authError(status: number): SitepipeError {
    return new SitepipeError(
      'REGISTRY_AUTH_FAILED',
      `the registry ${this.registry} refused ${this.creds ? 'the credentials' : 'anonymous access'} (HTTP ${status})`,
      this.creds
        ? 'check the credentials in ~/.docker/config.json (docker login, or gcloud auth configure-docker)'
        : `log in first: docker login ${this.registry} (or set registry.credentials)`,
    );
  }

  private unexpected(res: Response, path: string): SitepipeError {
    return new SitepipeError(
      'REGISTRY_ERROR',
      `the registry ${this.registry} answered ${res.status} ${res.statusText} for ${path}`,
      'check the registry logs; retry if it was overloaded',
    );
  }
}

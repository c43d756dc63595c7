/**
 * "Can the kubelet pull this image?", answered by asking the real registry the image names:
 * HEAD /v2/<path>/manifests/<tag|digest>. Only loopback registries are ever contacted; any
 * other registry counts as unreachable, as it is from these machines.
 */
import { isIP } from 'node:net';

export interface ImageRef {
  /** host[:port]; docker.io when the name has none */
  registry: string;
  repository: string;
  /** tag or digest */
  reference: string;
}

export function parseImage(image: string): ImageRef {
  let rest = image.trim();
  let reference = '';
  const at = rest.indexOf('@');
  if (at >= 0) {
    reference = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    if (!reference) reference = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const parts = rest.split('/');
  const first = parts[0] ?? '';
  const hasRegistry =
    parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  const registry = hasRegistry ? first : 'docker.io';
  const path = hasRegistry ? parts.slice(1) : parts;
  if (!hasRegistry && path.length === 1) path.unshift('library');
  return { registry, repository: path.join('/'), reference: reference || 'latest' };
}

/** host[:port] -> host, also for [::1]:5000. */
function hostOf(registry: string): string {
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(registry);
  if (m?.[1]) return m[1];
  const parts = registry.split(':');
  return parts.length === 2 ? (parts[0] ?? '') : registry;
}

export function isLoopbackRegistry(registry: string): boolean {
  const host = hostOf(registry).toLowerCase();
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

export type PullCheck =
  | { ok: true; digest: string; imageID: string }
  | { ok: false; reason: 'ErrImagePull'; message: string };

export interface RegistryCredential {
  registry: string;
  username: string;
  password: string;
}

const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

function failed(image: string, why: string): PullCheck {
  return {
    ok: false,
    reason: 'ErrImagePull',
    message: `Failed to pull image "${image}": rpc error: code = Unknown desc = failed to pull and unpack image "${image}": ${why}`,
  };
}

/** Asks the registry whether the manifest exists; never contacts a non-loopback host. */
export async function checkPullable(
  image: string,
  credentials: RegistryCredential[] = [],
): Promise<PullCheck> {
  const ref = parseImage(image);
  if (!isLoopbackRegistry(ref.registry)) {
    return failed(
      image,
      `failed to resolve reference "${image}": dial tcp: lookup ${hostOf(ref.registry)}: no such host (kube-sim pulls only from loopback registries)`,
    );
  }
  const url = `http://${ref.registry}/v2/${ref.repository}/manifests/${ref.reference}`;
  const head = (authorization?: string) =>
    fetch(url, {
      method: 'HEAD',
      redirect: 'manual',
      headers: { Accept: MANIFEST_TYPES, ...(authorization ? { Authorization: authorization } : {}) },
      signal: AbortSignal.timeout(5000),
    });
  try {
    let res = await head();
    if (res.status === 401) {
      const cred = credentials.find((c) => c.registry === ref.registry);
      const challenge = res.headers.get('www-authenticate') ?? '';
      if (cred && /^basic/i.test(challenge))
        res = await head(`Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`);
    }
    if (res.status === 200) {
      const digest = res.headers.get('docker-content-digest') ?? '';
      return { ok: true, digest, imageID: digest ? `${ref.registry}/${ref.repository}@${digest}` : image };
    }
    if (res.status === 404)
      return failed(image, `failed to resolve reference "${image}": ${image}: not found`);
    if (res.status === 401 || res.status === 403)
      return failed(
        image,
        `failed to resolve reference "${image}": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed (HTTP ${res.status})`,
      );
    return failed(
      image,
      `failed to resolve reference "${image}": unexpected status from HEAD request to ${url}: ${res.status}`,
    );
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
    return failed(image, `failed to do request: Head "${url}": dial tcp ${ref.registry}: ${cause}`);
  }
}

import { SETUP_REGISTRY } from './registry.js';

const ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** The digest a tag names in the setup registry, or null. */
export async function tagDigest(repository: string, tag: string): Promise<string | null> {
  const path = repository.replace(`${SETUP_REGISTRY}/`, '');
  const r = await fetch(`http://${SETUP_REGISTRY}/v2/${path}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { accept: ACCEPT },
  });
  return r.ok ? r.headers.get('docker-content-digest') : null;
}

export async function listTags(repository: string): Promise<string[]> {
  const path = repository.replace(`${SETUP_REGISTRY}/`, '');
  const r = await fetch(`http://${SETUP_REGISTRY}/v2/${path}/tags/list`);
  return r.ok ? (((await r.json()) as { tags: string[] | null }).tags ?? []) : [];
}

/** Whether the registry holds every blob (config and layers) of the image a tag names. */
export async function imageComplete(repository: string, tag: string): Promise<boolean> {
  const path = repository.replace(`${SETUP_REGISTRY}/`, '');
  const r = await fetch(`http://${SETUP_REGISTRY}/v2/${path}/manifests/${tag}`, {
    headers: { accept: ACCEPT },
  });
  if (!r.ok) return false;
  const manifest = (await r.json()) as { config: { digest: string }; layers: Array<{ digest: string }> };
  for (const blob of [manifest.config, ...manifest.layers]) {
    const head = await fetch(`http://${SETUP_REGISTRY}/v2/${path}/blobs/${blob.digest}`, { method: 'HEAD' });
    if (!head.ok) return false;
  }
  return true;
}

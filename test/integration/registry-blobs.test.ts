import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { remoteSource } from '../../pipeline/builders/oci.js';
import { type Descriptor, MEDIA, RegistryClient, sha256Digest } from '../../pipeline/clients/registry.js';
import { SitepipeError, toSitepipeError } from '../../pipeline/errors.js';
import { expectCode } from '../helpers/expect-code.js';
import { type FaultProxy, type FaultRule, startFaultProxy } from '../helpers/fault-proxy.js';
import { SETUP_REGISTRY, startRegistry, type TestRegistry } from '../helpers/registry.js';

const path = `blobs-${randomBytes(4).toString('hex')}/site`;
/** Requests to the registry (storage URLs start with /storage/). */
const toRegistry = (m: string, u: string, what: string) =>
  (m === 'GET' || m === 'HEAD') && u.startsWith('/v2/') && u.includes(what);
const blobGet = (m: string, u: string) => m === 'GET' && toRegistry(m, u, '/blobs/sha256:');
const storageGet = (m: string, u: string) => m === 'GET' && u.startsWith('/storage/');
const redirectBlobs = (): FaultRule => ({
  match: (m, u) => toRegistry(m, u, '/blobs/sha256:'),
  fault: 'redirect',
  times: 1000,
});

const bytesOf = (data: Buffer) => ({ seekable: false, open: () => Readable.from([data]) });

async function pushBlob(client: RegistryClient, data: Buffer): Promise<Descriptor> {
  const blob = { mediaType: 'application/octet-stream', digest: sha256Digest(data), size: data.length };
  await client.pushBlob(path, blob, bytesOf(data));
  return blob;
}

async function readStream(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** An image (config + one layer) tagged v1, so manifests, tags and labels can be fetched too. */
async function pushImage(client: RegistryClient, layer: Descriptor) {
  const configBody = Buffer.from(JSON.stringify({ config: { Labels: { revision: 'abc123' } } }));
  const config = { ...(await pushBlob(client, configBody)), mediaType: MEDIA.ociConfig };
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociManifest,
      config,
      layers: [{ ...layer, mediaType: MEDIA.ociLayerGzip }],
    }),
  );
  return { config, digest: await client.putManifest(path, 'v1', MEDIA.ociManifest, manifest) };
}

let proxy: FaultProxy;
afterEach(() => proxy?.close());

describe('blob redirects to storage on another origin', () => {
  const USER = 'ci';
  const PASSWORD = 'storage-test-password';
  let registry: TestRegistry;
  let data: Buffer;
  let blob: Descriptor;
  beforeAll(async () => {
    registry = await startRegistry({ user: USER, password: PASSWORD });
    data = randomBytes(512 * 1024);
    blob = await pushBlob(new RegistryClient(registry.host, { username: USER, password: PASSWORD }), data);
  });
  afterAll(() => registry?.stop());

  it('getBlob, openBlob and hasBlob follow them, and the storage host never sees the registry credentials', async () => {
    proxy = await startFaultProxy(registry.host, [redirectBlobs()]);
    const client = new RegistryClient(proxy.host, { username: USER, password: PASSWORD });
    expect(sha256Digest(await client.getBlob(path, blob.digest))).toBe(blob.digest);
    expect(sha256Digest(await readStream(await client.openBlob(path, blob.digest)))).toBe(blob.digest);
    expect(await client.hasBlob(path, blob.digest)).toBe(true);
    expect(await client.hasBlob(path, sha256Digest(Buffer.from('missing')))).toBe(false);

    const storage = proxy.requests.filter((r) => r.listener === 'storage');
    expect(storage.map((r) => `${r.method} ${r.outcome}`)).toEqual([
      'GET forwarded',
      'GET forwarded',
      'HEAD forwarded',
    ]);
    expect(storage.filter((r) => r.headers.authorization !== undefined)).toEqual([]);
    const registrySide = proxy.requests.filter((r) => r.listener === 'registry');
    expect(registrySide.some((r) => r.headers.authorization?.startsWith('Basic '))).toBe(true);
  });

  it('follows a relative Location, and stops a redirect loop with REGISTRY_ERROR', async () => {
    proxy = await startFaultProxy(registry.host, [
      redirectBlobs(),
      { match: storageGet, fault: 'redirect', times: 1 },
    ]);
    const client = new RegistryClient(proxy.host, { username: USER, password: PASSWORD });
    expect(sha256Digest(await client.getBlob(path, blob.digest))).toBe(blob.digest);
    // The second hop was storage redirecting to itself with a relative Location.
    expect(proxy.log.filter((l) => l.startsWith('GET /storage/')).map((l) => l.split(' ').pop())).toEqual([
      'redirect',
      'forwarded',
    ]);

    proxy.rules.push({ match: storageGet, fault: 'redirect', times: 1000 });
    const err = await expectCode(client.getBlob(path, blob.digest), 'REGISTRY_ERROR');
    expect(err.message).toMatch(/redirect/);
  });
});

describe('bodies cut off or stalled midway (fault proxy in front of the setup registry)', () => {
  const direct = new RegistryClient(SETUP_REGISTRY, null);
  const data = randomBytes(3 * 1024 * 1024);
  let blob: Descriptor;
  let image: { config: Descriptor; digest: string };
  beforeAll(async () => {
    blob = await pushBlob(direct, data);
    image = await pushImage(direct, blob);
  });
  /** Short idle timeout: a stalled body costs a second. */
  const through = async (rules: FaultRule[]) => {
    proxy = await startFaultProxy(SETUP_REGISTRY, rules);
    return new RegistryClient(proxy.host, null, undefined, 1000);
  };

  it.each([
    ['getBlob', 'cut', '/blobs/sha256:'],
    ['getBlob', 'stallBody', '/blobs/sha256:'],
    ['getManifest', 'cut', '/manifests/'],
    ['listTags', 'stallBody', '/tags/list'],
    ['imageLabels', 'cut', '/blobs/sha256:'],
  ] as const)('%s retries the whole exchange after a %s', async (call, fault, what) => {
    const client = await through([{ match: (m, u) => toRegistry(m, u, what), fault, times: 1 }]);
    const results = {
      getBlob: async () => expect(sha256Digest(await client.getBlob(path, blob.digest))).toBe(blob.digest),
      getManifest: async () =>
        expect((await client.getManifest(path, image.digest))?.digest).toBe(image.digest),
      listTags: async () => expect(await client.listTags(path)).toEqual(['v1']),
      imageLabels: async () =>
        expect(await client.imageLabels(path, image.digest)).toEqual({ revision: 'abc123' }),
    };
    await results[call]();
    expect(proxy.log.map((l) => l.split(' ').pop())).toContain(fault);
  });

  it('openBlob resumes a cut stream with a Range, so the reader sees one whole stream', async () => {
    const client = await through([{ match: blobGet, fault: 'cut', times: 1 }]);
    expect(sha256Digest(await readStream(await client.openBlob(path, blob.digest)))).toBe(blob.digest);
    const [first, resumed] = proxy.requests;
    expect(first?.outcome).toBe('cut');
    expect(first?.headers.range).toBeUndefined();
    expect(resumed?.headers.range).toMatch(/^bytes=[1-9]\d*-$/);
  });

  it('openBlob resumes a stalled stream, and skips what it has when the server ignores the Range', async () => {
    const client = await through([
      { match: blobGet, fault: 'stallBody', times: 1 },
      { match: blobGet, fault: 'ignoreRange', times: 1 },
    ]);
    expect(sha256Digest(await readStream(await client.openBlob(path, blob.digest)))).toBe(blob.digest);
    expect(proxy.log.map((l) => l.split(' ').pop())).toEqual(['stallBody', 'ignoreRange']);
  });

  it('a cut behind a redirect is retried from the registry, not the spent storage URL', async () => {
    const client = await through([redirectBlobs(), { match: storageGet, fault: 'cut', times: 1 }]);
    expect(sha256Digest(await client.getBlob(path, blob.digest))).toBe(blob.digest);
    proxy.rules.push({ match: storageGet, fault: 'cut', times: 1 });
    expect(sha256Digest(await readStream(await client.openBlob(path, blob.digest)))).toBe(blob.digest);
    const trail = proxy.requests.map((r) => `${r.listener} ${r.outcome}`);
    expect(trail).toEqual([
      ...['registry redirect', 'storage cut', 'registry redirect', 'storage forwarded'], // getBlob
      ...['registry redirect', 'storage cut', 'registry redirect', 'storage forwarded'], // openBlob
    ]);
    expect(proxy.requests.at(-1)?.headers.range).toMatch(/^bytes=[1-9]\d*-$/);
  });

  it('a stream that keeps breaking ends in REGISTRY_UNREACHABLE, not a bare "aborted"', async () => {
    const client = await through([{ match: blobGet, fault: 'cut', times: 1000 }]);
    const stream = await client.openBlob(path, blob.digest);
    const err = await expectCode(readStream(stream), 'REGISTRY_UNREACHABLE');
    expect(err.message).toMatch(/after 5 attempts/);
    expect(err.hint).toBeTruthy();
  });

  it('an upload whose source breaks fails at once with the source error (not an idle timeout)', async () => {
    const client = await through([{ match: blobGet, fault: 'cut', times: 1000 }]);
    // A base layer streamed from another registry straight into the target.
    const remote = remoteSource(client, path, blob.digest);
    // Idle timeouts far beyond the test's timeout: only a prompt failure passes.
    const target = new RegistryClient(SETUP_REGISTRY, null, undefined, 600_000);
    const err = await expectCode(target.pushBlob(`${path}-copy`, blob, remote), 'REGISTRY_UNREACHABLE');
    expect(err.message).toContain(proxy.host);
  }, 60_000);

  it('an upload whose source fails with a network error is retried with a fresh source', async () => {
    let opens = 0;
    const flaky = {
      seekable: false,
      open: () =>
        ++opens > 1
          ? Readable.from([data])
          : new Readable({
              read() {
                this.push(data.subarray(0, 1024));
                this.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
              },
            }),
    };
    const target = new RegistryClient(SETUP_REGISTRY, null);
    expect(await target.pushBlob(`${path}-flaky`, blob, flaky)).toBe(data.length);
    expect(opens).toBe(2);
  });

  it('an upload whose source fails with a SitepipeError passes it on as it is, without retrying', async () => {
    const broken = new SitepipeError(
      'REGISTRY_UNREACHABLE',
      'cannot reach the registry base.example',
      'hint',
    );
    let opens = 0;
    const failing = {
      seekable: false,
      open: () => {
        opens++;
        return new Readable({
          read() {
            this.push(data.subarray(0, 1024));
            this.destroy(broken);
          },
        });
      },
    };
    const target = new RegistryClient(SETUP_REGISTRY, null);
    expect(await target.pushBlob(`${path}-failing`, blob, failing).catch((e) => e)).toBe(broken);
    expect(opens).toBe(1);
  });
});

describe('rate limits and Retry-After', () => {
  const data = randomBytes(64 * 1024);
  let blob: Descriptor;
  beforeAll(async () => {
    blob = await pushBlob(new RegistryClient(SETUP_REGISTRY, null), data);
  });
  const arrivals = () => proxy.requests.filter((r) => r.listener === 'registry').map((r) => r.at);

  it('keeps retrying 429s past five tries, each no sooner than its Retry-After', async () => {
    proxy = await startFaultProxy(SETUP_REGISTRY, [
      { match: blobGet, fault: 'status429', times: 5, retryAfter: '1' },
    ]);
    expect(sha256Digest(await new RegistryClient(proxy.host, null).getBlob(path, blob.digest))).toBe(
      blob.digest,
    );
    const at = arrivals();
    expect(at).toHaveLength(6);
    // A lower bound on correctness (the client waited as asked), not a speed threshold.
    for (let i = 1; i < at.length; i++)
      expect((at[i] as number) - (at[i - 1] as number)).toBeGreaterThanOrEqual(990);
  });

  it("honours a 503's Retry-After, in seconds or as an HTTP date", async () => {
    const date = new Date(Date.now() + 3000).toUTCString();
    proxy = await startFaultProxy(SETUP_REGISTRY, [
      { match: blobGet, fault: 'status503', times: 1, retryAfter: '2' },
      { match: blobGet, fault: 'status503', times: 1, retryAfter: date },
    ]);
    const client = new RegistryClient(proxy.host, null);
    expect(sha256Digest(await client.getBlob(path, blob.digest))).toBe(blob.digest);
    const [first, second] = arrivals() as [number, number];
    expect(second - first).toBeGreaterThanOrEqual(1990);
    expect(sha256Digest(await client.getBlob(path, blob.digest))).toBe(blob.digest);
    expect(arrivals()[3]).toBeGreaterThanOrEqual(Date.parse(date) - 10);
  });

  it('a wait for Retry-After ends as soon as the run is aborted', async () => {
    proxy = await startFaultProxy(SETUP_REGISTRY, [
      { match: blobGet, fault: 'status429', times: 1, retryAfter: '3600' },
    ]);
    const abort = new AbortController();
    const pending = new RegistryClient(proxy.host, null, abort.signal)
      .getBlob(path, blob.digest)
      .catch((e) => e);
    while (proxy.requests.length === 0) await sleep(10);
    // Long enough for a plain backoff to have retried already; far short of the Retry-After.
    await sleep(1000);
    abort.abort();
    expect(toSitepipeError(await pending).code).toBe('ABORTED');
    expect(proxy.requests).toHaveLength(1);
    // A wait that did not wake (capped at a minute) would outlast this test's timeout.
  }, 30_000);
});

describe("the registry's own error in the final error", () => {
  const data = randomBytes(1024);
  let blob: Descriptor;
  beforeAll(async () => {
    blob = await pushBlob(new RegistryClient(SETUP_REGISTRY, null), data);
  });

  it('a 5xx that outlasts the retries shows the OCI error code, message and detail', async () => {
    const body = JSON.stringify({
      errors: [
        {
          code: 'UNKNOWN',
          message: 'unknown error',
          detail: 'filesystem: write /var/lib/registry/data: no space left on device',
        },
      ],
    });
    proxy = await startFaultProxy(SETUP_REGISTRY, [
      { match: blobGet, fault: 'status500', times: 1000, body },
    ]);
    const err = await expectCode(
      new RegistryClient(proxy.host, null).getBlob(path, blob.digest),
      'REGISTRY_ERROR',
    );
    expect(err.message).toMatch(/kept failing \(last: HTTP 500\) after 5 attempts/);
    expect(err.details).toEqual([
      'UNKNOWN: unknown error (filesystem: write /var/lib/registry/data: no space left on device)',
    ]);
  });

  it('a 5xx with a text body (a proxy page) shows its first 500 characters', async () => {
    const body = `<html><body><h1>502 Bad Gateway</h1>${'x'.repeat(2000)}</body></html>`;
    proxy = await startFaultProxy(SETUP_REGISTRY, [
      { match: blobGet, fault: 'status502', times: 1000, body },
    ]);
    const err = await expectCode(
      new RegistryClient(proxy.host, null).getBlob(path, blob.digest),
      'REGISTRY_ERROR',
    );
    expect(err.details).toEqual([body.slice(0, 500)]);
  });

  it('a 4xx shows the OCI errors as readable lines', async () => {
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.ociManifest,
        config: { mediaType: MEDIA.ociConfig, digest: sha256Digest(Buffer.from('no such config')), size: 14 },
        layers: [],
      }),
    );
    const client = new RegistryClient(SETUP_REGISTRY, null);
    const err = await expectCode(
      client.putManifest(path, 'broken', MEDIA.ociManifest, manifest),
      'REGISTRY_ERROR',
    );
    expect(err.message).toMatch(/HTTP 400/);
    expect(err.details[0]).toMatch(/^MANIFEST_BLOB_UNKNOWN: .+ \(sha256:[0-9a-f]{64}\)$/);
  });
});

import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A token bucket shared by every connection in one direction, as one uplink is shared.
 * GCRA form: a virtual "theoretical arrival time" advances by n/rate per n bytes; a take
 * waits until that time minus the burst allowance.
 */
export class Bucket {
  private tat = 0;
  /** Bytes per second; null means unlimited. */
  rate: number | null = null;
  constructor(readonly burst = 128 * 1024) {}

  async take(n: number): Promise<void> {
    if (this.rate === null) return;
    const now = performance.now() / 1000;
    this.tat = Math.max(this.tat, now) + n / this.rate;
    const wait = this.tat - this.burst / this.rate - now;
    if (wait > 0.001) await sleep(wait * 1000);
  }
}

/** Counts what passes and holds it back to the bucket's rate (in slices, so the flow is smooth). */
function meter(bucket: Bucket, count: (n: number) => void): Transform {
  const SLICE = 32 * 1024;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      count(chunk.length);
      if (bucket.rate === null) {
        done(null, chunk);
        return;
      }
      (async () => {
        for (let off = 0; off < chunk.length; off += SLICE) {
          const piece = chunk.subarray(off, off + SLICE);
          await bucket.take(piece.length);
          this.push(piece);
        }
      })().then(() => done(), done);
    },
  });
}

export interface Counters {
  /** Request body bytes: what clients uploaded. */
  up: number;
  /** Response body bytes: what clients downloaded. */
  down: number;
  requests: number;
  /** Request body bytes by "METHOD kind", e.g. "PUT blobs", "PATCH blobs", "PUT manifests". */
  upBy: Record<string, number>;
  /** Requests that carried a body: when they arrived and when their response was sent (performance.now() ms). */
  uploads: Array<{ key: string; bytes: number; start: number; end: number }>;
}

/** How long at least one upload was in flight, ms (the union of the upload requests' intervals). */
export function uploadBusyMs(uploads: Counters['uploads']): number {
  let busy = 0;
  let until = -Infinity;
  for (const u of [...uploads].sort((a, b) => a.start - b.start)) {
    if (u.end <= until) continue;
    busy += u.end - Math.max(u.start, until);
    until = u.end;
  }
  return busy;
}

export interface MeterProxy {
  host: string;
  port: number;
  counters: Counters;
  /** Bytes per second in each direction, or null for no limit. */
  setRate(bytesPerSecond: number | null): void;
  /** Zeroes the counters and returns what they held. */
  reset(): Counters;
  close(): Promise<void>;
}

const fresh = (): Counters => ({ up: 0, down: 0, requests: 0, upBy: {}, uploads: [] });

function kind(url: string): string {
  if (/\/blobs\/uploads/.test(url)) return 'blobs';
  if (/\/manifests\//.test(url)) return 'manifests';
  if (/\/blobs\//.test(url)) return 'blob-get';
  return 'other';
}

/**
 * An HTTP proxy on loopback in front of a registry (the idea of test/helpers/fault-proxy.ts):
 * counts request and response body bytes and, when a rate is set, throttles both directions
 * with a shared token bucket each. The Host header passes through, so the registry's upload
 * Locations point back at the proxy and every byte of a push passes through it.
 */
export async function startMeterProxy(target: string): Promise<MeterProxy> {
  const [targetHost, targetPort] = target.split(':');
  const upBucket = new Bucket();
  const downBucket = new Bucket();
  let counters = fresh();
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const server: Server = createServer((req, res) => {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const mine = counters;
    mine.requests++;
    const key = `${method} ${kind(url)}`;
    const start = performance.now();
    let bytes = 0;
    res.once('finish', () => {
      if (bytes > 0) mine.uploads.push({ key, bytes, start, end: performance.now() });
    });
    const headers = { ...req.headers };
    delete headers.expect;
    const upstream = request(
      { host: targetHost, port: Number(targetPort), method, path: url, headers, agent },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(
          meter(downBucket, (n) => {
            mine.down += n;
          }),
        ).pipe(res);
      },
    );
    upstream.once('error', () => res.destroy());
    req.once('error', () => upstream.destroy());
    req
      .pipe(
        meter(upBucket, (n) => {
          bytes += n;
          mine.up += n;
          mine.upBy[key] = (mine.upBy[key] ?? 0) + n;
        }),
      )
      .pipe(upstream);
  });
  // Docker tries TLS first on an insecure registry; the HTTP parser's 400 makes it fall back to HTTP.
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    port,
    get counters() {
      return counters;
    },
    setRate(rate) {
      upBucket.rate = rate;
      downBucket.rate = rate;
    },
    reset() {
      const was = counters;
      counters = fresh();
      return was;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}

import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SitepipeError } from '../errors.js';

export interface HttpOptions {
  method?: string;
  headers?: Record<string, string>;
  /** A buffer, or a function that opens a fresh stream (called once per attempt). */
  body?: Buffer | (() => Readable);
  /** No byte sent or received for this long fails the request (a stalled peer). */
  idleTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body as a stream; read it or call drain(). */
  stream: IncomingMessage;
}

const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };

/**
 * One HTTP request with a streamed body both ways, keep-alive, an idle timeout and an
 * AbortSignal. No retries here: callers decide what is safe to repeat.
 */
export function send(url: string, opts: HttpOptions = {}): Promise<HttpResponse> {
  const target = new URL(url);
  const isHttps = target.protocol === 'https:';
  const request = isHttps ? httpsRequest : httpRequest;
  const body = typeof opts.body === 'function' ? opts.body() : opts.body;
  return new Promise((resolve, reject) => {
    const req = request(target, {
      method: opts.method ?? 'GET',
      headers: opts.headers,
      agent: isHttps ? agents.https : agents.http,
      signal: opts.signal,
    });
    req.setTimeout(opts.idleTimeoutMs ?? 30_000, () => {
      req.destroy(
        Object.assign(new Error(`no data for ${opts.idleTimeoutMs ?? 30_000} ms`), { code: 'ETIMEDOUT' }),
      );
    });
    req.on('error', reject);
    req.once('response', (res) => {
      res.setTimeout(opts.idleTimeoutMs ?? 30_000, () => {
        res.destroy(Object.assign(new Error('response stalled'), { code: 'ETIMEDOUT' }));
      });
      resolve({ status: res.statusCode ?? 0, headers: res.headers, stream: res });
    });
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else {
      // pipeline() alone aborts the request with a bare "socket hang up": fail it at once with
      // the body's own error, so the caller can tell a broken source from a broken peer.
      body.once('error', (e) => req.destroy(e));
      pipeline(body, req).catch(() => undefined);
    }
  });
}

export async function readAll(res: HttpResponse, limit = 64 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.stream) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      res.stream.destroy();
      throw new SitepipeError(
        'RESPONSE_TOO_LARGE',
        `the server sent more than ${limit} bytes where a small answer was expected`,
        'check that the registry URL points at an OCI registry (a proxy or login page answers like this)',
      );
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Discards a body so the keep-alive connection can be reused. */
export async function drain(res: HttpResponse): Promise<void> {
  res.stream.resume();
  await new Promise<void>((resolve) => {
    if (res.stream.readableEnded) resolve();
    else
      res.stream
        .once('end', resolve)
        .once('error', () => resolve())
        .once('close', resolve);
  });
}

export function header(res: HttpResponse, name: string): string | undefined {
  const value = res.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

import { randomBytes } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * - `reset`: take part of the request body, then drop the connection, as a flaky network would
 * - `stall`: never answer
 * - `status503`, `status429`, any `statusNNN`: answer that, with the rule's body and Retry-After
 * - `redirect`: turn a 2xx answer into a 307 to the storage listener (another origin), as
 *   registries that keep blobs in S3 or GCS do; on the storage listener itself the Location is relative
 * - `cut`: pass the status, headers and half the body on, then drop the connection
 * - `stallBody`: pass the status, headers and half the body on, then go silent
 * - `ignoreRange`: forward without the Range header, as a server that cannot serve ranges
 */
export type Fault = 'reset' | 'stall' | `status${number}` | 'redirect' | 'cut' | 'stallBody' | 'ignoreRange';

export interface FaultRule {
  /** Which requests it hits, e.g. m === 'PUT' && /blobs\/uploads/.test(url). Storage URLs start with /storage/. */
  match(method: string, url: string): boolean;
  fault: Fault;
  /** How many matching requests it hits; then it lets them through. */
  times: number;
  /** Status faults: the Retry-After header (none by default). */
  retryAfter?: string;
  /** Status faults: the body (an OCI error JSON by default). */
  body?: string;
}

export interface ProxiedRequest {
  listener: 'registry' | 'storage';
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** Date.now() when it arrived. */
  at: number;
  /** `forwarded`, the fault applied, or `expired` (a storage URL used twice or unknown). */
  outcome: string;
}

export interface FaultProxy {
  host: string;
  /** Where `redirect` sends requests: a listener on another port that serves blobs without asking for auth. */
  storageHost: string;
  /** Every request either listener saw, in order. */
  requests: ProxiedRequest[];
  /** The requests as "METHOD url -> outcome". */
  readonly log: string[];
  rules: FaultRule[];
  close(): Promise<void>;
}

const STORAGE_URL = /^\/storage\/(\w+)(\/.*)$/;

/**
 * An HTTP proxy on loopback in front of a registry that breaks chosen requests (see Fault). The
 * Host header passes through, so the registry's upload Locations point back at the proxy.
 *
 * Its storage listener stands in for pre-signed storage URLs: each redirect mints a single-use
 * URL that carries the registry's grant (the Authorization the client showed the registry), so
 * the client must send no Authorization there, and must go back to the registry to retry.
 */
export async function startFaultProxy(target: string, rules: FaultRule[] = []): Promise<FaultProxy> {
  const [targetHost, targetPort] = target.split(':');
  const requests: ProxiedRequest[] = [];
  const grants = new Map<string, string | undefined>();
  const stalled = new Set<Socket>();
  let storageHost = '';

  const forward = (
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    headers: IncomingHttpHeaders,
    answer: (up: IncomingMessage) => void,
  ) => {
    const upstream = request(
      { host: targetHost, port: Number(targetPort), method: req.method, path, headers },
      answer,
    );
    upstream.once('error', () => res.destroy());
    req.pipe(upstream);
  };

  /** Passes half the body on, then `then()` (the rest never comes). */
  const half = (up: IncomingMessage, res: ServerResponse, then: (socket: Socket) => void) => {
    res.writeHead(up.statusCode ?? 502, up.headers);
    let left = Math.ceil(Number(up.headers['content-length'] ?? 2) / 2);
    up.on('data', (chunk: Buffer) => {
      if (left <= 0) return;
      const part = chunk.subarray(0, left);
      left -= part.length;
      if (left > 0) res.write(part);
      else
        res.write(part, () => {
          up.destroy();
          then(res.socket as Socket);
        });
    });
  };

  const handle = (listener: ProxiedRequest['listener']) => (req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const seen: ProxiedRequest = { listener, method, url, headers: req.headers, at: Date.now(), outcome: '' };
    requests.push(seen);
    let path = url;
    let headers: IncomingHttpHeaders = req.headers;
    let grant = req.headers.authorization;
    if (listener === 'storage') {
      const [, token = '', rest = ''] = STORAGE_URL.exec(url) ?? [];
      if (!grants.has(token)) {
        seen.outcome = 'expired';
        res.writeHead(403, { 'Content-Type': 'application/xml' });
        res.end('<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>');
        return;
      }
      grant = grants.get(token);
      grants.delete(token);
      path = rest;
      const { authorization: _, ...others } = req.headers;
      headers = { ...others, host: target, ...(grant ? { authorization: grant } : {}) };
    }
    const rule = rules.find((r) => r.times > 0 && r.match(method, url));
    if (rule) rule.times--;
    const fault = rule?.fault;
    seen.outcome = fault ?? 'forwarded';
    const pass = (up: IncomingMessage) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    };

    if (fault === 'reset') {
      req.once('data', () => req.socket.destroy());
      req.once('end', () => req.socket.destroy());
    } else if (fault === 'stall') {
      stalled.add(req.socket);
    } else if (fault?.startsWith('status')) {
      req.resume();
      res.writeHead(Number(fault.slice('status'.length)), {
        'Content-Type': 'application/json',
        ...(rule?.retryAfter === undefined ? {} : { 'Retry-After': rule.retryAfter }),
      });
      res.end(rule?.body ?? '{"errors":[{"code":"UNAVAILABLE","message":"injected fault"}]}');
    } else if (fault === 'redirect') {
      forward(req, res, path, headers, (up) => {
        if ((up.statusCode ?? 0) >= 300) return pass(up);
        up.destroy();
        const token = randomBytes(8).toString('hex');
        grants.set(token, grant);
        const origin = listener === 'storage' ? '' : `http://${storageHost}`;
        res.writeHead(307, { Location: `${origin}/storage/${token}${path}`, 'Content-Length': '0' });
        res.end();
      });
    } else if (fault === 'cut') {
      forward(req, res, path, headers, (up) => half(up, res, (socket) => socket.destroy()));
    } else if (fault === 'stallBody') {
      forward(req, res, path, headers, (up) => half(up, res, (socket) => stalled.add(socket)));
    } else {
      const { range: _, ...withoutRange } = headers;
      forward(req, res, path, fault === 'ignoreRange' ? withoutRange : headers, pass);
    }
  };

  const listen = async (server: Server) => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const registry = createServer(handle('registry'));
  const storage = createServer(handle('storage'));
  const host = await listen(registry);
  storageHost = await listen(storage);
  return {
    host,
    storageHost,
    requests,
    get log() {
      return requests.map((r) => `${r.method} ${r.url} -> ${r.outcome}`);
    },
    rules,
    close: async () => {
      for (const socket of stalled) socket.destroy();
      await Promise.all(
        [registry, storage].map(
          (server) =>
            new Promise<void>((resolve) => {
              server.closeAllConnections();
              server.close(() => resolve());
            }),
        ),
      );
    },
  };
}

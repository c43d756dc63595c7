import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault = 'reset' | 'status503' | 'status429' | 'stall';

export interface FaultRule {
  /** Which requests it hits, e.g. m === 'PUT' && /blobs\/uploads/.test(url). */
  match(method: string, url: string): boolean;
  fault: Fault;
  /** How many matching requests it hits; then it lets them through. */
  times: number;
}

export interface FaultProxy {
  host: string;
  /** Every request seen, as "METHOD url -> outcome". */
  log: string[];
  rules: FaultRule[];
  close(): Promise<void>;
}

/**
 * An HTTP proxy on loopback in front of a registry that breaks chosen requests: resets the
 * connection halfway through the body, answers 503/429, or stalls without a byte. The Host
 * header passes through, so the registry's upload Locations point back at the proxy.
 */
export async function startFaultProxy(target: string, rules: FaultRule[] = []): Promise<FaultProxy> {
  const [targetHost, targetPort] = target.split(':');
  const log: string[] = [];
  const stalled = new Set<IncomingMessage>();
  const server: Server = createServer((req, res) => {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const rule = rules.find((r) => r.times > 0 && r.match(method, url));
    if (rule) {
      rule.times--;
      log.push(`${method} ${url} -> ${rule.fault}`);
      if (rule.fault === 'reset') {
        // Take part of the body, then drop the connection as a flaky network would.
        req.once('data', () => req.socket.destroy());
        req.once('end', () => req.socket.destroy());
        return;
      }
      if (rule.fault === 'stall') {
        stalled.add(req);
        return;
      }
      req.resume();
      res.writeHead(rule.fault === 'status503' ? 503 : 429, {
        'Content-Type': 'application/json',
        'Retry-After': '0',
      });
      res.end('{"errors":[{"code":"UNAVAILABLE","message":"injected fault"}]}');
      return;
    }
    log.push(`${method} ${url} -> forwarded`);
    const upstream = request(
      { host: targetHost, port: Number(targetPort), method, path: url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.once('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    log,
    rules,
    close: () =>
      new Promise((resolve) => {
        for (const req of stalled) req.socket.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

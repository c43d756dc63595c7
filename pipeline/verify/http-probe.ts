import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';

export type HttpProbe =
  | { ok: true; status: number; headers: IncomingHttpHeaders }
  | { ok: false; error: string };

export interface HttpProbeOptions {
  scheme: 'http' | 'https';
  /** The address connected to; DNS is not asked again. */
  ip: string;
  port: number;
  /** The Host header and, over HTTPS, the SNI name. */
  host: string;
  path: string;
  timeoutMs: number;
  signal: AbortSignal;
}

/** The Host header: the port only when it is not the scheme's default. */
export function hostHeader(scheme: 'http' | 'https', host: string, port: number): string {
  return port === (scheme === 'https' ? 443 : 80) ? host : `${host}:${port}`;
}

/**
 * One GET to `ip:port` as a browser would send it for `host` (Host header, SNI), without
 * following a redirect. Certificates are not judged here (the TLS probe does that), so the
 * response of a frontend with a bad certificate is still read.
 */
export function probeHttp(o: HttpProbeOptions): Promise<HttpProbe> {
  return new Promise((resolve) => {
    const request = o.scheme === 'https' ? httpsRequest : httpRequest;
    const req = request({
      host: o.ip,
      port: o.port,
      path: o.path,
      method: 'GET',
      headers: { host: hostHeader(o.scheme, o.host, o.port), 'user-agent': 'sitepipe-verify' },
      agent: false,
      signal: o.signal,
      ...(o.scheme === 'https' ? { servername: o.host, rejectUnauthorized: false } : {}),
    });
    let settled = false;
    const finish = (result: HttpProbe) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(result);
    };
    const timer = setTimeout(
      () => finish({ ok: false, error: `no answer within ${Math.ceil(o.timeoutMs / 1000)}s` }),
      o.timeoutMs,
    );
    req.once('response', (res) => {
      // Only the status and headers count; the body is not read.
      finish({ ok: true, status: res.statusCode ?? 0, headers: res.headers });
      res.destroy();
    });
    req.once('error', (e: Error) =>
      finish({ ok: false, error: o.signal.aborted ? 'interrupted' : e.message }),
    );
    req.end();
  });
}

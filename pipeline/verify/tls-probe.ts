import { checkServerIdentity, connect, type DetailedPeerCertificate } from 'node:tls';

/** The certificate a frontend served, in the terms the checks and the table use. */
export interface ServedCertificate {
  /** Upper-case hex, as openssl prints it. */
  serial: string;
  /** ISO times. */
  validFrom: string;
  validTo: string;
  fingerprint256: string;
  subject: string;
  issuer: string;
  /** subjectAltName entries, e.g. DNS:www.example.com. */
  altNames: string[];
}

export type TlsProbe =
  | {
      ok: true;
      certificate: ServedCertificate;
      /** OpenSSL's verdict on the chain against the trusted roots (CERT_HAS_EXPIRED, …); null when valid. */
      chainError: string | null;
      /** Why the certificate does not cover the host; null when it does. */
      identityError: string | null;
    }
  | { ok: false; error: string };

export interface TlsProbeOptions {
  ip: string;
  port: number;
  /** Sent as SNI; the certificate must cover it. */
  host: string;
  /** PEM CAs to trust instead of Node's roots. */
  ca?: string | undefined;
  timeoutMs: number;
  signal: AbortSignal;
}

function describe(cert: DetailedPeerCertificate): ServedCertificate {
  const cn = (name: { CN?: string | string[] } | undefined) => [name?.CN ?? ''].flat().join(', ');
  return {
    serial: cert.serialNumber.toUpperCase(),
    validFrom: new Date(cert.valid_from).toISOString(),
    validTo: new Date(cert.valid_to).toISOString(),
    fingerprint256: cert.fingerprint256,
    subject: cn(cert.subject),
    issuer: cn(cert.issuer),
    altNames: (cert.subjectaltname ?? '').split(', ').filter(Boolean),
  };
}

/**
 * One TLS handshake with `ip:port`, SNI `host`: the certificate it serves and whether its chain
 * and names are valid. The handshake is completed whatever the verdict (rejectUnauthorized off),
 * so a bad certificate is reported with what it is, not only that it is bad.
 */
export function probeTls(o: TlsProbeOptions): Promise<TlsProbe> {
  return new Promise((resolve) => {
    const socket = connect({
      host: o.ip,
      port: o.port,
      servername: o.host,
      ...(o.ca ? { ca: o.ca } : {}),
      rejectUnauthorized: false,
    });
    const finish = (result: TlsProbe) => {
      clearTimeout(timer);
      o.signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(result);
    };
    const onAbort = () => finish({ ok: false, error: 'interrupted' });
    const timer = setTimeout(
      () => finish({ ok: false, error: `no TLS handshake within ${Math.ceil(o.timeoutMs / 1000)}s` }),
      o.timeoutMs,
    );
    o.signal.addEventListener('abort', onAbort, { once: true });
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate(true);
      if (!cert?.raw) {
        finish({ ok: false, error: 'the server sent no certificate' });
        return;
      }
      const identity = checkServerIdentity(o.host, cert);
      const chainError = socket.authorized ? null : String(socket.authorizationError ?? 'UNKNOWN');
      finish({
        ok: true,
        certificate: describe(cert),
        chainError,
        identityError: identity ? identity.message : null,
      });
    });
    socket.once('error', (e: Error) => finish({ ok: false, error: e.message }));
  });
}

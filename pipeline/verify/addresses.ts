import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

export type Family = 'IPv4' | 'IPv6';

/** An address to connect to; `port` set only when the address named one (127.0.0.1:8443). */
export interface Address {
  ip: string;
  port?: number;
}

/** One frontend of one host, as checked: the HTTPS port is always known here. */
export interface Target {
  host: string;
  ip: string;
  family: Family;
  httpsPort: number;
  httpPort: number;
}

/** `203.0.113.7`, `2001:db8::7`, `127.0.0.1:8443` or `[::1]:8443`; null when it is none of these. */
export function parseAddress(text: string): Address | null {
  if (isIP(text)) return { ip: text };
  const m =
    /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(text) ?? /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(text);
  if (!m?.[1] || !m[2]) return null;
  const port = Number(m[2]);
  if (!isIP(m[1]) || port < 1 || port > 65535) return null;
  return { ip: m[1], port };
}

export function familyOf(ip: string): Family {
  return isIP(ip) === 6 ? 'IPv6' : 'IPv4';
}

/** How an address is written with a port: 127.0.0.1:443, [::1]:443. */
export function formatAddress(ip: string, port: number): string {
  return isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Rejects after `ms` with a message naming what took too long. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${Math.ceil(ms / 1000)}s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Every address `host` resolves to, A and AAAA, through the system resolver (getaddrinfo: what a
 * browser on this machine gets, /etc/hosts included). IPv4 first, each family in DNS order.
 */
export async function resolveHost(host: string, timeoutMs: number): Promise<string[]> {
  const found = await withTimeout(lookup(host, { all: true, family: 0 }), timeoutMs, `resolving ${host}`);
  const ips = [...new Set(found.map((a) => a.address))];
  return [...ips.filter((ip) => isIP(ip) === 4), ...ips.filter((ip) => isIP(ip) === 6)];
}

import type { HostConfig } from '../kube/config.js';
import type { HostLayout } from './layout.js';

/** One server of a host target, as ssh and rsync are told to reach it. */
export interface Server {
  /** user@host[:port] as configured: names the server in every message. */
  name: string;
  /** user@host, as ssh takes it (an IPv6 address without brackets). */
  destination: string;
  /** The host name or address alone: where its HTTPS is checked too. */
  address: string;
  port: number | null;
  /** ssh's options before the destination: port, identity, known_hosts, strict host keys. */
  sshOptions: string[];
  layout: HostLayout;
}

/** Parses `user@host[:port]`; a bracketed IPv6 address keeps its colons. */
export function parseSsh(ssh: string): { user: string | null; host: string; port: number | null } {
  const m = /^(?:([^@]+)@)?(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(ssh);
  if (!m) throw new Error(`not user@host[:port]: ${ssh}`);
  const host = (m[2] as string).replace(/^\[|\]$/g, '');
  return { user: m[1] ?? null, host, port: m[3] ? Number(m[3]) : null };
}

/**
 * ssh's options for a server. BatchMode: never prompt (a CI run has no one to answer).
 * StrictHostKeyChecking=yes: a host key not in known_hosts, or a changed one, is refused, never
 * accepted blindly. Everything else (agent, ~/.ssh/config, ProxyJump) is the user's own ssh.
 */
export function serverOf(entry: HostConfig['servers'][number], layout: HostLayout): Server {
  const { user, host, port } = parseSsh(entry.ssh);
  const sshOptions = ['-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', 'ConnectTimeout=10'];
  if (port !== null) sshOptions.push('-p', String(port));
  if (entry.identityFile) sshOptions.push('-i', entry.identityFile, '-o', 'IdentitiesOnly=yes');
  if (entry.knownHostsFile) sshOptions.push('-o', `UserKnownHostsFile=${entry.knownHostsFile}`);
  return {
    name: entry.ssh,
    destination: user ? `${user}@${host}` : host,
    address: host,
    port,
    sshOptions,
    layout,
  };
}

/** A word for a POSIX shell, quoted so that it stays one word whatever it holds. */
export function shq(word: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** rsync's -e: the ssh command line with the server's options (rsync splits it on spaces, honouring quotes). */
export function rsyncShell(server: Server): string {
  return ['ssh', ...server.sshOptions].map(shq).join(' ');
}

/** rsync's remote path: host:path, with an IPv6 address in brackets. */
export function rsyncRemote(server: Server, path: string): string {
  const at = server.destination.lastIndexOf('@');
  const user = at >= 0 ? server.destination.slice(0, at + 1) : '';
  const host = server.destination.slice(at + 1);
  return `${user}${host.includes(':') ? `[${host}]` : host}:${path}`;
}

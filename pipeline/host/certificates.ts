import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { SitepipeError } from '../errors.js';
import type { RunContext } from '../step.js';
import { probeTls } from '../verify/tls-probe.js';
import type { HostDeploy } from './layout.js';
import type { Server } from './servers.js';

async function trustedCa(ctx: RunContext): Promise<string | undefined> {
  const file = ctx.config.verify.caFile;
  if (!file) return undefined;
  return readFile(resolve(dirname(ctx.configPath), file), 'utf8');
}

/** Why a probe's certificate does not count yet, or null when it is valid for the domain. */
async function problem(
  ctx: RunContext,
  hd: HostDeploy,
  server: Server,
  domain: string,
  ca: string | undefined,
): Promise<string | null> {
  const probe = await probeTls({
    ip: server.address,
    port: hd.host.caddy.httpsPort,
    host: domain,
    ca,
    timeoutMs: ctx.config.verify.timeoutSeconds * 1000,
    signal: ctx.signal,
  });
  if (!probe.ok) return probe.error;
  return probe.chainError ?? probe.identityError;
}

/**
 * Waits until every server presents a valid certificate for every domain: Caddy gets them by
 * ACME in the background after a reload, so a domain it cannot get one for (DNS elsewhere,
 * port 80 closed, the CA refusing) would otherwise go unnoticed until a visitor sees it.
 * Connects to each server's SSH address on deploy.host.caddy.httpsPort.
 */
export async function waitForCertificates(ctx: RunContext, hd: HostDeploy): Promise<void> {
  const timeoutMs = hd.host.certificateTimeoutSeconds * 1000;
  if (timeoutMs === 0) return;
  const ca = await trustedCa(ctx);
  const deadline = Date.now() + timeoutMs;
  const pending = hd.servers.flatMap((server) =>
    hd.deploy.hosts.map((domain) => ({ server, domain, why: '' })),
  );
  let open = pending;
  for (;;) {
    ctx.signal.throwIfAborted();
    const checked = await Promise.all(
      open.map(async (p) => ({ ...p, why: await problem(ctx, hd, p.server, p.domain, ca) })),
    );
    open = checked.filter((p): p is typeof p & { why: string } => p.why !== null);
    if (open.length === 0) return;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new SitepipeError(
    'HOST_CERTIFICATE_MISSING',
    `Caddy has no valid certificate for ${[...new Set(open.map((p) => p.domain))].join(', ')} after ${hd.host.certificateTimeoutSeconds}s; the sites it has certificates for serve as before`,
    "the domain's A/AAAA records must point at the server and ports 80 and 443 be open to the CA; Caddy's log says what the CA answered (journalctl -u caddy)",
    open.map((p) => `${p.server.name} ${p.domain}: ${p.why}`),
  );
}

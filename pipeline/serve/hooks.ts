import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from './body.js';
import type { GroupCommit } from './group-commit.js';
import type { DeliveryMetricOutcome, ServeMetrics } from './metrics.js';
import { isMalformed, PROVIDERS, type ProviderName } from './providers.js';
import type { Redactor } from './secrets.js';
import type { Store } from './store.js';

export interface HookOptions {
  store: Store;
  /** Where the delivery's rows are written: committed, with others arriving together, before the answer. */
  commit: GroupCommit;
  metrics: ServeMetrics;
  redactor: Redactor;
  secret: string;
  maxBodyBytes: number;
  bodyTimeoutMs: number;
  builds: (branch: string) => boolean;
  runUrl: (id: number) => string;
  /** A push was queued: start what can start. */
  queued: () => void;
  /** A branch was deleted (its queued runs are cancelled already). */
  deleted: (branch: string) => void;
  log: (line: string) => void;
}

/** What git accepts as a branch name, and nothing that a command line could read as an option. */
function validBranch(name: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  const forbidden = /[\x00-\x20\x7f~^:?*[\\]|\.\.|\/\/|@\{/;
  return !name.startsWith('-') && !forbidden.test(name) && !/(^|\/)\.|[./]$|\.lock$/.test(name);
}

function json(res: ServerResponse, status: number, body: Record<string, unknown>, close = false): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(`${JSON.stringify(body)}\n`);
}

/**
 * POST /hooks/<provider>. Every check that can refuse a delivery runs before anything is
 * stored or parsed: size, then the signature on the raw bytes, then JSON. A delivery is
 * committed to SQLite before its 202 is written.
 */
export async function handleHook(
  name: ProviderName,
  req: IncomingMessage,
  res: ServerResponse,
  o: HookOptions,
): Promise<void> {
  const provider = PROVIDERS[name];
  const count = (outcome: DeliveryMetricOutcome) => o.metrics.deliveries.inc({ provider: name, outcome });
  const read = await readBody(req, o.maxBodyBytes, o.bodyTimeoutMs);
  if (!read.ok) {
    if (read.why === 'aborted') return;
    count(read.why);
    json(
      res,
      read.why === 'too_large' ? 413 : 408,
      { error: read.why === 'too_large' ? `the body is over ${o.maxBodyBytes} bytes` : 'the body stalled' },
      true,
    );
    // Let the answer reach the client, then drop whatever it still sends.
    res.on('finish', () => setTimeout(() => req.socket.destroy(), 1000).unref());
    req.resume();
    return;
  }
  if (!(await provider.verify(o.secret, read.body, req.headers))) {
    count('unauthorized');
    return json(res, 401, { error: 'missing or wrong signature' });
  }
  let payload: unknown;
  try {
    payload = JSON.parse(read.body.toString('utf8'));
  } catch {
    count('malformed');
    return json(res, 400, { error: 'the body is not JSON' });
  }
  const deliveryId = provider.deliveryId(req.headers);
  if (!deliveryId || deliveryId.length > 200) {
    count('malformed');
    return json(res, 400, { error: 'no delivery id header' });
  }
  let event: ReturnType<typeof provider.parse>;
  try {
    event = provider.parse(req.headers, payload);
  } catch (e) {
    if (!isMalformed(e)) throw e;
    count('malformed');
    return json(res, 400, { error: `not a push payload: ${e.message}` });
  }
  if (event.kind === 'push' && event.branch !== null && !validBranch(event.branch)) {
    count('malformed');
    return json(res, 400, { error: 'not a valid branch name' });
  }
  const duplicate = () => {
    count('duplicate');
    json(res, 200, { status: 'duplicate', delivery: deliveryId });
  };
  if (o.store.hasDelivery(name, deliveryId)) return duplicate();
  /** Writes the delivery's rows; false when the same id was stored since the check above. */
  const record = (write: () => void) =>
    o.commit.run(() => {
      if (o.store.hasDelivery(name, deliveryId)) return false;
      write();
      return true;
    });
  if (event.kind === 'ping') {
    if (!(await record(() => o.store.recordDelivery({ provider: name, deliveryId }, 'ping', 'ping'))))
      return duplicate();
    count('ping');
    return json(res, 200, { status: 'pong' });
  }
  if (event.kind === 'other' || event.branch === null) {
    count('other');
    res.writeHead(204).end();
    return;
  }
  const { branch, commit } = event;
  if (event.deleted) {
    const write = () =>
      o.store.recordDelivery({ provider: name, deliveryId, branch, commit: null }, 'push', 'deleted');
    if (!(await record(write))) return duplicate();
    count('deleted');
    o.log(`delivery ${deliveryId}: ${branch} was deleted`);
    o.deleted(branch);
    return json(res, 202, { status: 'deleted', branch });
  }
  if (!o.builds(branch)) {
    const write = () =>
      o.store.recordDelivery({ provider: name, deliveryId, branch, commit }, 'push', 'ignored');
    if (!(await record(write))) return duplicate();
    count('ignored');
    return json(res, 202, { status: 'ignored', branch, reason: 'serve.branches does not build this branch' });
  }
  let run = 0;
  const write = () => {
    run = o.store.acceptPush({
      provider: name,
      deliveryId,
      branch,
      commit,
      message: o.redactor.redact(event.message).slice(0, 4000),
      repository: event.repository,
    });
  };
  if (!(await record(write))) return duplicate();
  count('queued');
  json(res, 202, { status: 'queued', run, url: o.runUrl(run) });
  o.queued();
}

import { type Address, familyOf, type Target } from './addresses.js';
import { judge, type Probed, type ReleaseExpectation, type Result, type Unresolved } from './checks.js';
import { probeHttp } from './http-probe.js';
import { probeTls } from './tls-probe.js';
import { type Clock, untilPassed } from './wait.js';

/**
 * What plain HTTP is asked for: a path and a query the redirect must both keep, and which no
 * load balancer exempts from redirecting (as some do /.well-known/).
 */
export const REDIRECT_PROBE_PATH = '/sitepipe-verify?redirect=1';

/** Everything one check of the edge needs, settled before the first connection. */
export interface EdgePlan {
  hosts: readonly string[];
  /** A host's addresses, asked again every round (DNS and load balancers change while we wait). */
  addressesOf: (host: string, budgetMs: number) => Promise<Address[]>;
  httpsPort: number;
  httpPort: number;
  /** The page fetched over HTTPS for the release header and HSTS. */
  path: string;
  /** Plain HTTP must redirect to HTTPS. */
  redirect: boolean;
  /** PEM CAs to trust instead of Node's roots. */
  ca?: string | undefined;
  minDays: number;
  release: ReleaseExpectation;
  /** The longest one connection may take. */
  timeoutMs: number;
}

export interface EdgeReport extends Result {
  attempts: number;
  /** The wait ran out while a check still failed. */
  timedOut: boolean;
  /** ISO time of the round reported. */
  checkedAt: string;
}

async function probe(plan: EdgePlan, target: Target, budgetMs: number, signal: AbortSignal): Promise<Probed> {
  const common = { ip: target.ip, host: target.host, timeoutMs: budgetMs, signal };
  const [tls, https, http] = await Promise.all([
    probeTls({ ...common, port: target.httpsPort, ca: plan.ca }),
    probeHttp({ ...common, scheme: 'https', port: target.httpsPort, path: plan.path }),
    plan.redirect
      ? probeHttp({ ...common, scheme: 'http', port: target.httpPort, path: REDIRECT_PROBE_PATH })
      : Promise.resolve(null),
  ]);
  return { target, tls, https, http };
}

/** One round: every address of every host, probed at the same time, then judged together. */
export async function checkEdgeOnce(
  plan: EdgePlan,
  budgetMs: number,
  signal: AbortSignal,
  now: () => Date = () => new Date(),
): Promise<Result> {
  const unresolved: Unresolved[] = [];
  const perHost = await Promise.all(
    plan.hosts.map(async (host): Promise<Target[]> => {
      try {
        const addresses = await plan.addressesOf(host, budgetMs);
        if (addresses.length === 0) unresolved.push({ host, error: 'has no address to check' });
        return addresses.map((a) => ({
          host,
          ip: a.ip,
          family: familyOf(a.ip),
          httpsPort: a.port ?? plan.httpsPort,
          httpPort: plan.httpPort,
        }));
      } catch (e) {
        unresolved.push({ host, error: `no addresses: ${(e as Error).message}` });
        return [];
      }
    }),
  );
  const probed = await Promise.all(perHost.flat().map((t) => probe(plan, t, budgetMs, signal)));
  signal.throwIfAborted();
  return judge(probed, unresolved, {
    minDays: plan.minDays,
    release: plan.release,
    path: plan.path,
    redirectPath: REDIRECT_PROBE_PATH,
    now: now(),
  });
}

export interface VerifyOptions {
  /** Poll this long for every check to pass; 0 checks once. */
  waitMs: number;
  signal: AbortSignal;
  clock?: Clock;
  onRetry?: (result: Result, attempt: number, nextInMs: number) => void;
}

/** Checks the edge until every check passes or the wait is over; the last round is the report. */
export async function verifyEdge(plan: EdgePlan, o: VerifyOptions): Promise<EdgeReport> {
  const now = () => new Date(o.clock?.now() ?? Date.now());
  let checkedAt = now();
  const { result, attempts, timedOut } = await untilPassed({
    attempt: (budgetMs) => {
      checkedAt = now();
      return checkEdgeOnce(plan, budgetMs, o.signal);
    },
    passed: (r) => r.ok,
    waitMs: o.waitMs,
    timeoutMs: plan.timeoutMs,
    signal: o.signal,
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.onRetry ? { onRetry: o.onRetry } : {}),
  });
  return { ...result, attempts, timedOut, checkedAt: checkedAt.toISOString() };
}

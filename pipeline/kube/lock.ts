import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { type V1Lease, V1MicroTime } from '@kubernetes/client-node';
import { isConflict, isNotFound, type Kube, kubeError } from '../clients/kube.js';
import { SitepipeError } from '../errors.js';

export interface LockOptions {
  namespace: string;
  /** The Deployment the lock guards; the Lease is named after it. */
  name: string;
  /** How long to wait for another deploy to finish before giving up. */
  waitMs: number;
  signal: AbortSignal;
  log(message: string): void;
}

/** A holder that stops renewing (a killed run) loses the lock after this long. */
const LEASE_SECONDS = 60;
const RENEW_MS = 15_000;
const POLL_MS = 1_000;

export function leaseName(name: string): string {
  return `${name}-sitepipe-deploy`;
}

/** Unique per acquisition, so that even two deploys in one process exclude each other. */
export function holderIdentity(): string {
  return `sitepipe@${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;
}

function expired(lease: V1Lease, now: number): boolean {
  const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : 0;
  return renewed + (lease.spec?.leaseDurationSeconds ?? LEASE_SECONDS) * 1000 < now;
}

/**
 * Runs `fn` holding a coordination.k8s.io Lease, so two deploys of one Deployment never
 * interleave: the second waits (up to waitMs) and then fails clearly. The Lease is renewed
 * while `fn` runs and released after; a crashed holder's Lease expires.
 */
export async function withDeployLock<T>(kube: Kube, opts: LockOptions, fn: () => Promise<T>): Promise<T> {
  const me = holderIdentity();
  const name = leaseName(opts.name);
  const { namespace } = opts;
  const deadline = Date.now() + opts.waitMs;
  let announced = '';
  const spec = () => ({
    holderIdentity: me,
    leaseDurationSeconds: LEASE_SECONDS,
    acquireTime: new V1MicroTime(),
    renewTime: new V1MicroTime(),
  });
  for (;;) {
    opts.signal.throwIfAborted();
    try {
      const lease = await kube.coordination.readNamespacedLease({ name, namespace }).catch((e) => {
        if (isNotFound(e)) return null;
        throw e;
      });
      if (!lease) {
        await kube.coordination.createNamespacedLease({
          namespace,
          body: { metadata: { name, namespace }, spec: spec() },
        });
        break;
      }
      const holder = lease.spec?.holderIdentity ?? '';
      if (!holder || holder === me || expired(lease, Date.now())) {
        await kube.coordination.replaceNamespacedLease({ name, namespace, body: { ...lease, spec: spec() } });
        break;
      }
      if (Date.now() > deadline) {
        throw new SitepipeError(
          'DEPLOY_LOCKED',
          `another deploy of ${namespace}/${opts.name} holds the lock: ${holder}`,
          `wait for it to finish, or if it died, for its lease to expire (${LEASE_SECONDS}s); kubectl -n ${namespace} get lease ${name}`,
        );
      }
      if (announced !== holder) opts.log(`waiting for ${holder} to finish deploying`);
      announced = holder;
    } catch (e) {
      // Lost a race to create or take the lease: look again.
      if (!isConflict(e)) throw kubeError(e, `take the deploy lock ${namespace}/${name}`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  const renew = setInterval(async () => {
    const lease = await kube.coordination.readNamespacedLease({ name, namespace }).catch(() => null);
    if (lease?.spec?.holderIdentity !== me) return;
    const body = { ...lease, spec: { ...lease.spec, renewTime: new V1MicroTime() } };
    await kube.coordination.replaceNamespacedLease({ name, namespace, body }).catch(() => undefined);
  }, RENEW_MS);
  renew.unref();
  try {
    return await fn();
  } finally {
    clearInterval(renew);
    const lease = await kube.coordination.readNamespacedLease({ name, namespace }).catch(() => null);
    if (lease?.spec?.holderIdentity === me) {
      await kube.coordination.deleteNamespacedLease({ name, namespace }).catch(() => undefined);
    }
  }
}

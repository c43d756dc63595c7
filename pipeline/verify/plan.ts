import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Config } from '../config.js';
import { SitepipeError } from '../errors.js';
import { type Address, parseAddress, resolveHost } from './addresses.js';
import type { ReleaseExpectation } from './checks.js';
import type { EdgePlan } from './edge.js';
import { frontendAddresses } from './frontend-addresses.js';

/** The hosts to check: verify.hosts, else deploy.hosts; none means there is nothing to verify. */
export function verifyHosts(config: Config): string[] {
  return [...(config.verify.hosts ?? config.deploy?.hosts ?? [])];
}

async function readCa(config: Config, configPath: string): Promise<string | undefined> {
  if (!config.verify.caFile) return undefined;
  const path = resolve(dirname(configPath), config.verify.caFile);
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new SitepipeError(
      'VERIFY_CA_UNREADABLE',
      `cannot read verify.caFile ${path}: ${(e as Error).message}`,
      'point verify.caFile at a PEM file of the CA certificates to trust (relative to the config file)',
    );
  }
}

/** Where a host's addresses come from: verify.addresses, else DNS or the frontends' status. */
function addressSource(config: Config, env: NodeJS.ProcessEnv): EdgePlan['addressesOf'] {
  const fixed = config.verify.addresses;
  if (fixed) {
    const parsed = fixed.map((a) => parseAddress(a)).filter((a): a is Address => a !== null);
    return async () => parsed;
  }
  if (config.verify.addressSource === 'frontends')
    return (_host, budgetMs) => frontendAddresses(config, env, budgetMs);
  return async (host, budgetMs) => (await resolveHost(host, budgetMs)).map((ip) => ({ ip }));
}

/** The plan for checking the config's hosts against `release`. */
export async function edgePlan(
  config: Config,
  configPath: string,
  release: ReleaseExpectation,
  env: NodeJS.ProcessEnv,
): Promise<EdgePlan> {
  const hosts = verifyHosts(config);
  if (hosts.length === 0) {
    throw new SitepipeError(
      'VERIFY_NO_HOSTS',
      'the config names no hosts to verify',
      'list them in deploy.hosts or verify.hosts, e.g. verify: { hosts: [www.example.com] }',
    );
  }
  const v = config.verify;
  return {
    hosts,
    addressesOf: addressSource(config, env),
    httpsPort: v.httpsPort,
    httpPort: v.httpPort,
    path: v.path,
    redirect: v.httpRedirect ?? config.deploy?.frontends.httpsRedirect ?? true,
    ca: await readCa(config, configPath),
    minDays: v.minDays,
    release,
    timeoutMs: v.timeoutSeconds * 1000,
  };
}

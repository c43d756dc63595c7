import { type Credentials, resolveCredentials } from './clients/credentials.js';
import { RegistryClient } from './clients/registry.js';
import type { RunContext } from './step.js';

export interface RegistryAccess {
  client: RegistryClient;
  creds: Credentials | null;
}

/** A registry client with the run's credentials for `registry`; the password is redacted from output. */
export async function openRegistry(ctx: RunContext, registry: string): Promise<RegistryAccess> {
  const creds = await resolveCredentials(ctx.config, registry, ctx.env, ctx.signal);
  if (creds) ctx.log.secret(creds.password);
  const idleMs = ctx.config.registry.timeoutSeconds * 1000;
  return { client: new RegistryClient(registry, creds, ctx.signal, idleMs), creds };
}

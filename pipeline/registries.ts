import { type Credentials, resolveCredentials } from './clients/credentials.js';
import { RegistryClient } from './clients/registry.js';
import type { Config } from './config.js';
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
  const hooks = { onSecret: (v: string) => ctx.log.secret(v), authHint: authHint(ctx.config) };
  return { client: new RegistryClient(registry, creds, ctx.signal, idleMs, hooks), creds };
}

/** Where to look when the registry refuses the credentials, after registry.credentials. */
export function authHint(config: Config): string {
  const { registry } = config;
  if (registry.credentials === 'env') {
    return `check $${registry.usernameEnv} and $${registry.passwordEnv} (registry.usernameEnv, registry.passwordEnv; registry.credentials is env)`;
  }
  return `check the credentials for this registry in ${registry.dockerConfig ?? '~/.docker/config.json'} (docker login, or gcloud auth configure-docker; registry.credentials is docker-config)`;
}

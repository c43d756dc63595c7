import type { Config } from './config.js';

/** Variables of sitepipe's own whose names say they hold a credential. */
const SECRET_NAME = /^SITEPIPE_.*(PASSWORD|SECRET|TOKEN)/i;

/**
 * The environment changes that keep sitepipe's credentials from Hugo: every name is mapped to
 * undefined, which removes it from the child's inherited environment. A template's `getenv`
 * could otherwise put the registry password into the public site.
 */
export function withoutSecrets(config: Config, ...envs: NodeJS.ProcessEnv[]): Record<string, undefined> {
  const { registry, serve } = config;
  const configured = [registry.usernameEnv, registry.passwordEnv, serve?.secretEnv, serve?.tokenEnv];
  if (serve?.github.statuses) configured.push(serve.github.tokenEnv);
  const named = envs.flatMap((env) => Object.keys(env).filter((k) => SECRET_NAME.test(k)));
  const names = [...configured, ...named].filter((n): n is string => Boolean(n));
  return Object.fromEntries(names.map((n) => [n, undefined]));
}

import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { SitepipeError } from '../errors.js';
import { runProcess } from '../process.js';

export interface Credentials {
  username: string;
  password: string;
}

/** The subset of ~/.docker/config.json that holds credentials. */
interface DockerConfigFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

const HELPER_TIMEOUT_MS = 30_000;

/** "https://gcr.io/v1/" and "gcr.io" name the same registry. */
export function normalizeRegistryKey(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '');
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host;
}

export function dockerConfigPath(cfg: Config, env: NodeJS.ProcessEnv): string {
  if (cfg.registry.dockerConfig) return cfg.registry.dockerConfig.replace(/^~(?=\/)/, env.HOME || homedir());
  return join(env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker'), 'config.json');
}

async function readDockerConfig(path: string): Promise<DockerConfigFile | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    return JSON.parse(text) as DockerConfigFile;
  } catch {
    throw new SitepipeError('DOCKER_CONFIG_INVALID', `${path} is not valid JSON`, 'fix or remove the file');
  }
}

/** Runs docker-credential-<helper> get, the protocol Docker's own client speaks. */
async function fromHelper(
  helper: string,
  registry: string,
  env: NodeJS.ProcessEnv,
  signal?: AbortSignal,
): Promise<Credentials | null> {
  const program = `docker-credential-${helper}`;
  const serverUrls =
    registry === 'docker.io' ? ['https://index.docker.io/v1/'] : [registry, `https://${registry}`];
  for (const url of serverUrls) {
    let stdout: string;
    try {
      ({ stdout } = await runProcess(program, ['get'], {
        input: url,
        env,
        signal,
        timeoutMs: HELPER_TIMEOUT_MS,
        code: 'CREDENTIAL_HELPER_FAILED',
        hint: `check that ${program} is installed and logged in (e.g. gcloud auth login)`,
      }));
    } catch (e) {
      // Helpers answer "credentials not found in native keychain" with exit 1.
      if (e instanceof SitepipeError && e.details.some((d) => /not found/i.test(d))) continue;
      throw e;
    }
    const parsed = JSON.parse(stdout) as { Username?: string; Secret?: string };
    if (parsed.Secret) return { username: parsed.Username ?? '', password: parsed.Secret };
  }
  return null;
}

function fromAuths(file: DockerConfigFile, registry: string): Credentials | null {
  for (const [key, entry] of Object.entries(file.auths ?? {})) {
    if (normalizeRegistryKey(key) !== registry) continue;
    if (entry.identitytoken) return { username: '<token>', password: entry.identitytoken };
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    if (entry.username && entry.password) return { username: entry.username, password: entry.password };
  }
  return null;
}

/**
 * Finds credentials for a registry the way the Docker CLI does: a credHelpers entry for
 * that registry, else the credsStore, else an inline auths entry. null means anonymous.
 */
export async function resolveCredentials(
  cfg: Config,
  registry: string,
  env: NodeJS.ProcessEnv,
  signal?: AbortSignal,
): Promise<Credentials | null> {
  const source = cfg.registry.credentials;
  if (source === 'none') return null;
  if (source === 'env') {
    const username = env[cfg.registry.usernameEnv];
    const password = env[cfg.registry.passwordEnv];
    if (!username || !password) {
      throw new SitepipeError(
        'CREDENTIALS_MISSING',
        `registry.credentials is env, but ${cfg.registry.usernameEnv} or ${cfg.registry.passwordEnv} is not set`,
        'export both variables, or set registry.credentials to docker-config or none',
      );
    }
    return { username, password };
  }
  const path = dockerConfigPath(cfg, env);
  const file = await readDockerConfig(path);
  if (!file) return null;
  const helper = Object.entries(file.credHelpers ?? {}).find(
    ([k]) => normalizeRegistryKey(k) === registry,
  )?.[1];
  if (helper) return fromHelper(helper, registry, env, signal);
  const inline = fromAuths(file, registry);
  if (inline) return inline;
  if (file.credsStore) return fromHelper(file.credsStore, registry, env, signal);
  return null;
}

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SitepipeError } from '../errors.js';

/** A secret from an env var, else a file (trailing newline dropped); null when neither is set. */
export function readSecret(
  env: NodeJS.ProcessEnv,
  envName: string,
  file: string | undefined,
  baseDir: string,
): string | null {
  const fromEnv = env[envName];
  if (fromEnv) return fromEnv;
  if (!file) return null;
  const path = resolve(baseDir, file);
  try {
    const value = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
    return value || null;
  } catch (e) {
    throw new SitepipeError(
      'SERVE_SECRET_UNREADABLE',
      `cannot read the secret file ${path}: ${(e as Error).message}`,
      'check the path and that the file is readable by the sitepipe user',
    );
  }
}

/** Secrets shorter than this would be weak HMAC keys and would redact ordinary text. */
export const MIN_SECRET_LENGTH = 16;

/** Replaces every known secret in text: logs, pages, metrics and DB rows pass through one of these. */
export class Redactor {
  private readonly secrets = new Set<string>();

  add(value: string | null | undefined): void {
    if (value && value.length >= 4) this.secrets.add(value);
  }

  redact(text: string): string {
    let result = text;
    for (const s of this.secrets) result = result.split(s).join('***');
    return result;
  }
}

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../pipeline/paths.js';

export const WEBHOOK_SECRET = 'whsec-test-5e9c1f0a7b3d4e2f8a6c';

const configDirs: string[] = [];

/** Removes every dir serveConfig made (configs, databases, mirrors, state dirs, logs). */
export async function removeServeConfigs(): Promise<void> {
  await Promise.all(configDirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

/** A config file holding only what `sitepipe serve` needs (the schema's required keys, and serve:). */
export async function serveConfig(remote: string, serveKeys: Record<string, unknown> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sitepipe-serve-'));
  configDirs.push(dir);
  const serve = { listen: '127.0.0.1:0', remote, ...serveKeys };
  const yaml = [
    'version: 1',
    'hugo: { version: 0.111.3 }',
    'image: { repository: 127.0.0.1:5000/unused }',
    `serve: ${JSON.stringify(serve)}`,
    '',
  ].join('\n');
  const file = join(dir, 'serve.yaml');
  await writeFile(file, yaml);
  return file;
}

export interface ServeProcess {
  url: string;
  child: ChildProcess;
  output(): string;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * `sitepipe serve` as its own process: a tiny entry of registerServe run through tsx, or the
 * compiled command in dist/ (`npm run build` first).
 */
export function startServe(
  config: string,
  env: NodeJS.ProcessEnv = {},
  from: 'source' | 'dist' = 'source',
): Promise<ServeProcess> {
  const root = packageRoot();
  const dist = `import(${JSON.stringify(join(root, 'dist/pipeline/commands/serve.js'))}).then(async (m) => process.exit(await m.serveCommand({ config: process.argv[1] })))`;
  const args =
    from === 'source'
      ? ['--import', 'tsx', join(root, 'test/helpers/serve-main.ts'), 'serve', '--config', config]
      : ['--input-type=module', '-e', dist, config];
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, SITEPIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    text += chunk.toString();
    for (const w of waiters) w();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      resolve({ code, signal });
      for (const w of waiters) w();
    }),
  );
  const waitFor = (pattern: RegExp, timeoutMs = 60_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(text);
        if (match) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(match[1] ?? match[0]);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          waiters.delete(check);
          clearTimeout(timer);
          reject(new Error(`sitepipe serve exited before ${pattern}:\n${text}`));
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${text}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  return waitFor(/listening on (http:\/\/\S+)/).then((url) => ({
    url,
    child,
    output: () => text,
    waitFor,
    exited,
  }));
}

import { Command } from 'commander';
import { vi } from 'vitest';
import { registerVerify } from '../../pipeline/commands/verify.js';

/**
 * `sitepipe verify ARGS` as the CLI registers it, in this process: what it writes to stdout and
 * stderr, and the exit code it sets. `env` is added to process.env for the run.
 */
export async function sitepipeVerify(
  args: string[],
  opts: { env?: Record<string, string>; onOutput?: (text: string) => void } = {},
): Promise<{ code: number; text: string }> {
  const chunks: string[] = [];
  const capture = (chunk: unknown) => {
    const text = String(chunk);
    chunks.push(text);
    opts.onOutput?.(text);
    return true;
  };
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  const saved = Object.fromEntries(Object.keys(opts.env ?? {}).map((k) => [k, process.env[k]]));
  Object.assign(process.env, opts.env);
  const exitCode = process.exitCode;
  try {
    const program = new Command().exitOverride();
    registerVerify(program);
    await program.parseAsync(['verify', ...args], { from: 'user' });
    return { code: Number(process.exitCode ?? 0), text: chunks.join('') };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
    process.exitCode = exitCode;
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

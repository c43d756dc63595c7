import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../pipeline/paths.js';

const CLI = join(packageRoot(), 'dist', 'pipeline', 'cli.js');

/** The built CLI, in a directory with no sitepipe.yaml. */
function sitepipe(...args: string[]) {
  return execa('node', [CLI, ...args], { cwd: tmpdir(), reject: false, env: { CI: 'true' } });
}

/** Runs the CLI with a stdout whose reader has gone away before it writes (`sitepipe … | head -0`). */
function withClosedStdout(...args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn('node', [CLI, ...args], { cwd: tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d;
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

describe('the command line (built CLI)', () => {
  it('--version prints the version in package.json', async () => {
    const { version } = JSON.parse(await readFile(join(packageRoot(), 'package.json'), 'utf8'));
    for (const flag of ['--version', '-V']) {
      const run = await sitepipe(flag);
      expect(run.exitCode).toBe(0);
      expect(run.stdout).toBe(version);
    }
  });

  it('help <command> [<subcommand>] prints that command’s help', async () => {
    const nested = await sitepipe('help', 'cloudbuild', 'local');
    expect(nested.exitCode).toBe(0);
    expect(nested.stdout).toMatch(/^Usage: sitepipe cloudbuild local \[options\] \[file\]/);
    expect(nested.stdout).toContain('--substitutions');
    expect((await sitepipe('help', 'run')).stdout).toMatch(/^Usage: sitepipe run /);
    expect((await sitepipe('help')).stdout).toMatch(/^Usage: sitepipe \[options\] \[command\]/);
  });

  it('a command that does not exist is a usage error, with --help too', async () => {
    for (const args of [['nosuch'], ['nosuch', '--help'], ['help', 'nosuch']]) {
      const run = await sitepipe(...args);
      expect(run.exitCode, args.join(' ')).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(
        /^error\[USAGE\]: there is no command `sitepipe nosuch`\n {2}hint: .*run, steps/,
      );
    }
    for (const args of [
      ['cloudbuild', 'nosuch'],
      ['help', 'cloudbuild', 'nosuch'],
    ]) {
      const run = await sitepipe(...args);
      expect(run.exitCode, args.join(' ')).toBe(2);
      expect(run.stderr).toMatch(
        /^error\[USAGE\]: there is no command `sitepipe cloudbuild nosuch`\n.*local/,
      );
    }
  });

  it("gives a command's default subcommand the options typed after the command (`previews --config F`)", async () => {
    const run = await sitepipe('previews', '--config', join(packageRoot(), 'example', 'sitepipe.yaml'));
    // The example has no deploy section: the config was read, so --config reached `previews list`.
    expect(run.stderr).toMatch(/^error\[DEPLOY_CONFIG_MISSING\]/);
  });

  it('an unknown step exits 2, before looking for a config', async () => {
    const run = await sitepipe('run', 'nosuch');
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(
      /^error\[UNKNOWN_STEP\]: unknown step\(s\): nosuch\n {2}hint: steps are: source/,
    );
  });

  it('prints an unknown option or a missing argument as error[USAGE] with a hint, and exits 2', async () => {
    const option = await sitepipe('run', '--bogus');
    expect(option.exitCode).toBe(2);
    expect(option.stderr).toBe("error[USAGE]: unknown option '--bogus'\n  hint: see `sitepipe run --help`");
    const argument = await sitepipe('pin');
    expect(argument.exitCode).toBe(2);
    expect(argument.stderr).toBe(
      "error[USAGE]: missing required argument 'commit-or-tag'\n  hint: see `sitepipe pin --help`",
    );
    const nested = await sitepipe('cloudbuild', '--config', 'x.yaml', 'local', '--bogus');
    expect(nested.stderr).toMatch(/hint: see `sitepipe cloudbuild local --help`/);
  });

  it('under --json, a usage error is a JSON error event on stdout', async () => {
    const run = await sitepipe('run', '--json', '--bogus');
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toMatchObject({
      event: 'error',
      code: 'USAGE',
      message: "unknown option '--bogus'",
      hint: 'see `sitepipe run --help`',
    });
    const step = await sitepipe('run', '--json', 'nosuch');
    expect(step.exitCode).toBe(2);
    expect(JSON.parse(step.stdout)).toMatchObject({ event: 'error', code: 'UNKNOWN_STEP' });
  });

  it('ends quietly with 141, as git does on SIGPIPE, when the reader of its output has gone', async () => {
    for (const args of [['steps'], ['--help'], ['help', 'cloudbuild']]) {
      const run = await withClosedStdout(...args);
      expect(run, args.join(' ')).toEqual({ code: 141, stderr: '' });
    }
  });
});

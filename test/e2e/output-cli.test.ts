import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it, onTestFinished } from 'vitest';
import { EVENT_SCHEMA } from '../../pipeline/output.js';
import { packageRoot } from '../../pipeline/paths.js';
import { SETUP_REGISTRY } from '../helpers/registry.js';
import { exampleConfig, exampleRepo } from '../helpers/site-repo.js';
import { tempDir } from '../helpers/temp.js';

const CLI = join(packageRoot(), 'dist', 'pipeline', 'cli.js');

function sitepipe(args: string[], cwd: string) {
  return execa('node', [CLI, ...args], { cwd, reject: false, env: { CI: 'true' } });
}

const events = (stdout: string) =>
  stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('--json on every command (built CLI)', () => {
  it.each([
    ['run'],
    ['pin', 'abc1234'],
    ['releases'],
    ['cloudbuild'],
    ['cloudbuild', 'docker-image', 'x'],
    ['trigger', 'apply'],
    ['verify'],
  ])('%s prints its error as a JSON event with severity, message, time and schema', async (...command) => {
    const cwd = await tempDir();
    const run = await sitepipe([...command, '--json', '--config', 'nope.yaml'], cwd);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toBe('');
    const [error] = events(run.stdout);
    expect(error).toMatchObject({
      event: 'error',
      severity: 'ERROR',
      schema: EVENT_SCHEMA,
      code: 'CONFIG_MISSING',
    });
    expect(error?.message).toEqual(expect.stringContaining('nope.yaml'));
    expect(Number.isNaN(Date.parse(String(error?.time)))).toBe(false);
  });

  it('steps --json lists the steps in one result event', async () => {
    const run = await sitepipe(['steps', '--json'], await tempDir());
    const [result = {}] = events(run.stdout);
    expect(result).toMatchObject({ event: 'result', severity: 'INFO', schema: EVENT_SCHEMA });
    expect((result.steps as Array<{ step: string }>).map((s) => s.step)).toContain('render');
  });
});

describe('sitepipe run -q (built CLI)', () => {
  it('prints only repo@sha256:… on stdout, so IMAGE=$(sitepipe run -q) works', async () => {
    const repository = `${SETUP_REGISTRY}/output-q-${randomBytes(4).toString('hex')}/website`;
    const repo = await exampleRepo({ configYaml: await exampleConfig(repository) });
    onTestFinished(() => repo.remove());
    const run = await sitepipe(['run', '-q'], repo.dir);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^${repository.replace(/\./g, '\\.')}@sha256:[0-9a-f]{64}$`));
    expect(run.stderr).toContain('[push]');
    expect(run.stderr).toMatch(/done in \d+\.\ds/);
  });

  it('with a failure, stdout stays empty and the error is on stderr', async () => {
    const run = await sitepipe(['run', '-q', '--config', 'nope.yaml'], await tempDir());
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^error\[CONFIG_MISSING\]/m);
  });
});

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../pipeline/paths.js';

const CLI = join(packageRoot(), 'dist', 'pipeline', 'cli.js');

describe('sitepipe trigger apply on a machine with no Google credentials (built CLI)', () => {
  let dir: string;
  // No gcloud login in HOME, no key file, and no probe of the metadata server (off loopback).
  const sitepipe = (...args: string[]) =>
    execa('node', [CLI, ...args, '--config', join(dir, 'sitepipe.yaml')], {
      cwd: dir,
      reject: false,
      env: { HOME: dir, PATH: process.env.PATH, METADATA_SERVER_DETECTION: 'none', CI: 'true' },
      extendEnv: false,
    });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sitepipe-trigger-'));
    await writeFile(
      join(dir, 'sitepipe.yaml'),
      [
        'hugo: { version: 0.111.3 }',
        'image: { repository: gcr.io/my-project-1/website }',
        'deploy: { hosts: [www.example.com], production: { branches: [main, release/*] } }',
        'cloudbuild:',
        '  projectId: my-project-1',
        '  trigger: { github: { owner: acme, name: site }, previews: true }',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('fails with a code and a hint, not a stack trace', async () => {
    const run = await sitepipe('trigger', 'apply');
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(
      /^error\[CLOUDBUILD_NO_CREDENTIALS\]: .*\n {2}hint: .*application-default login/,
    );
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('--dry-run shows both requests: production branches, and every other branch for previews', async () => {
    const run = await sitepipe('trigger', 'apply', '--dry-run', '--json');
    expect(run.exitCode, run.stderr).toBe(0);
    const events = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const result = events.find((e) => e.event === 'result');
    expect(result).toMatchObject({
      trigger: 'sitepipe-push',
      lookupFailed: expect.stringMatching(/no Application Default Credentials/),
      request: { method: 'POST', body: { github: { push: { branch: '^(?:main|release/[^/]*)$' } } } },
      previews: {
        trigger: 'sitepipe-push-previews',
        request: { body: { github: { push: { branch: '^(?:main|release/[^/]*)$', invertRegex: true } } } },
      },
    });
  });
});

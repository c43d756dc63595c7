import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../pipeline/clients/registry.js';
import { packageRoot } from '../../pipeline/paths.js';
import { SETUP_REGISTRY } from '../helpers/registry.js';
import { exampleConfig, exampleRepo, type SiteRepo } from '../helpers/site-repo.js';

const CLI = join(packageRoot(), 'dist', 'pipeline', 'cli.js');

async function containersOf(owner: string): Promise<string[]> {
  const { stdout } = await execa('docker', ['ps', '-aq', '--filter', `label=io.sitepipe.owner=${owner}`]);
  return stdout.split('\n').filter(Boolean);
}

describe('a run killed with SIGKILL during smoke (built CLI)', () => {
  let repo: SiteRepo;
  afterAll(() => repo?.remove());

  it('leaves no tag, and the next run cleans up after it and succeeds', async () => {
    const path = `killed-${randomBytes(4).toString('hex')}/website`;
    repo = await exampleRepo({ configYaml: await exampleConfig(`${SETUP_REGISTRY}/${path}`) });
    const run = execa('node', [CLI, 'run'], { cwd: repo.dir, reject: false, env: { CI: 'true' } });
    const owner = `${hostname()}:${run.pid}`;
    let left: string[] = [];
    for (let i = 0; i < 600 && left.length === 0; i++) {
      left = await containersOf(owner);
      if (left.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(left, 'the smoke container never started').toHaveLength(1);
    run.kill('SIGKILL');
    await run;
    expect(await containersOf(owner)).toEqual(left);
    expect(existsSync(join(repo.dir, '.sitepipe', 'locks', 'smoke.lock'))).toBe(true);
    expect(await new RegistryClient(SETUP_REGISTRY, null).listTags(path)).toEqual([]);

    const again = await execa('node', [CLI, 'run'], { cwd: repo.dir, reject: false, env: { CI: 'true' } });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(await containersOf(owner)).toEqual([]);
    expect(existsSync(join(repo.dir, '.sitepipe', 'locks', 'smoke.lock'))).toBe(false);
    expect(await new RegistryClient(SETUP_REGISTRY, null).listTags(path)).toHaveLength(2);
  });
});

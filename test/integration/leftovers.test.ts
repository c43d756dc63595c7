import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { SETUP_REGISTRY } from '../helpers/registry.js';
import { runSteps } from '../helpers/run.js';
import { exampleConfig, exampleRepo, type SiteRepo } from '../helpers/site-repo.js';

/** What a killed run leaves is removed by the next run; what a live run uses is left alone. */
describe('leftovers of killed runs (real docker, registry, hugo)', () => {
  let repo: SiteRepo;
  const containers: string[] = [];
  afterAll(async () => {
    if (containers.length) await execa('docker', ['rm', '-f', ...containers]).catch(() => undefined);
    await repo?.remove();
  });

  /** A pid that no longer runs. */
  const deadPid = () => spawnSync('true').pid as number;

  async function smokeContainer(owner: string): Promise<string> {
    const { stdout } = await execa('docker', [
      'run',
      '-d',
      '--network',
      'host',
      '--label',
      'io.sitepipe.smoke=true',
      '--label',
      `io.sitepipe.owner=${owner}`,
      `${SETUP_REGISTRY}/library/nginx:stable`,
      'sleep',
      '600',
    ]);
    containers.push(stdout.trim());
    return stdout.trim();
  }

  const exists = async (id: string) =>
    (await execa('docker', ['inspect', id], { reject: false })).exitCode === 0;

  it('removes a dead run’s smoke container and blob-store temp files, and keeps a live run’s', async () => {
    repo = await exampleRepo({
      configYaml: await exampleConfig(
        `${SETUP_REGISTRY}/leftovers-${randomBytes(4).toString('hex')}/website`,
      ),
    });
    const dead = await smokeContainer(`${hostname()}:${deadPid()}`);
    const live = await smokeContainer(`${hostname()}:${process.pid}`);
    const cacheDir = await mkdtemp(join(tmpdir(), 'sitepipe-cache-'));
    const blobs = join(cacheDir, 'oci', 'blobs');
    await mkdir(blobs, { recursive: true });
    const deadTemp = `.tmp-${hostname()}-${deadPid()}-killed`;
    const liveTemp = `.tmp-${hostname()}-${process.pid}-writing`;
    await writeFile(join(blobs, deadTemp), Buffer.alloc(1 << 20));
    await writeFile(join(blobs, liveTemp), 'x');

    const { outputs } = await runSteps({
      config: repo.config,
      only: ['source', 'tag', 'hugo', 'pygments', 'render', 'image', 'smoke'],
      cacheDir,
    });
    expect(outputs.smoke?.tested).toBe(true);
    expect(await exists(dead)).toBe(false);
    expect(await exists(live)).toBe(true);
    const left = await readdir(blobs);
    expect(left).not.toContain(deadTemp);
    expect(left).toContain(liveTemp);
  });
});

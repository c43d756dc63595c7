import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { describe, expect, it, onTestFinished } from 'vitest';
import { image } from '../../steps/image.js';
import { smoke } from '../../steps/smoke.js';
import { testContext } from '../helpers/context.js';
import { SETUP_REGISTRY } from '../helpers/registry.js';
import { runSteps } from '../helpers/run.js';
import { exampleConfig, exampleRepo } from '../helpers/site-repo.js';
import { tempDir } from '../helpers/temp.js';

const NO_ENGINE = { DOCKER_HOST: 'unix:///tmp/sitepipe-no-such.sock' };

const inEngine = (ref: string) =>
  execa('docker', ['image', 'inspect', ref], { reject: false }).then((r) => r.exitCode === 0);

describe('no Docker engine', () => {
  it('on the oci path, smoke says it needs one and names smoke.enabled', async () => {
    const ctx = testContext({ siteDir: '/nonexistent', env: NO_ENGINE });
    const e = await smoke.preflight?.(ctx).then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toMatchObject({ code: 'DOCKER_UNAVAILABLE' });
    const hint = (e as { hint: string }).hint;
    expect(hint).toContain('smoke.enabled: false');
    expect(hint).not.toMatch(/needs no Docker engine/);
  });

  it('on the docker path, the image step names image.builder', async () => {
    const ctx = testContext({
      siteDir: '/nonexistent',
      configYaml: 'hugo: { version: 0.111.3 }\nimage: { repository: 127.0.0.1:5000/site, builder: docker }\n',
      env: NO_ENGINE,
    });
    const e = await image.preflight?.(ctx).then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toMatchObject({
      code: 'DOCKER_UNAVAILABLE',
      hint: expect.stringContaining('image.builder: oci'),
    });
    // Smoke still needs an engine on the oci path: the hint must not say otherwise.
    expect((e as { hint: string }).hint).toContain('smoke.enabled: false');
  });
});

describe('smoke leaves the engine as it found it (oci builder)', () => {
  it('removes the image it pulled, and keeps one that was there before', async () => {
    const repository = `${SETUP_REGISTRY}/errors-docker-${randomBytes(4).toString('hex')}/website`;
    const repo = await exampleRepo({ configYaml: await exampleConfig(repository) });
    onTestFinished(() => repo.remove());
    const dirs = { stateDir: await tempDir('sitepipe-state-'), cacheDir: await tempDir('sitepipe-cache-') };
    const { outputs } = await runSteps({
      config: repo.config,
      only: ['source', 'tag', 'hugo', 'pygments', 'render', 'image', 'smoke'],
      ...dirs,
    });
    const ref = outputs.image?.localRef as string;
    expect(outputs.smoke?.tested).toBe(true);
    expect(await inEngine(ref)).toBe(false);

    await execa('docker', ['pull', ref]);
    onTestFinished(() => execa('docker', ['rmi', '-f', ref], { reject: false }).then(() => undefined));
    const progress: string[] = [];
    const ctx = testContext({
      siteDir: repo.dir,
      configYaml: await exampleConfig(repository),
      env: process.env,
    });
    ctx.log.progress = (text) => progress.push(text);
    const { image: built, render } = outputs as Required<typeof outputs>;
    await smoke.run(ctx, { image: built, render }, {} as never);
    expect(await inEngine(ref)).toBe(true);
    // The live line counts the pages: N/M.
    expect(progress).toContain(`1/${outputs.smoke?.pages} pages`);
    expect(progress).toContain(`${outputs.smoke?.pages}/${outputs.smoke?.pages} pages`);
  });
});

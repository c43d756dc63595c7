import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create as createTar } from 'tar';
import { afterAll, describe, expect, it } from 'vitest';
import { dockerfileTemplate } from '../../pipeline/builders/docker.js';
import { buildImage, connectDocker } from '../../pipeline/clients/docker.js';
import { expectCode } from '../helpers/expect-code.js';

/** A broken Dockerfile.template is named as such, not as a failed build of the site. */
describe('Dockerfile.template problems (real Docker engine)', () => {
  let dir: string;
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('refuses an empty template, or one with no FROM, before any build', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sitepipe-template-'));
    await writeFile(join(dir, 'empty'), '\n  \n');
    await writeFile(join(dir, 'nofrom'), '# only a comment\nRUN true\n');
    expect(
      (await expectCode(dockerfileTemplate(join(dir, 'empty')), 'DOCKERFILE_TEMPLATE_INVALID')).message,
    ).toMatch(/empty$/);
    await expectCode(dockerfileTemplate(join(dir, 'nofrom')), 'DOCKERFILE_TEMPLATE_INVALID');
    expect(await dockerfileTemplate()).toMatch(/^FROM /m);
  });

  it('names the template when the engine cannot parse it', async () => {
    await writeFile(join(dir, 'Dockerfile'), 'FROM scratch\nFORM oops\n');
    const docker = await connectDocker(process.env);
    const err = await expectCode(
      buildImage(docker, {
        context: createTar({ cwd: dir, portable: true }, ['Dockerfile']) as unknown as NodeJS.ReadableStream,
        tag: 'sitepipe-test/template-parse:x',
        buildArgs: {},
        labels: {},
        signal: new AbortController().signal,
        onLine: () => undefined,
      }),
      'DOCKERFILE_TEMPLATE_INVALID',
    );
    expect(err.message).toMatch(/Dockerfile\.template/);
  });
});

import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create as createTar } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, connectDocker, pullImage } from '../../pipeline/clients/docker.js';
import { writeDockerContext } from '../../pipeline/cloudbuild/docker-context.js';
import { loadConfig } from '../../pipeline/config.js';
import type { Outputs } from '../../pipeline/records.js';
import { SETUP_REGISTRY } from '../helpers/registry.js';
import { runSteps } from '../helpers/run.js';
import { exampleConfig, exampleRepo, type SiteRepo } from '../helpers/site-repo.js';
import { webRoot } from '../helpers/web-root.js';

const BUILD = ['source', 'tag', 'hugo', 'pygments', 'render', 'image'];
const BUILDERS = ['oci', 'docker'] as const;
/** docker-context: Cloud Build's Docker builder step, every build arg baked into the Dockerfile. */
type Builder = (typeof BUILDERS)[number] | 'docker-context';
/** A theme whose name needs quoting, a config file that moves the site under /alt/, a title with quotes and `$`. */
const THEME = 'my marker';
const TITLE = `It's "Env" $HOME`;
const HUGO_KEYS = [
  `  args: [--minify, --theme, "${THEME}", --config, "hugo.toml,alt.toml"]`,
  `  env: { HUGO_TITLE: ${JSON.stringify(TITLE)} }`,
].join('\n');

/** Every file under the served web root, relative to it, with its bytes as latin1 text. */
async function webRootFiles(ref: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const [path, e] of await webRoot(ref))
    if (e.type === 'file') files.set(path, e.content.toString('latin1'));
  return files;
}

const digest = (text: string) => createHash('sha256').update(text, 'latin1').digest('hex');

describe('hugo.args and hugo.env reach Hugo the same way in both builders (real hugo, docker, registry)', () => {
  let repo: SiteRepo;
  const repository = `${SETUP_REGISTRY}/hugo-args-${randomBytes(4).toString('hex')}/website`;
  const built = {} as Record<Builder, Partial<Outputs>>;
  const roots = {} as Record<Builder, Map<string, string>>;
  const temps: string[] = [];

  beforeAll(async () => {
    const config = (extra: string[]) =>
      exampleConfig(repository, { image: extra }).then((yaml) =>
        yaml.replace('  extended: true\n', `  extended: true\n${HUGO_KEYS}\n`),
      );
    repo = await exampleRepo({ configYaml: await config([]) });
    await writeFile(join(repo.dir, 'sitepipe-docker.yaml'), await config(['builder: docker']));
    await writeFile(join(repo.dir, 'alt.toml'), "baseURL = 'https://alt.example.com/alt/'\n");
    await mkdir(join(repo.dir, 'themes', THEME, 'static'), { recursive: true });
    await writeFile(join(repo.dir, 'themes', THEME, 'static', 'marker.txt'), 'from the theme\n');
    await repo.git('add', '-A');
    await repo.git('commit', '-q', '-m', 'a theme and an alternative config');

    const docker = await connectDocker(process.env);
    for (const builder of BUILDERS) {
      const stateDir = await mkdtemp(join(tmpdir(), `sitepipe-state-${builder}-`));
      const cacheDir = await mkdtemp(join(tmpdir(), `sitepipe-cache-${builder}-`));
      temps.push(stateDir, cacheDir);
      const configFile = builder === 'oci' ? repo.config : join(repo.dir, 'sitepipe-docker.yaml');
      built[builder] = (await runSteps({ config: configFile, only: BUILD, stateDir, cacheDir })).outputs;
      const ref = built[builder].image?.localRef as string;
      if (builder === 'oci') await pullImage(docker, ref, SETUP_REGISTRY, null, new AbortController().signal);
      roots[builder] = await webRootFiles(ref);
      if (builder === 'docker') {
        const out = await mkdtemp(join(tmpdir(), 'sitepipe-context-test-'));
        temps.push(out);
        const { config, siteDir } = await loadConfig(configFile);
        await writeDockerContext({ config, siteDir, stateDir, out });
        const context = createTar({ cwd: out, portable: true }, ['.']) as unknown as NodeJS.ReadableStream;
        const tag = `${repository}:baked`;
        const id = await buildImage(docker, {
          context,
          tag,
          buildArgs: {},
          labels: {},
          onLine: () => undefined,
          signal: new AbortController().signal,
        });
        roots['docker-context'] = await webRootFiles(id);
      }
    }
  });
  afterAll(async () => {
    // The images this test built or pulled: every one is named in its own repository.
    const docker = await connectDocker(process.env);
    const images = await docker.listImages({ filters: { reference: [`${repository}*`] } });
    for (const image of images)
      await docker
        .getImage(image.Id)
        .remove({ force: true })
        .catch(() => undefined);
    await repo?.remove();
    await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('reads the base path from the config --config selects, for both', () => {
    expect(built.oci.render?.basePath).toBe('/alt/');
    expect(roots.docker.has('alt/index.html')).toBe(true);
  });

  it.each([...BUILDERS, 'docker-context'] as const)(
    '%s: minified, with the theme’s files and the title from hugo.env',
    (builder) => {
      const index = roots[builder].get('alt/index.html') ?? '';
      expect(index).toMatch(/^<!doctype html><html lang=en><head>/);
      expect(index).toContain(`<title>${TITLE}`);
      expect(roots[builder].get('alt/marker.txt')).toBe('from the theme\n');
    },
  );

  it('serves the same files with the same bytes', () => {
    const list = (b: Builder) => [...roots[b]].map(([path, text]) => `${path} ${digest(text)}`).sort();
    expect(list('docker')).toEqual(list('oci'));
    expect(list('docker-context')).toEqual(list('oci'));
  });
});

import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDocker, pullImage } from '../../pipeline/clients/docker.js';
import type { Outputs } from '../../pipeline/records.js';
import { linkImagesUnder, setHugoBaseURL } from '../helpers/blog-site.js';
import { get, type Served, serveOnLoopback } from '../helpers/nginx-container.js';
import { SETUP_REGISTRY } from '../helpers/registry.js';
import { runSteps } from '../helpers/run.js';
import { exampleConfig, exampleRepo, type SiteRepo } from '../helpers/site-repo.js';
import { webRoot } from '../helpers/web-root.js';

const BUILD = ['source', 'tag', 'hugo', 'pygments', 'render', 'image'];
const BUILDERS = ['oci', 'docker'] as const;
type Builder = (typeof BUILDERS)[number];
/** The site sets its own baseURL, with a path, in hugo.toml; the sitepipe config does not override it. */
const BASE_URL = 'https://www.example.com/blog/';
/** What the builders may still make differently: nothing (the stylesheet comes from the pygments step for both). */
const KNOWN_DIFFERENCES: string[] = [];

/** Every entry of the served web root, relative to it: "file <sha256>", "link -> target" or "dir". */
async function webRootSummary(ref: string): Promise<Map<string, string>> {
  const summary = new Map<string, string>();
  for (const [path, e] of await webRoot(ref)) {
    summary.set(
      path,
      e.type === 'file'
        ? `file ${createHash('sha256').update(e.content).digest('hex')}`
        : e.type === 'link'
          ? `link -> ${e.target}`
          : 'dir',
    );
  }
  return summary;
}

/** "only in oci: x", "only in docker: y", "differs: z", sorted; empty when both serve the same bytes. */
function differences(a: Map<string, string>, b: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [path, what] of a) {
    if (!b.has(path)) out.push(`only in oci: ${path}`);
    else if (b.get(path) !== what) out.push(`differs: ${path}`);
  }
  for (const path of b.keys()) if (!a.has(path)) out.push(`only in docker: ${path}`);
  return out.sort();
}

describe('the oci and docker builders serve the same site for one commit (real hugo, docker, registry)', () => {
  let repo: SiteRepo;
  const repository = `${SETUP_REGISTRY}/agree-${randomBytes(4).toString('hex')}/website`;
  // Filled in by beforeAll, one entry per builder.
  const configs = {} as Record<Builder, string>;
  const dirs = {} as Record<Builder, { stateDir: string; cacheDir: string }>;
  const built = {} as Record<Builder, Partial<Outputs>>;
  const roots = {} as Record<Builder, Map<string, string>>;

  beforeAll(async () => {
    repo = await exampleRepo({ configYaml: await exampleConfig(repository) });
    configs.oci = repo.config;
    configs.docker = join(repo.dir, 'sitepipe-docker.yaml');
    await writeFile(configs.docker, await exampleConfig(repository, { image: ['builder: docker'] }));
    await setHugoBaseURL(repo.dir, BASE_URL);
    await linkImagesUnder(repo.dir, '/blog/');
    // One relative link in static/: the Docker context must hold it as the same relative link.
    await symlink('forest.png', join(repo.dir, 'static/images/logo.png'));
    await repo.git('add', '-A');
    await repo.git('commit', '-q', '-m', 'a blog under /blog/, with a linked image');

    const docker = await connectDocker(process.env);
    for (const builder of BUILDERS) {
      dirs[builder] = {
        stateDir: await mkdtemp(join(tmpdir(), `sitepipe-state-${builder}-`)),
        cacheDir: await mkdtemp(join(tmpdir(), `sitepipe-cache-${builder}-`)),
      };
      built[builder] = (await runSteps({ config: configs[builder], only: BUILD, ...dirs[builder] })).outputs;
      const ref = built[builder].image?.localRef as string;
      // The daemonless build is only in the registry: pull it by digest, as smoke does.
      if (builder === 'oci') await pullImage(docker, ref, SETUP_REGISTRY, null, new AbortController().signal);
      roots[builder] = await webRootSummary(ref);
    }
  });
  afterAll(async () => {
    await repo?.remove();
  });

  it('built one commit with each builder', async () => {
    const commit = await repo.git('rev-parse', 'HEAD');
    expect(built.oci.image?.commit).toBe(commit);
    expect(built.docker.image?.commit).toBe(commit);
    expect(built.oci.render?.basePath).toBe('/blog/');
  });

  it('serves the same files with the same bytes from the same web root', () => {
    expect(roots.oci.get('blog/index.html')).toMatch(/^file /);
    expect(roots.oci.get('blog/images/logo.png')).toBe(roots.oci.get('blog/images/forest.png'));
    expect(differences(roots.oci, roots.docker)).toEqual(KNOWN_DIFFERENCES);
  });

  it('holds only the site under the web root: nothing of the base image, nothing outside the base path', () => {
    for (const builder of BUILDERS) {
      const top = [...roots[builder].keys()].filter((p) => p !== '' && !p.includes('/'));
      expect(top, builder).toEqual(['blog']);
    }
  });

  it('exposes the port nginx listens on (the docker image keeps its base’s too: a Dockerfile cannot remove it)', async () => {
    const docker = await connectDocker(process.env);
    const ports = async (builder: Builder) =>
      Object.keys(
        (await docker.getImage(built[builder].image?.localRef as string).inspect()).Config.ExposedPorts ?? {},
      ).sort();
    expect(await ports('oci')).toEqual(['8080/tcp']);
    expect(await ports('docker')).toEqual(['80/tcp', '8080/tcp']);
  });

  describe.each(BUILDERS)('the %s image, served', (builder) => {
    let server: Served;
    beforeAll(async () => {
      server = await serveOnLoopback(built[builder].image?.localRef as string);
    });
    afterAll(() => server?.stop());

    it('lists absolute URLs under the site’s own baseURL in its sitemap, gzipped when asked', async () => {
      const r = await get(`${server.base}/blog/sitemap.xml`, { 'Accept-Encoding': 'gzip' });
      expect(r.status).toBe(200);
      expect(r.headers['content-encoding']).toBe('gzip');
      const plain = await get(`${server.base}/blog/sitemap.xml`);
      const locs = [...plain.body.toString().matchAll(/<loc>([^<]+)<\/loc>/g)].map((m) => m[1]);
      expect(locs.length).toBeGreaterThan(10);
      expect(locs.every((l) => l?.startsWith(BASE_URL))).toBe(true);
    });

    it('answers / with a redirect to the base path, and directories with relative redirects', async () => {
      expect((await get(`${server.base}/`)).headers.location).toBe('/blog/');
      const about = await get(`${server.base}/blog/about?ref=x`);
      expect(about.status).toBe(301);
      expect(about.headers.location).toBe('/blog/about/?ref=x');
    });

    it('answers the base image’s /50x.html and /index.html with the site’s 404', async () => {
      for (const path of ['/50x.html', '/index.html']) {
        const r = await get(`${server.base}${path}`);
        expect(r.status, path).toBe(404);
        expect(r.body.toString(), path).toContain('Page not found');
      }
    });

    it('passes smoke: every page of the sitemap and what the pages load answers 200', async () => {
      const { outputs } = await runSteps({ config: configs[builder], only: ['smoke'], ...dirs[builder] });
      expect(outputs.smoke?.tested).toBe(true);
      expect(outputs.smoke?.pages).toBeGreaterThan(10);
      expect(outputs.smoke?.checked).toContain('/blog/about/');
    });
  });
});

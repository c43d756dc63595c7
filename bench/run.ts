/**
 * npm run bench [-- --posts 3000 --images 300 --mbps 20 --pin-commit-time --no-2x --keep]
 *
 * Builds and pushes a generated blog (thousands of posts, hundreds of images) three ways, in
 * one run on one machine, and prints the figures side by side:
 *   docker      sitepipe, image.builder: docker (Dockerfile.template on the engine, engine push)
 *   daemonless  sitepipe, image.builder: oci (site layers appended through the registry API)
 *   umoci+skopeo  the existing daemonless tools: `umoci insert` of the rendered site onto the
 *               base in an OCI layout, then `skopeo copy` to the registry
 * Each gets a cold build+push (fresh caches, fresh repository) and two one-post edits
 * (commit, render, build, push): one with the registry straight on loopback and one through
 * a bandwidth-limited proxy. Every registry byte passes a counting proxy (bench/proxy.ts).
 * Figures only: nothing is asserted; the issue's targets are printed as met or not.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../pipeline/config.js';
import { LISTEN_CONF_PATH, listenConf, SERVER_CONF_PATH, SITE_ROOT, serverConf } from '../pipeline/nginx.js';
import { packageRoot } from '../pipeline/paths.js';
import { hugoBuildArgs } from '../steps/render.js';
import type { ChildResult } from './child.js';
import { changedFloor, type ManifestInfo, pullBytes } from './delta.js';
import { dockerAvailable, pull, removeBenchImages, toolchainCached, untag } from './docker.js';
import { hasGnuTime, median, timed } from './measure.js';
import { type ImageProfile, profileImage } from './profile.js';
import { type Counters, startMeterProxy, uploadBusyMs } from './proxy.js';
import { type BenchSite, generateSite } from './site.js';

const REGISTRY = '127.0.0.1:5000';
const BASE_PATH = 'library/nginx';
const BASE_TAG = 'stable';
const BUILDER_BASE = `${REGISTRY}/library/debian:bookworm-slim`;
const PINNED_DATE = '2026-03-01T12:00:00Z';
const PKG = packageRoot();
const CHILD = join(PKG, 'bench', 'child.ts');

const { values: flags } = parseArgs({
  options: {
    posts: { type: 'string', default: '3000' },
    images: { type: 'string', default: '300' },
    /** Megabytes (1e6 bytes) per second for the limited pass: the issue's "20 MB/s". */
    mbps: { type: 'string', default: '20' },
    /** hugo-alone runs before and after each warm phase's builds (so 2 x this per phase). */
    'render-runs': { type: 'string', default: '1' },
    'pin-commit-time': { type: 'boolean', default: false },
    /** Successive one-post edits for the delta chain (layer count, image size, warm time after them). */
    edits: { type: 'string', default: '25' },
    'no-2x': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const POSTS = Number(flags.posts);
const IMAGES = Number(flags.images);
const MBPS = Number(flags.mbps);
const RENDER_RUNS = Math.max(1, Number(flags['render-runs']));
const PIN = flags['pin-commit-time'] ?? false;
const EDITS = Math.max(1, Number(flags.edits));

type PathName = 'docker' | 'oci' | 'peer';
type Phase = 'cold' | 'warm' | 'warm20';
const LABEL: Record<PathName, string> = {
  docker: 'docker (sitepipe, builder: docker)',
  oci: 'daemonless (sitepipe, builder: oci)',
  peer: 'umoci insert + skopeo copy',
};

interface Figures {
  /** commit-to-pushed time, ms. */
  ms: number;
  up: number;
  down: number;
  upBy: Record<string, number>;
  uploads: Counters['uploads'];
  /** The building process itself (sitepipe's node process; for the peer the largest tool). */
  rssSelf: number | null;
  /** wait4's figure: the process or any child it waited for (Hugo included). */
  rssTree: number | null;
  steps: Record<string, number>;
  logs: string[];
  wallMs: number;
  /** sitepipe: housekeeping after the push (removing the previous render), not in ms. */
  afterPushMs?: number;
  tag: string;
}

const log = (line: string) => process.stderr.write(`${line}\n`);
const s = (ms: number | null | undefined) => (ms == null ? 'n/a' : (ms / 1000).toFixed(1));
const mb = (bytes: number | null | undefined, digits = 1) =>
  bytes == null ? 'n/a' : (bytes / 1e6).toFixed(digits);
const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  a == null || b == null || b === 0 ? null : a / b;
const r2 = (x: number | null) => (x == null ? 'n/a' : x.toFixed(2));
const rx = (x: number | null) => (x == null ? 'n/a' : `${x.toFixed(2)}x`);

async function manifestOf(path: string, ref: string): Promise<ManifestInfo> {
  const res = await fetch(`http://${REGISTRY}/v2/${path}/manifests/${ref}`, {
    headers: {
      Accept:
        'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
    },
  });
  if (!res.ok) throw new Error(`manifest ${path}:${ref}: HTTP ${res.status}`);
  return (await res.json()) as ManifestInfo;
}

async function main(): Promise<void> {
  const started = performance.now();
  const loadStart = loadavg()[0] as number;
  const id = randomBytes(4).toString('hex');
  const root = await mkdtemp(join(tmpdir(), 'sitepipe-bench-'));
  const proxy = await startMeterProxy(REGISTRY);
  const P = proxy.host;
  const repoBase = `bench-${id}`;
  const baseRef = `${P}/${BASE_PATH}:${BASE_TAG}`;
  // Unique per run: it also marks the Docker path's render-stage images for removal.
  const baseURL = `https://bench-${id}.example.com/`;
  const example = (await loadConfig(join(PKG, 'example', 'sitepipe.yaml'))).config;
  let dockerUsed = false;
  let interrupted = false;

  const cleanup = async () => {
    await proxy.close().catch(() => undefined);
    if (dockerUsed) {
      const n = await removeBenchImages(`${P}/${repoBase}/docker`, baseURL).catch((e: Error) => {
        log(`docker cleanup: ${e.message}`);
        return 0;
      });
      await untag(baseRef);
      log(`removed ${n} docker image(s) built by the bench`);
    }
    if (!flags.keep) await rm(root, { recursive: true, force: true });
    else log(`kept ${root}`);
  };
  process.once('SIGINT', () => {
    interrupted = true;
    log('interrupted: cleaning up');
    cleanup().finally(() => process.exit(130));
  });

  try {
    const configYaml = (builder: 'oci' | 'docker', name: string) => `version: 1
site:
  dir: .
  baseURL: ${baseURL}
hugo:
  version: ${example.hugo.version}
  extended: ${example.hugo.extended}
pygments:
${example.pygments.version ? `  version: ${example.pygments.version}\n` : ''}  style: ${example.pygments.style}
image:
  repository: ${P}/${repoBase}/${name}
  base: ${baseRef}
  builder: ${builder}
  builderBase: ${BUILDER_BASE}
registry:
  credentials: none
smoke:
  enabled: false
`;

    // Preflight: what can run here, without building anything that would leave loopback.
    const dockerSkip = (await dockerAvailable()) ?? (await toolchainCached(BUILDER_BASE));
    if (dockerSkip) log(`docker path skipped: ${dockerSkip}`);
    const paths: PathName[] = dockerSkip ? ['oci', 'peer'] : ['docker', 'oci', 'peer'];

    log(`generating ${POSTS} posts, ${IMAGES} images in ${root}`);
    let t = performance.now();
    const site = await generateSite({
      posts: POSTS,
      images: IMAGES,
      parent: root,
      pinnedDate: PIN ? PINNED_DATE : undefined,
      extraFiles: {
        'sitepipe-docker.yaml': configYaml('docker', 'docker'),
        'sitepipe-oci.yaml': configYaml('oci', 'oci'),
      },
    });
    log(`  done in ${s(performance.now() - t)} s (${mb(site.imageBytes)} MB of images)`);

    if (!dockerSkip) {
      // The base as a user has it: pulled once (not timed) under the name the builds use, so the
      // build finds it in the engine. Its layers are there already, so only manifests move.
      await pull(baseRef);
      dockerUsed = true;
    }

    // Per path: state and cache dirs live for the whole run (warm = caches as left by the last build).
    const dirs = async (name: string) => {
      const d = { state: join(root, `state-${name}`), cache: join(root, `cache-${name}`) };
      await mkdir(d.state, { recursive: true });
      await mkdir(d.cache, { recursive: true });
      return d;
    };
    const sitepipeDirs = { docker: await dirs('docker'), oci: await dirs('oci') };
    let childN = 0;
    const runSitepipe = async (config: string, d: { state: string; cache: string }): Promise<Figures> => {
      const out = join(root, `child-${++childN}.json`);
      proxy.reset();
      const run = await timed(process.execPath, ['--import', 'tsx', CHILD, config, d.state, d.cache, out], {
        cwd: PKG,
      });
      const counters = proxy.reset();
      const r = JSON.parse(await readFile(out, 'utf8')) as ChildResult;
      if (!r.ok) throw new Error(`sitepipe (${config}) failed: ${r.error}\n${r.logs.join('\n')}`);
      const tag = JSON.parse(await readFile(join(d.state, 'records', 'tag.json'), 'utf8')).output.commitTag;
      return {
        ms: r.ms,
        up: counters.up,
        down: counters.down,
        upBy: counters.upBy,
        uploads: counters.uploads,
        rssSelf: r.maxRssBytes,
        rssTree: run.maxRssBytes,
        steps: r.steps,
        logs: r.logs,
        wallMs: run.ms,
        afterPushMs: r.afterPushMs,
        tag,
      };
    };

    // The peer: an OCI layout holding the base (copied once) plus the nginx config layer.
    const layout = join(root, 'peer-oci');
    const peerOut = join(root, 'peer-public');
    const peerRender = async (siteDir: string) => {
      await rm(peerOut, { recursive: true, force: true });
      const hugo = await timed(
        'hugo',
        hugoBuildArgs(siteDir, peerOut, { cacheDir: join(root, 'hugo-cache-peer'), baseURL }),
      );
      const pygmentsRecord = JSON.parse(
        await readFile(join(sitepipeDirs.oci.state, 'records', 'pygments.json'), 'utf8'),
      ).output as { path: string; style: string; stylesheet: string };
      const cssPath = join(peerOut, pygmentsRecord.stylesheet);
      await mkdir(join(cssPath, '..'), { recursive: true });
      const css = await timed(
        pygmentsRecord.path,
        ['-S', pygmentsRecord.style, '-f', 'html', '-a', '.highlight'],
        {
          stdoutFile: cssPath,
        },
      );
      return [hugo, css];
    };
    const peerBuild = async (
      s0: BenchSite,
      extra: Awaited<ReturnType<typeof timed>>[] = [],
    ): Promise<Figures> => {
      const commit = await s0.git('rev-parse', 'HEAD');
      const tag = commit.slice(0, 12);
      const repo = `docker://${P}/${repoBase}/peer`;
      proxy.reset();
      const started0 = performance.now();
      const steps: Record<string, number> = {};
      const procs = [...extra];
      let mark = performance.now();
      const step = (name: string) => {
        steps[name] = performance.now() - mark;
        mark = performance.now();
      };
      if (extra.length) steps['base+conf'] = extra.reduce((n, p) => n + p.ms, 0);
      procs.push(...(await peerRender(s0.dir)));
      step('render');
      procs.push(
        await timed('umoci', ['insert', '--image', `${layout}:base-conf`, '--tag', tag, peerOut, SITE_ROOT]),
      );
      step('umoci insert');
      for (const t2 of [tag, 'main']) {
        procs.push(
          await timed('skopeo', [
            'copy',
            '--quiet',
            '--dest-tls-verify=false',
            `oci:${layout}:${tag}`,
            `${repo}:${t2}`,
          ]),
        );
      }
      step('skopeo copy');
      const ms = performance.now() - started0 + (steps['base+conf'] ?? 0);
      const counters = proxy.reset();
      const rss = procs.map((p) => p.maxRssBytes ?? 0);
      return {
        ms,
        up: counters.up,
        down: counters.down,
        upBy: counters.upBy,
        uploads: counters.uploads,
        rssSelf: Math.max(...procs.slice(-3).map((p) => p.maxRssBytes ?? 0)),
        rssTree: Math.max(...rss),
        steps,
        logs: [],
        wallMs: ms,
        tag,
      };
    };
    const peerCold = async (): Promise<Figures> => {
      proxy.reset();
      const confDir = join(root, 'peer-conf');
      await mkdir(confDir, { recursive: true });
      await writeFile(join(confDir, 'default.conf'), serverConf());
      await writeFile(join(confDir, 'listen.conf'), listenConf(8080));
      const extra = [
        await timed('skopeo', [
          'copy',
          '--quiet',
          '--src-tls-verify=false',
          `docker://${baseRef}`,
          `oci:${layout}:base`,
        ]),
        await timed('umoci', [
          'insert',
          '--image',
          `${layout}:base`,
          '--tag',
          'base-conf',
          join(confDir, 'default.conf'),
          SERVER_CONF_PATH,
        ]),
        await timed('umoci', [
          'insert',
          '--image',
          `${layout}:base-conf`,
          join(confDir, 'listen.conf'),
          LISTEN_CONF_PATH,
        ]),
      ];
      const down = proxy.counters.down;
      const f = await peerBuild(site, extra);
      return { ...f, down: f.down + down };
    };

    const runPath = async (p: PathName, phase: Phase, s0: BenchSite): Promise<Figures> => {
      log(`  ${phase.padEnd(6)} ${LABEL[p]} ...`);
      const f =
        p === 'peer'
          ? phase === 'cold'
            ? await peerCold()
            : await peerBuild(s0)
          : await runSitepipe(join(s0.dir, `sitepipe-${p}.yaml`), sitepipeDirs[p]);
      log(`         ${s(f.ms)} s, ${mb(f.up, 2)} MB up`);
      return f;
    };

    const renderOut = join(root, 'render-alone');
    const renderAlone = async (s0: BenchSite, runs: number[], out = renderOut): Promise<void> => {
      for (let i = 0; i < RENDER_RUNS; i++) {
        await rm(out, { recursive: true, force: true });
        const r = await timed(
          'hugo',
          hugoBuildArgs(s0.dir, out, { cacheDir: join(root, 'hugo-cache-alone'), baseURL }),
        );
        runs.push(r.ms);
      }
      log(`  hugo alone: ${runs.map((x) => s(x)).join(', ')} s so far`);
    };

    const results: Record<PathName, Partial<Record<Phase, Figures>>> = { docker: {}, oci: {}, peer: {} };
    const order = (rotate: number) => paths.map((_, i) => paths[(i + rotate) % paths.length] as PathName);

    // Cold: the first build of this site in each path.
    log('cold build + push (registry on loopback, counting proxy, no limit)');
    proxy.setRate(null);
    for (const p of order(0)) results[p].cold = await runPath(p, 'cold', site);

    // Warm, loopback: a one-post edit, committed. The render before it is kept for the floor.
    log('one-post edit, warm build + push, loopback');
    const beforeEdit = join(root, 'render-before-edit');
    await renderAlone(site, [], beforeEdit);
    await site.editPost(Math.ceil(POSTS / 2), 'Update: this post was edited for the benchmark.');
    const rendersWarm: number[] = [];
    await renderAlone(site, rendersWarm);
    const floor = await timed('bash', ['-c', 'tar -c -C "$1" . | gzip | sha256sum', 'floor', renderOut]);
    log(`  tar|gzip|sha256sum ${s(floor.ms)} s`);
    for (const p of order(1)) results[p].warm = await runPath(p, 'warm', site);
    await renderAlone(site, rendersWarm);
    const renderWarm = { ms: median(rendersWarm), runs: rendersWarm };
    const ociRepo = `${repoBase}/oci`;
    const edit = {
      floor: changedFloor(beforeEdit, renderOut),
      pull: pullBytes(
        await manifestOf(ociRepo, (results.oci.cold as Figures).tag),
        await manifestOf(ociRepo, (results.oci.warm as Figures).tag),
      ),
    };
    log(
      `  floor ${mb(edit.floor.bytes, 2)} MB (${edit.floor.files} files changed); node pull ${mb(edit.pull, 2)} MB`,
    );

    // Warm, bandwidth-limited: another one-post edit.
    log(`one-post edit, warm build + push, ${MBPS} MB/s`);
    await site.editPost(Math.ceil(POSTS / 4), 'Update: edited again, over a slower link.');
    const rendersWarm20: number[] = [];
    await renderAlone(site, rendersWarm20);
    proxy.setRate(MBPS * 1e6);
    for (const p of order(2)) results[p].warm20 = await runPath(p, 'warm20', site);
    proxy.setRate(null);
    await renderAlone(site, rendersWarm20);
    const renderWarm20 = { ms: median(rendersWarm20), runs: rendersWarm20 };

    // A commit that changes no output (a README), then EDITS one-post edits: the delta chain.
    log('a commit that changes no output, daemonless');
    await site.commit('readme only', { 'README.md': 'This site is generated by the sitepipe bench.\n' });
    const rendersNoop: number[] = [];
    await renderAlone(site, rendersNoop);
    const noopFig = await runPath('oci', 'warm', site);
    await renderAlone(site, rendersNoop);
    const before = await manifestOf(ociRepo, (results.oci.warm20 as Figures).tag);
    const after = await manifestOf(ociRepo, noopFig.tag);
    const noop = {
      fig: noopFig,
      renderMs: median(rendersNoop),
      newLayers: after.layers.filter((l) => !before.layers.some((b) => b.digest === l.digest)),
    };
    log(`${EDITS} successive one-post edits, daemonless, loopback`);
    let chainLast = noopFig;
    const chainUp: number[] = [];
    for (let k = 1; k <= EDITS; k++) {
      await site.editPost(1 + ((k * 97) % POSTS), `Update ${k}: edited in a chain of edits.`);
      chainLast = await runSitepipe(join(site.dir, 'sitepipe-oci.yaml'), sitepipeDirs.oci);
      chainUp.push(chainLast.up);
    }
    const rendersChain: number[] = [];
    await renderAlone(site, rendersChain);
    const chainImage = await manifestOf(ociRepo, chainLast.tag);
    const chain = {
      last: chainLast,
      up: chainUp,
      renderMs: median(rendersChain),
      layers: chainImage.layers.length,
      bytes: chainImage.layers.reduce((n, l) => n + l.size, 0),
      kinds: chainLast.logs.filter((l) => /layers: /.test(l)),
    };
    log(`  last edit ${s(chainLast.ms)} s, ${chain.layers} layers, ${mb(chain.bytes)} MB`);

    // Where the daemonless warm time goes: the image step's parts, re-done in this process.
    log('profiling the daemonless image step on the last render');
    const commitTime = new Date(Number(await site.git('log', '-1', '--format=%ct')) * 1000);
    const profile = await profileImage(join(sitepipeDirs.oci.state, 'public'), commitTime);

    // Peak memory of the daemonless path at twice the site.
    let twice: { cold: Figures; warm: Figures; posts: number; images: number } | null = null;
    if (!flags['no-2x']) {
      log(`daemonless at twice the site: ${POSTS * 2} posts, ${IMAGES * 2} images`);
      t = performance.now();
      const big = await generateSite({
        posts: POSTS * 2,
        images: IMAGES * 2,
        parent: root,
        pinnedDate: PIN ? PINNED_DATE : undefined,
        extraFiles: { 'sitepipe-oci.yaml': configYaml('oci', 'oci-2x') },
      });
      log(`  generated in ${s(performance.now() - t)} s`);
      const d = await dirs('oci-2x');
      const cold = await runSitepipe(join(big.dir, 'sitepipe-oci.yaml'), d);
      log(`  cold ${s(cold.ms)} s, node peak ${mb(cold.rssSelf, 0)} MB`);
      await big.editPost(POSTS, 'Update: edited on the doubled site.');
      const warm = await runSitepipe(join(big.dir, 'sitepipe-oci.yaml'), d);
      log(`  warm ${s(warm.ms)} s, node peak ${mb(warm.rssSelf, 0)} MB`);
      twice = { cold, warm, posts: POSTS * 2, images: IMAGES * 2 };
    }

    // Image sizes: the layers of each path's last image, and the part above the base.
    const baseLayers = (await manifestOf(BASE_PATH, BASE_TAG)).layers;
    const baseDigests = new Set(baseLayers.map((l) => l.digest));
    const sizes: Partial<Record<PathName, { total: number; site: number; layers: number }>> = {};
    for (const p of paths) {
      const f = results[p].warm20 as Figures;
      const { layers } = await manifestOf(`${repoBase}/${p}`, f.tag);
      const total = layers.reduce((n, l) => n + l.size, 0);
      const site0 = layers.filter((l) => !baseDigests.has(l.digest)).reduce((n, l) => n + l.size, 0);
      sizes[p] = { total, site: site0, layers: layers.length };
    }

    report({
      paths,
      results,
      sizes,
      renderWarm,
      renderWarm20,
      floorMs: floor.ms,
      profile,
      twice,
      dockerSkip,
      elapsedMs: performance.now() - started,
      site,
      load: { start: loadStart, end: loadavg()[0] as number },
      delta: { edit, noop, chain },
    });
  } finally {
    if (!interrupted) await cleanup();
  }
}

interface DeltaFigures {
  edit: { floor: { files: number; bytes: number }; pull: number };
  noop: { fig: Figures; renderMs: number; newLayers: Array<{ digest: string; size: number }> };
  chain: { last: Figures; up: number[]; renderMs: number; layers: number; bytes: number; kinds: string[] };
}

function report(r: {
  paths: PathName[];
  results: Record<PathName, Partial<Record<Phase, Figures>>>;
  sizes: Partial<Record<PathName, { total: number; site: number; layers: number }>>;
  renderWarm: { ms: number; runs: number[] };
  renderWarm20: { ms: number; runs: number[] };
  floorMs: number;
  profile: ImageProfile;
  twice: { cold: Figures; warm: Figures; posts: number; images: number } | null;
  dockerSkip: string | null;
  elapsedMs: number;
  site: BenchSite;
  load: { start: number; end: number };
  delta: DeltaFigures;
}): void {
  const out: string[] = [];
  const p = (line = '') => out.push(line);
  const { results: R } = r;
  const get = (path: PathName, phase: Phase) => R[path][phase];

  p();
  p(
    `sitepipe bench: ${POSTS} posts, ${IMAGES} images (${mb(r.site.imageBytes)} MB of incompressible media), ` +
      `one run on this machine; commit times ${PIN ? `pinned to ${PINNED_DATE} (as the integration tests do)` : 'real (each commit at its own time)'}`,
  );
  p(
    `"warm" = commit-to-pushed after a one-post edit: render + image + push with both tags set, smoke disabled (smoke.enabled: false).`,
  );
  p();
  const head = [
    'path',
    'cold s',
    'warm s',
    `warm s @${MBPS}MB/s`,
    'edit upload MB',
    `edit upload MB @${MBPS}`,
    'cold upload MB',
    'image MB (site part)',
    'peak RSS MB (tree)',
  ];
  const rows: string[][] = [head];
  for (const path of r.paths) {
    const cold = get(path, 'cold');
    const warm = get(path, 'warm');
    const warm20 = get(path, 'warm20');
    const size = r.sizes[path];
    const rss = Math.max(...[cold, warm, warm20].map((f) => f?.rssSelf ?? 0));
    const rssTree = Math.max(...[cold, warm, warm20].map((f) => f?.rssTree ?? 0));
    rows.push([
      LABEL[path],
      s(cold?.ms),
      s(warm?.ms),
      s(warm20?.ms),
      mb(warm?.up, 2),
      mb(warm20?.up, 2),
      mb(cold?.up, 1),
      size ? `${mb(size.total)} (${mb(size.site)})` : 'n/a',
      `${mb(rss, 0)} (${mb(rssTree, 0)})${path === 'docker' ? ' *' : ''}`,
    ]);
  }
  rows.push([
    `hugo render alone (median of ${r.renderWarm.runs.length})`,
    '',
    s(r.renderWarm.ms),
    s(r.renderWarm20.ms),
    '',
    '',
    '',
    '',
    '',
  ]);
  rows.push(['floor: tar -c public | gzip | sha256sum', '', s(r.floorMs), '', '', '', '', '', '']);
  const widths = head.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  for (const [i, row] of rows.entries()) {
    p(
      row
        .map((c, j) => (j === 0 ? c.padEnd(widths[j] as number) : c.padStart(widths[j] as number)))
        .join('  '),
    );
    if (i === 0) p(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  p();
  p('notes:');
  p(
    '  sitepipe times are its pipeline in one process (the steps of `sitepipe run`), from the first step to the',
  );
  p(
    '  push step setting the tags; node start-up is not in them, nor the removal of the previous render after the',
  );
  p('  push (both in the profile: the child wall time with tsx start-up, and the time after the push).');
  p(
    '  umoci+skopeo: the same hugo arguments + the pygmentize stylesheet, `umoci insert` of the whole output onto',
  );
  p(
    '  base+nginx-config in an OCI layout, `skopeo copy` to the commit tag, then to the branch tag. Its cold time',
  );
  p('  includes copying the base into the layout and inserting the nginx config (done once).');
  p('  docker: the full pipeline; its render step renders locally and the build renders again in stage 1.');
  p(
    `  Uploads are request-body bytes counted by a proxy in front of the registry; @${MBPS}MB/s = token bucket of`,
  );
  p(`  ${MBPS} MB/s in each direction. All traffic stays on 127.0.0.1.`);
  p("  hugo render alone: median of runs taken just before and just after each phase's builds (same args as");
  p("  sitepipe's render step, fresh output dir; no pygmentize). The floor runs on that output.");
  p('  peak RSS, max over the three builds: sitepipe = its node process alone; umoci+skopeo = the larger of');
  p('  umoci and skopeo. (tree) = the largest process including the children waited for: Hugo, pygmentize.');
  p("  * docker: the Docker daemon's memory (the build and the push run in dockerd) is not included.");
  p('  cold upload: the engine uploads the base layer too (it mounts only blobs it has seen under the same');
  p(
    '  registry address, and it pulled the base from 127.0.0.1:5000, not the proxy); sitepipe mounts it from',
  );
  p('  library/nginx (same registry), and so does skopeo (its blob-info cache saw it there).');
  p(
    `  hugo alone runs: ${r.renderWarm.runs.map((x) => s(x)).join(', ')} s (loopback phase); ${r.renderWarm20.runs.map((x) => s(x)).join(', ')} s (limited phase).`,
  );
  p(
    `  load average (1 min) at start / end: ${r.load.start.toFixed(1)} / ${r.load.end.toFixed(1)} on ${cpus().length} cores; other work on the machine shows up as noise.`,
  );
  if (r.dockerSkip) p(`  docker path not run: ${r.dockerSkip}`);

  // Profile of the daemonless warm builds.
  const oci = get('oci', 'warm');
  const oci20 = get('oci', 'warm20');
  const docker = get('docker', 'warm');
  p();
  p('where the daemonless warm time goes (loopback / limited), sitepipe step durations:');
  const stepLine = (f: Figures | undefined) =>
    f
      ? Object.entries(f.steps)
          .map(([k, v]) => `${k} ${s(v)}`)
          .join(', ')
      : 'n/a';
  p(
    `  loopback:  ${stepLine(oci)}  (after the push: ${s(oci?.afterPushMs)} s; child wall incl. node+tsx start-up ${s(oci?.wallMs)} s)`,
  );
  p(`  @${MBPS}MB/s: ${stepLine(oci20)}`);
  const uploadLine = (name: string, f: Figures | undefined) => {
    if (!f) return;
    const blobs = f.uploads.filter((u) => u.key !== 'PUT manifests');
    p(
      `  ${name}: ${blobs.length} blob upload request(s), ${mb(
        blobs.reduce((n, u) => n + u.bytes, 0),
        2,
      )} MB, ` + `in flight ${s(uploadBusyMs(blobs))} s; ${f.uploads.length - blobs.length} manifest PUT(s)`,
    );
  };
  uploadLine(`daemonless uploads, loopback`, oci);
  uploadLine(`daemonless uploads, ${MBPS} MB/s`, oci20);
  for (const line of oci?.logs.filter((l) => /^\[image\] uploaded/.test(l)) ?? []) p(`  loopback  ${line}`);
  for (const line of oci20?.logs.filter((l) => /^\[image\] uploaded/.test(l)) ?? [])
    p(`  @${MBPS}MB/s ${line}`);
  const pr = r.profile;
  const imageMs = oci?.steps.image;
  p(
    `  image step ${s(imageMs)} s (it starts with the render and waits for it), re-done in-process on the last render (${pr.files} files):` +
      ` list+stat with globby ${s(pr.listMs)} s; sha256 of every file ${s(pr.hashOnlyMs)} s (not done per build: media hashes are kept by size+mtime,` +
      ` pages are hashed as they are tarred); planSiteLayers (list+stat, once per build) ${s(pr.planMs)} s`,
  );
  p(
    `  ${pr.pages.name} layer, the biggest text layer (${mb(pr.pages.tarBytes)} MB in ${pr.layers.find((l) => l.name === pr.pages.name)?.files} files -> ${mb(pr.pages.current.size, 2)} MB gzip -6):` +
      ` writeLayer ${s(pr.pages.current.ms)} s, of which tarChunks alone ${s(pr.pages.tarOnlyMs)} s`,
  );
  p(
    `  ${pr.assetBucket.name} (rebuilt only when its media changes): gzip -1 ${mb(pr.assetBucket.size)} MB in ${s(pr.assetBucket.ms)} s;` +
      ` the pages layer takes ${s((pr.pages.current.size / (MBPS * 1e6)) * 1000)} s on the wire at ${MBPS} MB/s`,
  );
  p(`  layers: ${pr.layers.map((l) => `${l.name} ${l.files} files ${mb(l.bytes)} MB`).join(', ')}`);
  if (oci?.steps.render != null) {
    p(
      `  daemonless warm minus its own render step: ${s(oci.ms - oci.steps.render)} s loopback, ` +
        `${s((oci20?.ms ?? 0) - (oci20?.steps.render ?? 0))} s at ${MBPS} MB/s (less sensitive to load than the ratios)`,
    );
  }
  if (docker) p(`  docker path steps (loopback): ${stepLine(docker)}`);
  const peer = get('peer', 'warm');
  if (peer) p(`  umoci+skopeo parts (loopback): ${stepLine(peer)}`);

  // Ratios, targets, the key=value line.
  const warmOverRender = ratio(oci?.ms, r.renderWarm.ms);
  const warmOverRender20 = ratio(oci20?.ms, r.renderWarm20.ms);
  const uploadRatio = ratio(oci?.up, docker?.up);
  const vsPeer = ratio(oci?.ms, peer?.ms);
  const vsPeer20 = ratio(oci20?.ms, get('peer', 'warm20')?.ms);
  const peak = Math.max(...(['cold', 'warm', 'warm20'] as Phase[]).map((ph) => get('oci', ph)?.rssSelf ?? 0));
  const peak2x = r.twice ? Math.max(r.twice.cold.rssSelf ?? 0, r.twice.warm.rssSelf ?? 0) : null;
  const flat = peak2x == null ? null : peak2x / peak;
  p();
  if (r.twice) {
    p(
      `daemonless peak RSS (node process): ${mb(peak, 0)} MB at ${POSTS} posts/${IMAGES} images; ` +
        `${mb(peak2x, 0)} MB at ${r.twice.posts}/${r.twice.images} (cold ${s(r.twice.cold.ms)} s, warm ${s(r.twice.warm.ms)} s,` +
        ` edit upload ${mb(r.twice.warm.up, 2)} MB); hugo's peak ${mb(Math.max(r.twice.cold.rssTree ?? 0, r.twice.warm.rssTree ?? 0), 0)} MB`,
    );
  }
  const met = (ok: boolean | null) => (ok == null ? 'n/a' : ok ? 'met' : 'NOT met');
  const { edit, noop, chain } = r.delta;
  const overFloor = ratio(oci?.up, edit.floor.bytes);
  const pullOverFloor = ratio(edit.pull, edit.floor.bytes);
  const noopExtra = noop.fig.ms - noop.renderMs;
  const chainOverRender = ratio(chain.last.ms, chain.renderMs);
  p('delta layers (issue 13): a one-post edit, loopback, side by side (MB)');
  p(
    `  daemonless upload ${mb(oci?.up, 3)} | floor ${mb(edit.floor.bytes, 3)} (gzip -6 of the ${edit.floor.files} files whose bytes changed)`,
  );
  p(
    `  node pull (has the previous release) ${mb(edit.pull, 3)} | docker path upload ${mb(docker?.up, 2)} | umoci+skopeo upload ${mb(peer?.up, 2)}`,
  );
  p(
    `  no-op commit (README only): ${s(noop.fig.ms)} s against hugo alone ${s(noop.renderMs)} s (+${s(noopExtra)} s), uploaded ${(noop.fig.up / 1e3).toFixed(1)} KB,` +
      ` new layers: ${noop.newLayers.map((l) => `${(l.size / 1e3).toFixed(1)} KB`).join(', ') || 'none'} (the server layer names the release)`,
  );
  p(
    `  after ${chain.up.length} more one-post edits: ${chain.layers} layers (base included), image ${mb(chain.bytes)} MB, last warm ${s(chain.last.ms)} s` +
      ` against hugo alone ${s(chain.renderMs)} s (${rx(chainOverRender)}); uploads per edit ${chain.up.map((u) => mb(u, 2)).join(' ')}`,
  );
  for (const line of chain.kinds) p(`  last edit ${line}`);
  p();
  p('targets (issue 13; reported, not asserted):');
  p(
    `  upload <= 1.5x the floor:                 ${rx(overFloor)}  ${met(overFloor == null ? null : overFloor <= 1.5)}`,
  );
  p(
    `  upload <= 1% of the Docker path's:        ${r2(uploadRatio)}  ${met(uploadRatio == null ? null : uploadRatio <= 0.01)}`,
  );
  p(
    `  node pull <= 1.5x the floor:              ${rx(pullOverFloor)}  ${met(pullOverFloor == null ? null : pullOverFloor <= 1.5)}`,
  );
  p(
    `  warm <= 1.05x render, loopback:           ${rx(warmOverRender)}  ${met(warmOverRender == null ? null : warmOverRender <= 1.05)}`,
  );
  p(`  no-op commit <= 0.3 s beyond the render:  +${s(noopExtra)} s  ${met(noopExtra <= 300)}`);
  p(`  peak memory flat (2x site <= 1.25x RSS):  ${rx(flat)}  ${met(flat == null ? null : flat <= 1.25)}`);
  p();
  p('targets (earlier issues; reported, not asserted):');
  p(
    `  warm within 1.25x of render, loopback:   ${rx(warmOverRender)}  ${met(warmOverRender == null ? null : warmOverRender <= 1.25)}`,
  );
  p(
    `  warm within 1.5x of render, ${MBPS} MB/s:    ${rx(warmOverRender20)}  ${met(warmOverRender20 == null ? null : warmOverRender20 <= 1.5)}`,
  );
  p(
    `  edit upload <= 0.10 of the Docker path's: ${r2(uploadRatio)}  ${met(uploadRatio == null ? null : uploadRatio <= 0.1)}`,
  );
  p(
    `  faster than umoci+skopeo, both links:    ${r2(vsPeer)} / ${r2(vsPeer20)}  ${met(vsPeer == null || vsPeer20 == null ? null : vsPeer < 1 && vsPeer20 < 1)}`,
  );
  p(`  peak memory flat (2x site <= 1.25x RSS): ${rx(flat)}  ${met(flat == null ? null : flat <= 1.25)}`);
  p();
  const kv: Record<string, string> = {
    posts: String(POSTS),
    images: String(IMAGES),
    mbps: String(MBPS),
    commit_time: PIN ? 'pinned' : 'real',
    render_s: s(r.renderWarm.ms),
    warm_oci_s: s(oci?.ms),
    [`warm_oci_${MBPS}mbs_s`]: s(oci20?.ms),
    warm_docker_s: s(docker?.ms),
    warm_peer_s: s(peer?.ms),
    oci_non_render_s: oci?.steps.render == null ? 'n/a' : s(oci.ms - oci.steps.render),
    [`oci_non_render_${MBPS}mbs_s`]: oci20?.steps.render == null ? 'n/a' : s(oci20.ms - oci20.steps.render),
    warm_over_render: r2(warmOverRender),
    [`warm_over_render_${MBPS}mbs`]: r2(warmOverRender20),
    upload_oci_mb: mb(oci?.up, 2),
    upload_docker_mb: mb(docker?.up, 2),
    upload_peer_mb: mb(peer?.up, 2),
    upload_ratio: r2(uploadRatio),
    vs_peer: r2(vsPeer),
    [`vs_peer_${MBPS}mbs`]: r2(vsPeer20),
    peak_rss_mb: mb(peak, 0),
    peak_rss_mb_2x: peak2x == null ? 'n/a' : mb(peak2x, 0),
    cold_docker_s: s(get('docker', 'cold')?.ms),
    cold_oci_s: s(get('oci', 'cold')?.ms),
    cold_peer_s: s(get('peer', 'cold')?.ms),
    floor_s: s(r.floorMs),
    floor_mb: mb(edit.floor.bytes, 3),
    pull_mb: mb(edit.pull, 3),
    upload_over_floor: r2(overFloor),
    pull_over_floor: r2(pullOverFloor),
    noop_extra_s: s(noopExtra),
    noop_upload_kb: (noop.fig.up / 1e3).toFixed(1),
    chain_edits: String(chain.up.length),
    chain_layers: String(chain.layers),
    chain_image_mb: mb(chain.bytes),
    chain_warm_s: s(chain.last.ms),
    chain_over_render: r2(chainOverRender),
    bench_s: s(r.elapsedMs),
  };
  p(
    Object.entries(kv)
      .map(([k, v]) => `${k}=${v}`)
      .join(' '),
  );
  process.stdout.write(`${out.join('\n')}\n`);
}

if (!hasGnuTime)
  log('note: /usr/bin/time not found; peak RSS of child processes is read with python3 os.wait4');
main().catch((e: unknown) => {
  log(`bench failed: ${(e as Error).stack ?? e}`);
  process.exitCode = 1;
});

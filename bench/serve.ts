/**
 * npx tsx bench/serve.ts [--deliveries 10000] [--clients 16] [--source]
 *
 * `sitepipe serve` under load, as its own process, on the tiny test site and the registry on
 * 127.0.0.1:5000. Figures only, nothing asserted:
 *   - signed GitHub pushes verified and committed per second while a build runs (aim: >= 500/s),
 *     and the p99 time to the 202 under that load (aim: <= 50 ms);
 *   - the time a run adds on top of the same pipeline run directly (fetch + worktree; aim: <= 1 s);
 *   - the server's memory after 100 deliveries and after all of them (aim: flat).
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { packageRoot } from '../pipeline/paths.js';
import type { Run } from '../pipeline/serve/store.js';
import { githubHeaders, githubPush, post } from '../test/helpers/serve-deliveries.js';
import { removeServeConfigs, serveConfig, startServe, WEBHOOK_SECRET } from '../test/helpers/serve-server.js';
import { serveSite } from '../test/helpers/serve-site.js';

const { values: flags } = parseArgs({
  options: {
    deliveries: { type: 'string', default: '10000' },
    clients: { type: 'string', default: '16' },
    /** Run the TypeScript sources through tsx (as the tests do) instead of the build in dist/. */
    source: { type: 'boolean', default: false },
  },
});
const TOTAL = Number(flags.deliveries);
const CLIENTS = Number(flags.clients);

const ROOT = packageRoot();
if (!flags.source)
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], {
    cwd: ROOT,
  });
/** The pipeline's child entry, compiled or through tsx. */
const childArgs = flags.source
  ? [
      '--import',
      pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href,
      join(ROOT, 'pipeline/serve/child.ts'),
    ]
  : [join(ROOT, 'dist/pipeline/serve/child.js')];

const site = await serveSite(`127.0.0.1:5000/serve-bench-${Date.now()}`);
const serve = await startServe(
  await serveConfig(site.remote, { branches: ['master'] }),
  {},
  flags.source ? 'source' : 'dist',
);
const runs = async () =>
  ((await (await fetch(`${serve.url}/runs?limit=1000`)).json()) as { runs: Run[] }).runs;
const idle = async () => {
  for (;;) {
    const all = await runs();
    if (all.every((r) => r.status !== 'queued' && r.status !== 'running')) return all;
    await new Promise((r) => setTimeout(r, 200));
  }
};
const metric = async (name: string) => {
  const text = await (await fetch(`${serve.url}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
};
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
let sent = 0;

/** Signed pushes to a branch serve does not build: each one verified and committed, no run. */
async function load(count: number): Promise<number[]> {
  const latencies: number[] = [];
  const client = async () => {
    while (sent < count) {
      sent++;
      const body = JSON.stringify(
        githubPush({ branch: `load-${sent % 7}`, after: 'a'.repeat(40), message: `load ${sent}` }),
      );
      const started = performance.now();
      const answer = await post(
        `${serve.url}/hooks/github`,
        githubHeaders('push', body, WEBHOOK_SECRET),
        body,
      );
      latencies.push(performance.now() - started);
      if (answer.status !== 202) throw new Error(`answer ${answer.status}: ${answer.body}`);
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, client));
  return latencies;
}

// Warm up (first run fills the mirror and the caches), then keep a build going during the load.
const head = await site.git('rev-parse', 'HEAD');
const push = (commit: string) =>
  post(
    `${serve.url}/hooks/github`,
    githubHeaders('push', JSON.stringify(githubPush({ branch: 'master', after: commit })), WEBHOOK_SECRET),
    JSON.stringify(githubPush({ branch: 'master', after: commit })),
  );
await push(head);
await idle();

await load(100);
const rss100 = await metric('process_resident_memory_bytes');
const heap100 = await metric('nodejs_heap_size_used_bytes');

let building = true;
const builds = (async () => {
  let n = 0;
  while (building) {
    await push(await site.commitAndPush('master', `bench build ${n++}`));
    await new Promise((r) => setTimeout(r, 1000));
  }
})();
await new Promise((r) => setTimeout(r, 1500));
const cpuMs = () => {
  // utime + stime of the server process, in clock ticks (100 per second on Linux).
  const stat = readFileSync(`/proc/${serve.child.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
};
const cpuBefore = cpuMs();
const started = performance.now();
const latencies = await load(TOTAL);
const seconds = (performance.now() - started) / 1000;
const cpuPerDelivery = (cpuMs() - cpuBefore) / TOTAL;
building = false;
await builds;
const rssAll = await metric('process_resident_memory_bytes');
const heapAll = await metric('nodejs_heap_size_used_bytes');
await idle();

// A new commit straight through the pipeline's child entry, then another through serve: each the
// first build of its commit, each in a warm state dir.
const stateDir = await mkdtemp(join(tmpdir(), 'sitepipe-bench-state-'));
const direct = () =>
  new Promise<number>((resolve) => {
    const t = spawn(process.execPath, [...childArgs, join(site.work, 'sitepipe.yaml'), stateDir], {
      cwd: site.work,
      env: { ...process.env, BRANCH_NAME: 'master' },
      stdio: ['pipe', 'ignore', 'inherit'],
    });
    t.on('close', (code) => resolve(code ?? 1));
  });
await direct(); // warms the direct state dir, as the branch's state dir is warm in serve
const directTimes: number[] = [];
const serveTimes: number[] = [];
let served: Run | undefined;
for (let i = 0; i < 3; i++) {
  await site.commitAndPush('master', `bench direct ${i}`);
  const t1 = Date.now();
  if ((await direct()) !== 0) throw new Error('the direct run failed');
  directTimes.push(Date.now() - t1);
  const commit = await site.commitAndPush('master', `bench serve ${i}`);
  await push(commit);
  served = (await idle()).find((r) => r.commit === commit);
  serveTimes.push(Date.parse(served?.finishedAt ?? '') - Date.parse(served?.startedAt ?? ''));
}
const all = await runs();
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0;
const directMs = median(directTimes);
const serveMs = median(serveTimes);
const log = await (await fetch(`${serve.url}/runs/${served?.id}/log`)).text();
const checkoutMs = Number(/checked out .* \((\d+) ms\)/.exec(log)?.[1]);
const removeMs = Number(/removed the worktree \((\d+) ms\)/.exec(log)?.[1]);

latencies.sort((a, b) => a - b);
const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
const rate = TOTAL / seconds;
console.log(
  `deliveries: ${TOTAL} from ${CLIENTS} clients in ${seconds.toFixed(1)} s while builds ran: ${rate.toFixed(0)}/s (aim >= 500) ${rate >= 500 ? 'met' : 'NOT met'}`,
);
console.log(
  `time to the 202: p50 ${p(0.5).toFixed(1)} ms, p99 ${p(0.99).toFixed(1)} ms (aim <= 50) ${p(0.99) <= 50 ? 'met' : 'NOT met'}, max ${p(1).toFixed(1)} ms`,
);
console.log(
  `server CPU per delivery (its process alone, whatever else runs): ${cpuPerDelivery.toFixed(2)} ms, i.e. ${(1000 / cpuPerDelivery).toFixed(0)}/s per core`,
);
console.log(`runs: ${all.length}`);
console.log(
  `load average at the end: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} on ${cpus().length} cores (other work on the machine counts)`,
);
console.log(
  `a run through serve (median of 3): ${serveMs} ms from its start to its end; the same pipeline run directly: ${directMs} ms (added ${serveMs - directMs} ms); of that, fetch + worktree add ${checkoutMs} ms, worktree remove ${removeMs} ms (aim: added <= 1 s) ${checkoutMs + removeMs <= 1000 ? 'met' : 'NOT met'}`,
);
console.log(
  `memory: after 100 deliveries RSS ${mb(rss100)}, heap ${mb(heap100)}; after ${TOTAL + 100}: RSS ${mb(rssAll)}, heap ${mb(heapAll)}`,
);
serve.child.kill('SIGTERM');
await serve.exited;
await site.remove();
await removeServeConfigs();

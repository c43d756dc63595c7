/**
 * npm run bench's single-host figures: `tsx bench/host.ts [--posts 3000] [--images 300]`.
 * Renders the bench's blog with Hugo, publishes it to this machine over SSH (the test rig:
 * its own sshd, Caddy and Pebble on loopback), then a one-post edit, and prints:
 * - bytes rsync sent over SSH for the whole site and for the edit, against the changed files
 *   (raw and gzipped, as in delta.ts) — the aim is at most 2x the changed files;
 * - the time from the end of the edit's render to the switch (Caddy reloaded), and its parts.
 * Figures only: nothing is asserted. Nothing leaves 127.0.0.0/8.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { openTarget } from '../pipeline/deploy-target.js';
import { initHosts } from '../pipeline/host/init.js';
import { requireHostDeploy } from '../pipeline/host/layout.js';
import { filesUnder } from '../pipeline/paths.js';
import type { DeployResult } from '../pipeline/records.js';
import { hugoBuildArgs } from '../steps/render.js';
import { startHostRig } from '../test/helpers/caddy-host.js';
import { hostDeployInputs } from '../test/helpers/host-inputs.js';
import { changedFloor } from './delta.js';
import { generateSite } from './site.js';

const { values } = parseArgs({
  options: { posts: { type: 'string', default: '3000' }, images: { type: 'string', default: '300' } },
});
const log = (m: string) => process.stdout.write(`${m}\n`);
const mb = (b: number) => `${(b / 1e6).toFixed(2)} MB`;

const rig = await startHostRig();
const site = await generateSite({
  posts: Number(values.posts),
  images: Number(values.images),
  parent: rig.dir,
});
try {
  const ctx = rig.context();
  const timings: Record<string, number> = {};
  let t0 = 0;
  ctx.log.info = (m: string) => {
    if (m.includes(': sent ')) timings.uploaded = Date.now() - t0;
    if (m.includes(': switched ')) timings.switched = Date.now() - t0;
  };
  await initHosts(ctx, requireHostDeploy(ctx.config));
  const render = async (name: string) => {
    const out = join(rig.dir, 'public', name);
    const start = Date.now();
    await execa(
      'hugo',
      hugoBuildArgs(site.dir, out, {
        cacheDir: join(rig.dir, 'hugo-cache'),
        baseURL: 'https://www.site.test/',
      }),
    );
    const files = filesUnder(out);
    const bytes = files.reduce((n, f) => n + readFileSync(join(out, f)).length, 0);
    return { out, files: files.length, bytes, ms: Date.now() - start };
  };
  const publish = async (commit: string, r: Awaited<ReturnType<typeof render>>): Promise<DeployResult> => {
    t0 = Date.now();
    const result = await (await openTarget(ctx)).deploy(
      hostDeployInputs(commit, r.out, { files: r.files, bytes: r.bytes, durationMs: r.ms }),
    );
    timings.done = Date.now() - t0;
    return result;
  };
  const ssh = async () => {
    const start = Date.now();
    await execa('ssh', [
      '-p',
      String(rig.sshd.port),
      '-i',
      rig.sshd.identityFile,
      '-o',
      `UserKnownHostsFile=${rig.sshd.knownHostsFile}`,
      '-o',
      'BatchMode=yes',
      'root@127.0.0.1',
      'true',
    ]);
    return Date.now() - start;
  };

  const first = await render('first');
  const whole = await publish(await site.git('rev-parse', 'HEAD'), first);
  log(
    `site: ${site.posts} posts, ${site.images} images; ${first.files} files, ${mb(first.bytes)} rendered in ${(first.ms / 1000).toFixed(1)} s`,
  );
  log(
    `whole site, first publish: ${mb(whole.servers[0]?.bytesSent ?? 0)} over SSH (${whole.servers[0]?.filesSent} files) in ${(timings.done / 1000).toFixed(2)} s`,
  );

  const commit = await site.editPost(Math.floor(site.posts / 2), 'An edited sentence.');
  const second = await render('second');
  const floor = changedFloor(first.out, second.out);
  const changedRaw = filesUnder(second.out)
    .filter((f) => {
      try {
        return !readFileSync(join(first.out, f)).equals(readFileSync(join(second.out, f)));
      } catch {
        return true;
      }
    })
    .reduce((n, f) => n + readFileSync(join(second.out, f)).length, 0);
  const edit = await publish(commit, second);
  const sent = edit.servers[0]?.bytesSent ?? 0;
  log(`one-post edit: ${floor.files} files changed, ${mb(changedRaw)} raw, ${mb(floor.bytes)} gzipped`);
  log(
    `  sent over SSH: ${mb(sent)} in ${edit.servers[0]?.filesSent} files = ${(sent / changedRaw).toFixed(2)}x the changed files raw, ${(sent / floor.bytes).toFixed(2)}x gzipped, ${((100 * sent) / (whole.servers[0]?.bytesSent || 1)).toFixed(1)}% of the whole site`,
  );
  log(
    `  render end -> switch (current renamed): ${(timings.switched / 1000).toFixed(2)} s (lock + upload ${(timings.uploaded / 1000).toFixed(2)} s, switch ${((timings.switched - timings.uploaded) / 1000).toFixed(2)} s); certificate check after: ${((timings.done - timings.switched) / 1000).toFixed(2)} s`,
  );
  log(
    `  one SSH connection (key exchange and a command) for comparison: ${await ssh()} ms, ${await ssh()} ms`,
  );
  log(
    `  load average at the end: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} on ${(await import('node:os')).cpus().length} CPUs`,
  );
} finally {
  await site.remove();
  await rig.stop();
}

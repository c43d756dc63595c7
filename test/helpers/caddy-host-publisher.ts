/**
 * A publish in a process of its own, for tests that kill it with SIGKILL at a chosen point:
 * `node --import tsx caddy-host-publisher.ts '<json>'`. With pauseAfterUpload it stops dead
 * right after the upload (before the switch), so the kill lands there deterministically.
 */
import { parseConfig } from '../../pipeline/config.js';
import { openTarget } from '../../pipeline/deploy-target.js';
import { testContext } from './context.js';

interface Job {
  configYaml: string;
  siteDir: string;
  treeDir: string;
  commit: string;
  files: number;
  bytes: number;
  pauseAfterUpload?: boolean;
}

const job = JSON.parse(process.argv[2] ?? '{}') as Job;
const ctx = testContext({ siteDir: job.siteDir, config: parseConfig(job.configYaml, 'test') });
ctx.log.info = (m: string) => {
  process.stdout.write(`${m}\n`);
  if (job.pauseAfterUpload && m.includes(': sent ')) {
    process.stdout.write('PAUSED\n');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
  }
};
const { commit } = job;
const tag = commit.slice(0, 12);
const target = await openTarget(ctx);
await target.deploy({
  source: {
    commit,
    shortSha: commit.slice(0, 7),
    branch: 'main',
    commitTime: new Date().toISOString(),
    dirty: false,
    sourceUrl: null,
  },
  tag: { commit, repository: 'r', tags: [tag], commitTag: tag, branchTag: 'main' },
  push: { commit, repository: 'r', tags: [], digest: `sha256:${'0'.repeat(64)}` },
  render: {
    outputDir: job.treeDir,
    files: job.files,
    bytes: job.bytes,
    durationMs: 1,
    hugoVersion: 'x',
    commit,
    baseURL: 'https://www.site.test/',
    basePath: '/',
  },
});
process.stdout.write('DONE\n');

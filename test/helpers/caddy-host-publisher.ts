/**
 * A publish in a process of its own, for tests that kill it with SIGKILL at a chosen point:
 * `node --import tsx caddy-host-publisher.ts '<json>'`. With pauseAfterUpload it stops dead
 * right after the upload (before the switch), so the kill lands there deterministically.
 */
import { parseConfig } from '../../pipeline/config.js';
import { openTarget } from '../../pipeline/deploy-target.js';
import { testContext } from './context.js';
import { hostDeployInputs } from './host-inputs.js';

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
const target = await openTarget(ctx);
await target.deploy(hostDeployInputs(commit, job.treeDir, job));
process.stdout.write('DONE\n');

/**
 * Runs the real sitepipe pipeline in this process (as test/helpers/run.ts does) and writes
 * what the bench needs to a JSON file: the time from the first step to the push step's end
 * (module loading excluded), the housekeeping after it, each step's duration, the image
 * step's figures and this process's own peak RSS.
 *
 *   node --import tsx bench/child.ts CONFIG STATE_DIR CACHE_DIR OUT_JSON
 */
import { writeFile } from 'node:fs/promises';
import { loadConfig } from '../pipeline/config.js';
import { Reporter } from '../pipeline/output.js';
import { PIPELINE } from '../pipeline/pipeline.js';
import { runPipeline } from '../pipeline/runner.js';

export interface ChildResult {
  ok: boolean;
  error?: string;
  /** Commit to pushed: from the first step to the end of the push step (the tags are set), ms. */
  ms: number;
  /** What runPipeline took after that: afterRun housekeeping (removing the previous render), ms. */
  afterPushMs: number;
  steps: Record<string, number>;
  logs: string[];
  digest: string | null;
  uploadedBytes: number;
  /** This node process alone (not Hugo or other children), bytes. */
  maxRssBytes: number;
}

async function main(): Promise<void> {
  const [config, stateDir, cacheDir, out] = process.argv.slice(2) as [string, string, string, string];
  const lines: string[] = [];
  let pushedAt: number | null = null;
  const reporter = new Reporter('json', {
    write: (t: string) => {
      if (t.includes('"event":"step-end"') && t.includes('"step":"push"')) pushedAt = performance.now();
      lines.push(t);
    },
  });
  const result: ChildResult = {
    ok: false,
    ms: 0,
    afterPushMs: 0,
    steps: {},
    logs: [],
    digest: null,
    uploadedBytes: 0,
    maxRssBytes: 0,
  };
  const loaded = await loadConfig(config);
  const started = performance.now();
  try {
    const outputs = await runPipeline({
      pipeline: PIPELINE,
      // Commit to pushed: every step up to and including push (later steps, e.g. deploy, are not timed).
      only: PIPELINE.slice(0, PIPELINE.findIndex((step) => step.name === 'push') + 1).map(
        (step) => step.name,
      ),
      reporter,
      context: {
        config: loaded.config,
        configPath: loaded.path,
        siteDir: loaded.siteDir,
        stateDir,
        cacheDir,
        dryRun: false,
        allowDirty: false,
        signal: new AbortController().signal,
        env: process.env,
      },
    });
    result.ok = true;
    result.digest = outputs.push?.digest ?? null;
    result.uploadedBytes = outputs.image?.uploadedBytes ?? 0;
  } catch (e) {
    result.error = `${(e as Error).message}\n${((e as { details?: string[] }).details ?? []).join('\n')}`;
  }
  const ended = performance.now();
  result.ms = (pushedAt ?? ended) - started;
  result.afterPushMs = ended - (pushedAt ?? ended);
  for (const line of lines.join('').split('\n').filter(Boolean)) {
    const event = JSON.parse(line) as { event: string; step?: string; ms?: number; message?: string };
    if (event.event === 'step-end' && event.step) result.steps[event.step] = event.ms ?? 0;
    if (event.event === 'log' && event.message) result.logs.push(`[${event.step}] ${event.message}`);
  }
  // ru_maxrss is in kilobytes on Linux.
  result.maxRssBytes = process.resourceUsage().maxRSS * 1024;
  await writeFile(out, JSON.stringify(result));
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);

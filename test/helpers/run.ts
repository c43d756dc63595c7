import { join } from 'node:path';
import { loadConfig } from '../../pipeline/config.js';
import { Reporter } from '../../pipeline/output.js';
import { PIPELINE } from '../../pipeline/pipeline.js';
import type { Outputs } from '../../pipeline/records.js';
import { runPipeline } from '../../pipeline/runner.js';

/** Runs the real pipeline in this process on a site repo; output lines are collected. */
export async function runSteps(opts: {
  config: string;
  only?: string[];
  stateDir?: string;
  cacheDir?: string;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}): Promise<{ outputs: Partial<Outputs>; lines: string }> {
  const chunks: string[] = [];
  const reporter = new Reporter('plain', { write: (t: string) => chunks.push(t) });
  const loaded = await loadConfig(opts.config);
  try {
    const outputs = await runPipeline({
      pipeline: PIPELINE,
      only: opts.only ?? [],
      reporter,
      context: {
        config: loaded.config,
        configPath: loaded.path,
        siteDir: loaded.siteDir,
        stateDir: opts.stateDir ?? join(loaded.siteDir, '.sitepipe'),
        cacheDir: opts.cacheDir ?? join(loaded.siteDir, '.sitepipe', 'cache'),
        dryRun: false,
        allowDirty: false,
        signal: opts.signal ?? new AbortController().signal,
        env: { ...process.env, ...opts.env },
      },
    });
    return { outputs, lines: chunks.join('') };
  } catch (e) {
    Object.assign(e as object, { lines: chunks.join('') });
    throw e;
  }
}

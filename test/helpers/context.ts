import { join } from 'node:path';
import { type Config, parseConfig } from '../../pipeline/config.js';
import { type RunContext, type StepLog, startNow } from '../../pipeline/step.js';

export interface TestContext extends RunContext {
  lines: string[];
  secrets: string[];
}

/** A RunContext for calling one step directly; log lines are collected. */
export function testContext(opts: {
  siteDir: string;
  configYaml?: string;
  config?: Config;
  stateDir?: string;
  env?: NodeJS.ProcessEnv;
  allowDirty?: boolean;
}): TestContext {
  const lines: string[] = [];
  const secrets: string[] = [];
  const config =
    opts.config ??
    parseConfig(
      opts.configYaml ?? 'hugo: { version: 0.111.3 }\nimage: { repository: 127.0.0.1:5000/website }\n',
      'test',
    );
  const log: StepLog = {
    info: (m) => lines.push(m),
    warn: (m) => lines.push(`warning: ${m}`),
    secret: (v) => secrets.push(v),
  };
  return {
    config,
    configPath: join(opts.siteDir, 'sitepipe.yaml'),
    siteDir: opts.siteDir,
    stateDir: opts.stateDir ?? join(opts.siteDir, '.sitepipe'),
    cacheDir: join(opts.siteDir, '.cache'),
    dryRun: false,
    allowDirty: opts.allowDirty ?? false,
    signal: new AbortController().signal,
    env: opts.env ?? process.env,
    log,
    afterRun: startNow(log),
    lines,
    secrets,
  };
}

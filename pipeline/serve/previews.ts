import type { Config } from '../config.js';
import { type RunContext, type StepLog, startNow } from '../step.js';

/**
 * What `sitepipe serve` does when a branch is deleted on the remote: removes that branch's
 * preview (deploy.previews in the server's config), as `sitepipe previews delete` does, on
 * either target. Null when the config has no previews.
 */
export function previewReaper(
  config: Config,
  paths: { configPath: string; siteDir: string; stateDir: string; cacheDir: string },
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): ((branch: string) => Promise<void>) | null {
  if (!config.deploy?.previews) return null;
  return async (branch) => {
    const stepLog: StepLog = {
      info: (m) => log(`previews: ${m}`),
      warn: (m) => log(`previews: warning: ${m}`),
      secret: () => undefined,
    };
    const ctx: RunContext = {
      config,
      ...paths,
      dryRun: false,
      allowDirty: false,
      signal: new AbortController().signal,
      env,
      log: stepLog,
      afterRun: startNow(stepLog),
    };
    const { deletePreview, listPreviews } =
      config.deploy?.target === 'host'
        ? await import('../host/previews.js')
        : await import('../kube/previews.js');
    const preview = (await listPreviews(ctx)).find((p) => p.branch === branch);
    if (!preview) return; // never previewed (or removed already)
    const removed = await deletePreview(ctx, preview);
    log(`previews: ${branch} was deleted, so its preview is gone: ${removed.join(', ')}`);
  };
}

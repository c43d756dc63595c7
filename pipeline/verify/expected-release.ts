import type { Config } from '../config.js';
import type { ReleaseExpectation } from './checks.js';
import { liveRelease } from './live-release.js';

/** What the deploy target serves now: a host's `current` release, or the live Deployment's commit. */
async function live(config: Config, env: NodeJS.ProcessEnv): Promise<ReleaseExpectation> {
  if (config.deploy?.target === 'host')
    return (await import('../host/live-release.js')).liveHostRelease(config);
  return liveRelease(config, env);
}

/**
 * What `sitepipe verify --release X` expects. Without the flag: nothing with image.releaseHeader
 * off; the live Deployment's commit with a deploy: section; else only that every address serves
 * the same release.
 */
export async function expectedRelease(
  flag: string | undefined,
  config: Config,
  env: NodeJS.ProcessEnv,
): Promise<ReleaseExpectation> {
  switch (flag) {
    case undefined:
      if (!config.image.releaseHeader) return { mode: 'off' };
      return config.deploy ? live(config, env) : { mode: 'same' };
    case 'off':
      return { mode: 'off' };
    case 'any':
      return { mode: 'same' };
    case 'live':
      return live(config, env);
    default:
      return { mode: 'expect', release: flag, from: '--release' };
  }
}

import type { Config } from '../config.js';
import type { ReleaseExpectation } from './checks.js';
import { liveRelease } from './live-release.js';

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
      return config.deploy ? liveRelease(config, env) : { mode: 'same' };
    case 'off':
      return { mode: 'off' };
    case 'any':
      return { mode: 'same' };
    case 'live':
      return liveRelease(config, env);
    default:
      return { mode: 'expect', release: flag, from: '--release' };
  }
}

import type { Config } from '../config.js';
import { SitepipeError } from '../errors.js';
import type { ReleaseExpectation } from '../verify/checks.js';
import { requireHostDeploy } from './layout.js';
import { lockServer } from './lock.js';

/**
 * The release a host target serves, for `sitepipe verify` without --release: what `current`
 * points to on the first server (the others must agree: verify then checks every address).
 */
export async function liveHostRelease(
  config: Config,
  signal: AbortSignal = AbortSignal.timeout(60_000),
): Promise<ReleaseExpectation> {
  const hd = requireHostDeploy(config);
  const [server] = hd.servers;
  if (!server) throw new Error('a host target has at least one server');
  const { state } = await lockServer(server, server.layout.root, {
    holder: '',
    waitSeconds: 0,
    signal,
    create: false,
    lock: false,
  });
  if (!state.live) {
    throw new SitepipeError(
      'VERIFY_RELEASE_UNKNOWN',
      `${server.name} has no live release under ${server.layout.root}, so the live release is unknown`,
      'publish one (sitepipe run), or pass --release COMMIT (or --release any)',
    );
  }
  return { mode: 'expect', release: state.live, from: `the live release on ${server.name}` };
}

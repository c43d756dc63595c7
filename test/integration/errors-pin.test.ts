import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { resolveRelease } from '../../pipeline/commands/deploy.js';
import { testContext } from '../helpers/context.js';
import { expectCode } from '../helpers/expect-code.js';
import { SETUP_REGISTRY } from '../helpers/registry.js';

describe('pin of a commit with no image', () => {
  it('names the commit as given, with no ???? padding', async () => {
    const repository = `${SETUP_REGISTRY}/errors-pin-${randomBytes(4).toString('hex')}/website`;
    const ctx = testContext({
      siteDir: '/nonexistent',
      configYaml: `hugo: { version: 0.111.3 }\nimage: { repository: ${repository} }\nregistry: { credentials: none }\n`,
    });
    const e = await expectCode(resolveRelease(ctx, 'deadbeef'), 'PIN_NOT_FOUND');
    expect(e.message).toContain(`${repository} has no image for deadbeef`);
    expect(e.message).not.toContain('?');
  });
});

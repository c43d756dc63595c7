import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runContext } from '../../pipeline/commands/context.js';
import { packageRoot } from '../../pipeline/paths.js';

describe('sitepipe run --full-layers', () => {
  const config = join(packageRoot(), 'example', 'sitepipe.yaml');
  it('asks the oci builder for full layers, as SITEPIPE_FULL_LAYERS=1 does', async () => {
    const signal = new AbortController().signal;
    expect((await runContext({ config, fullLayers: true }, signal)).env.SITEPIPE_FULL_LAYERS).toBe('1');
    expect((await runContext({ config }, signal)).env.SITEPIPE_FULL_LAYERS).toBe(
      process.env.SITEPIPE_FULL_LAYERS,
    );
  });
});

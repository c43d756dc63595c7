import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectKube } from '../../pipeline/clients/kube.js';
import { problem } from '../helpers/expect-code.js';
import { tempDir } from '../helpers/temp.js';

describe('connectKube without a kubeconfig', () => {
  it('says there is none, where it looked, and how to get one', async () => {
    const home = await tempDir();
    const e = problem(() => connectKube({ HOME: home }));
    expect(e.code).toBe('KUBECONFIG_MISSING');
    expect(e.message).toContain(join(home, '.kube', 'config'));
    expect(e.hint).toMatch(/get-credentials/);
    expect(e.message).not.toMatch(/skipTLSVerify/);
  });

  it('names $KUBECONFIG when that is where it looked', async () => {
    const file = join(await tempDir(), 'nope');
    const e = problem(() => connectKube({ KUBECONFIG: file }));
    expect(e.code).toBe('KUBECONFIG_MISSING');
    expect(e.message).toContain(`${file} (from $KUBECONFIG)`);
  });

  it('loads one that exists', async () => {
    const file = join(await tempDir(), 'config');
    await writeFile(
      file,
      'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]\nusers: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
    );
    expect(connectKube({ KUBECONFIG: file }).config.getCurrentCluster()?.server).toBe(
      'https://127.0.0.1:6443',
    );
  });
});

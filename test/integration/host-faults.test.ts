import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTarget } from '../../pipeline/deploy-target.js';
import { initHosts } from '../../pipeline/host/init.js';
import { requireHostDeploy } from '../../pipeline/host/layout.js';
import type { DeployResult } from '../../pipeline/records.js';
import { type HostRig, startHostRig } from '../helpers/caddy-host.js';
import type { TestContext } from '../helpers/context.js';
import { expectCode } from '../helpers/expect-code.js';
import { hostDeployInputs } from '../helpers/host-inputs.js';
import { freePort } from '../helpers/sshd.js';

const commitOf = (c: string) => c.repeat(40).slice(0, 40);

/** A tree of `files` pages of random (incompressible) bytes plus the release marker. */
async function bigTree(
  dir: string,
  release: string,
  files: number,
  size: number,
): Promise<{ files: number; bytes: number }> {
  await mkdir(join(dir, 'media'), { recursive: true });
  await writeFile(join(dir, 'index.html'), `<meta name="release" content="${release}">\n`);
  for (let i = 0; i < files; i++) await writeFile(join(dir, 'media', `${i}.bin`), randomBytes(size));
  return { files: files + 1, bytes: files * size };
}

describe('the host target when things go wrong (real sshd, rsync, Caddy, Pebble)', () => {
  let rig: HostRig;
  let ctx: TestContext;

  async function deploy(
    c: TestContext,
    name: string,
    tree: (dir: string, release: string) => Promise<{ files: number; bytes: number }>,
  ): Promise<DeployResult> {
    const commit = commitOf(name);
    const dir = join(rig.dir, 'public', `${name}-${randomBytes(3).toString('hex')}`);
    const t = await tree(dir, commit.slice(0, 12));
    return (await openTarget(c)).deploy(hostDeployInputs(commit, dir, t));
  }

  /** A publish in its own process group, killed with SIGKILL (rsync, ssh and all) once `when` says so. */
  async function killedPublish(
    name: string,
    dir: string,
    tree: { files: number; bytes: number },
    when: 'upload' | 'before-switch',
  ) {
    const job = {
      configYaml: rig.configYaml(),
      siteDir: rig.dir,
      treeDir: dir,
      commit: commitOf(name),
      ...tree,
      pauseAfterUpload: when === 'before-switch',
    };
    const child = execa(
      'node',
      [
        '--import',
        'tsx',
        join(import.meta.dirname, '../helpers/caddy-host-publisher.ts'),
        JSON.stringify(job),
      ],
      {
        detached: true,
        reject: false,
        buffer: false,
      },
    );
    const releaseDir = join(rig.root, 'releases', commitOf(name).slice(0, 12));
    await new Promise<void>((resolve) => {
      if (when === 'before-switch') {
        child.stdout?.on('data', (c: Buffer) => {
          if (c.toString().includes('PAUSED')) resolve();
        });
      } else {
        // Kill once some of the tree has arrived: the upload is under way.
        const poll = setInterval(async () => {
          const got = await readdir(join(releaseDir, 'media')).catch(() => []);
          if (got.length >= 3) {
            clearInterval(poll);
            resolve();
          }
        }, 5);
      }
    });
    process.kill(-(child.pid as number), 'SIGKILL');
    await child;
    return releaseDir;
  }

  beforeAll(async () => {
    rig = await startHostRig();
    ctx = rig.context();
    await initHosts(ctx, requireHostDeploy(ctx.config));
    await deploy(ctx, 'a', (dir, r) => bigTree(dir, r, 5, 1000));
  });
  afterAll(async () => {
    await rig?.stop();
  });

  const serving = async () => (await rig.get('/')).headers['sitepipe-release'];

  it('a publish killed during the upload leaves the live release serving; the rerun sends only what is missing', async () => {
    const dir = join(rig.dir, 'public', 'b');
    const tree = await bigTree(dir, 'bbbbbbbbbbbb', 200, 100_000);
    const releaseDir = await killedPublish('b', dir, tree, 'upload');
    expect(await readlink(join(rig.root, 'current'))).toBe('releases/aaaaaaaaaaaa');
    expect(await serving()).toBe('aaaaaaaaaaaa');
    const arrived = (await readdir(join(releaseDir, 'media'))).filter((f) => !f.startsWith('.')).length;
    const result = await (await openTarget(ctx)).deploy(hostDeployInputs(commitOf('b'), dir, tree));
    const sent = result.servers[0]?.filesSent ?? -1;
    expect(sent).toBeLessThanOrEqual(tree.files - arrived);
    expect(sent).toBeGreaterThan(0);
    expect(await serving()).toBe('bbbbbbbbbbbb');
  });

  it('a publish killed just before the switch leaves the live release serving and frees the lock; the rerun sends nothing', async () => {
    const dir = join(rig.dir, 'public', 'c');
    const tree = await bigTree(dir, 'cccccccccccc', 20, 1000);
    const job = killedPublish('c', dir, tree, 'before-switch');
    await job;
    expect(await readlink(join(rig.root, 'current'))).toBe('releases/bbbbbbbbbbbb');
    expect(await serving()).toBe('bbbbbbbbbbbb');
    const result = await (await openTarget(ctx)).deploy(hostDeployInputs(commitOf('c'), dir, tree));
    expect(result.servers[0]?.filesSent).toBe(0);
    expect(await serving()).toBe('cccccccccccc');
  });

  it('a second publish while one holds the lock fails with DEPLOY_LOCKED, naming the holder', async () => {
    const { lockServer } = await import('../../pipeline/host/lock.js');
    const [server] = requireHostDeploy(ctx.config).servers;
    const held = await lockServer(server as never, rig.root, {
      holder: 'the other deploy',
      waitSeconds: 0,
      signal: ctx.signal,
    });
    try {
      const err = await expectCode(
        deploy(ctx, 'd', (dir, r) => bigTree(dir, r, 1, 10)),
        'DEPLOY_LOCKED',
      );
      expect(err.message).toContain('the other deploy');
    } finally {
      await held.release();
    }
    expect(await serving()).toBe('cccccccccccc');
  });

  it('an unreachable host, an unknown and a wrong host key: each its own error, nothing changes', async () => {
    const port = await freePort();
    const down = rig.context({ server: { ssh: `root@127.0.0.1:${port}` } });
    const e1 = await expectCode(
      deploy(down, 'd', (dir, r) => bigTree(dir, r, 1, 10)),
      'HOST_UNREACHABLE',
    );
    expect(e1.hint).toContain('ssh -v');
    const empty = join(rig.dir, 'known_hosts.empty');
    await writeFile(empty, '');
    await expectCode(
      deploy(rig.context({ server: { knownHostsFile: empty } }), 'd', (dir, r) => bigTree(dir, r, 1, 10)),
      'HOST_KEY_REJECTED',
    );
    const e3 = await expectCode(
      deploy(rig.context({ server: { knownHostsFile: rig.sshd.wrongKnownHostsFile } }), 'd', (dir, r) =>
        bigTree(dir, r, 1, 10),
      ),
      'HOST_KEY_REJECTED',
    );
    expect(e3.message).toContain('not the one known_hosts has');
    expect(await serving()).toBe('cccccccccccc');
  });

  it('no permission on the root, and a full disk: clear errors, the live release still serving', async () => {
    const ro = join(rig.dir, 'ro');
    const small = join(rig.dir, 'small');
    await mkdir(ro, { recursive: true });
    await mkdir(small, { recursive: true });
    await execa('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', ro]);
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', small]);
    try {
      const e1 = await expectCode(
        deploy(rig.context({ root: join(ro, 'website') }), 'd', (dir, r) => bigTree(dir, r, 1, 10)),
        'HOST_ROOT_PERMISSION',
      );
      expect(e1.hint).toContain('deploy.host.root');
      // A small release goes live on the small disk, then one that does not fit.
      const onSmall = rig.context({ root: join(small, 'website') });
      await deploy(onSmall, 'e', (dir, r) => bigTree(dir, r, 2, 1000));
      const e2 = await expectCode(
        deploy(onSmall, 'f', (dir, r) => bigTree(dir, r, 30, 100_000)),
        'HOST_DISK_FULL',
      );
      expect(e2.hint).toContain('deploy.host.keep');
      expect(await readlink(join(small, 'website', 'current'))).toBe('releases/eeeeeeeeeeee');
      expect(await serving()).toBe('eeeeeeeeeeee');
    } finally {
      await execa('umount', [ro]);
      // Caddy serves from the small disk: go back to the main root before it goes.
      await deploy(ctx, 'c', (dir, r) => bigTree(dir, r, 20, 1000));
      await execa('umount', ['-l', small]);
    }
    expect(await serving()).toBe('cccccccccccc');
  });

  it('two hosts: a switch that fails on one switches the other back, and the error says what each serves', async () => {
    const deadAdmin = `127.0.0.1:${await freePort()}`;
    const two = rig.context({
      more: [
        {
          root: join(rig.dir, 'srv2', 'website'),
          caddy: { adminAddress: deadAdmin, siteFile: join(rig.dir, 'srv2.caddy') },
        },
      ],
    });
    const err = await expectCode(
      deploy(two, 'g', (dir, r) => bigTree(dir, r, 3, 1000)),
      'HOST_SWITCH_FAILED',
    );
    const [first, second] = requireHostDeploy(two.config).servers.map((s) => s.name);
    expect(err.message).toContain(`failed on ${second}`);
    expect(err.details.join('\n')).toContain(`${first}: switched back, serves cccccccccccc`);
    expect(err.details.join('\n')).toContain(`${second}: switch failed`);
    expect(await readlink(join(rig.root, 'current'))).toBe('releases/cccccccccccc');
    expect(await serving()).toBe('cccccccccccc');
    const history = await (await openTarget(ctx)).history();
    expect(history[0]).toMatchObject({ digest: 'gggggggggggg', outcome: 'rolled-back' });
  });

  it('a domain Caddy cannot get a certificate for: HOST_CERTIFICATE_MISSING, and the site that has one serves on', async () => {
    const other = rig.context({
      domains: ['other.site.test'],
      root: join(rig.dir, 'srv-other'),
      siteFile: join(rig.dir, 'caddy', 'sites', 'other.caddy'),
      // An ACME directory nothing answers: no certificate can be had.
      acme: `https://localhost:${await freePort()}/dir`,
      certificateTimeoutSeconds: 3,
    });
    const err = await expectCode(
      initHosts(other, requireHostDeploy(other.config)),
      'HOST_CERTIFICATE_MISSING',
    );
    expect(err.message).toContain('other.site.test');
    expect(err.hint).toContain('ports 80 and 443');
    expect(await serving()).toBe('cccccccccccc');
  });

  it('a new certificate: afterwards IPv4 and IPv6 serve the same new serial', async () => {
    const before = await rig.get('/');
    // Caddy keeps certificates in memory across reloads: a restart without the stored one makes it order a new one.
    await rig.caddy.stop();
    await execa('rm', ['-rf', join(rig.caddy.dataDir, 'certificates')]);
    await rig.caddy.start();
    const v4 = await waitFor(
      () => rig.get('/'),
      (r) => r.status === 200,
    );
    const v6 = await rig.get('/', 6);
    expect(v4.serial).not.toBe(before.serial);
    expect(v6.serial).toBe(v4.serial);
    expect(v6.headers['sitepipe-release']).toBe('cccccccccccc');
  });
});

async function waitFor<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (ok(v)) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`gave up waiting: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

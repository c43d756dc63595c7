import { chmod, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hugoCachePath } from '../../pipeline/clients/hugo-releases.js';
import { configSchema } from '../../pipeline/config.js';
import { toSitepipeError } from '../../pipeline/errors.js';
import { defaultCacheDir } from '../../pipeline/paths.js';
import { runProcess } from '../../pipeline/process.js';
import type { RunContext } from '../../pipeline/step.js';
import { hugo } from '../../steps/hugo.js';
import { expectCode } from '../helpers/expect-code.js';
import {
  buildReleaseArchive,
  publish,
  type ReleaseFixture,
  type ReleaseServer,
  releasePath,
  startReleaseServer,
} from '../helpers/release-server.js';

const VERSION = '0.111.3';

let fixture: ReleaseFixture;
let server: ReleaseServer;
let work: string;
let emptyBin: string;

interface TestContext extends RunContext {
  lines: string[];
}

function makeContext(opts: {
  downloadBaseUrl: string;
  pathEnv?: string;
  version?: string;
  extended?: boolean;
}) {
  const config = configSchema.parse({
    hugo: {
      version: opts.version ?? VERSION,
      extended: opts.extended ?? true,
      downloadBaseUrl: opts.downloadBaseUrl,
    },
    image: { repository: '127.0.0.1:5000/site' },
  });
  const lines: string[] = [];
  const env = { ...process.env, XDG_CACHE_HOME: join(work, 'xdg-cache'), PATH: opts.pathEnv ?? emptyBin };
  const ctx: TestContext = {
    config,
    configPath: join(work, 'sitepipe.yaml'),
    siteDir: work,
    stateDir: join(work, '.sitepipe'),
    cacheDir: defaultCacheDir(env),
    dryRun: false,
    allowDirty: false,
    signal: new AbortController().signal,
    log: { info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`), secret: () => {} },
    afterRun: () => {},
    env,
    lines,
  };
  return ctx;
}

/** Every file under dir, relative; [] when dir does not exist. */
async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true }).catch(() => []);
  return entries.map(String).sort();
}

async function fakeHugo(dir: string, line: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'hugo');
  await writeFile(path, `#!/bin/sh\necho '${line}'\n`);
  await chmod(path, 0o755);
  return path;
}

beforeAll(async () => {
  fixture = await buildReleaseArchive({ version: VERSION, extended: true, platform: 'linux-amd64' });
});

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'sitepipe-hugo-'));
  emptyBin = join(work, 'empty-bin');
  await mkdir(emptyBin);
  server = await startReleaseServer();
  publish(server, fixture);
});

afterEach(async () => {
  await server.close();
  await rm(work, { recursive: true, force: true });
});

describe('hugo step: download and verify', () => {
  it('downloads, verifies and installs the release into the cache, and it runs', async () => {
    const ctx = makeContext({ downloadBaseUrl: server.baseUrl });
    const out = await hugo.run(ctx, {});

    const expected = join(work, 'xdg-cache', 'sitepipe', 'hugo', `${VERSION}-extended`, 'hugo');
    expect(out).toEqual({ path: expected, version: VERSION, extended: true, origin: 'download' });
    expect(server.requests).toEqual([
      releasePath(VERSION, fixture.checksumsName),
      releasePath(VERSION, fixture.archiveName),
    ]);
    const { stdout } = await runProcess(out.path, ['version']);
    expect(stdout).toMatch(/^hugo v0\.111\.3\S*\+extended /);
    expect(((await stat(out.path)).mode & 0o777).toString(8)).toBe('755');
    // Only the binary is installed: no LICENSE/README, no leftover download dir.
    expect(await listTree(join(ctx.cacheDir, 'hugo'))).toEqual([
      `${VERSION}-extended`,
      `${VERSION}-extended/hugo`,
    ]);
    expect(ctx.lines.some((l) => l.includes('from download'))).toBe(true);
  });

  it('resolves from the cache the second time without any request', async () => {
    await hugo.run(makeContext({ downloadBaseUrl: server.baseUrl }), {});
    server.requests.length = 0;

    const ctx = makeContext({ downloadBaseUrl: server.baseUrl });
    const out = await hugo.run(ctx, {});

    expect(out.origin).toBe('cache');
    expect(out.path).toBe(hugoCachePath(ctx.cacheDir, VERSION, true));
    expect(server.requests).toEqual([]);
    expect(ctx.lines.some((l) => l.includes('from cache'))).toBe(true);
  });

  it('refuses a tampered archive: HUGO_CHECKSUM_MISMATCH, nothing installed, no temp files', async () => {
    const tampered = Buffer.from(fixture.archive);
    const at = Math.floor(tampered.length / 2);
    tampered[at] = (tampered[at] ?? 0) ^ 0xff;
    server.files.set(releasePath(VERSION, fixture.archiveName), tampered);
    const ctx = makeContext({ downloadBaseUrl: server.baseUrl });

    const err = await expectCode(hugo.run(ctx, {}), 'HUGO_CHECKSUM_MISMATCH');

    expect(err.message).toContain(fixture.sha256);
    expect(err.message).toMatch(/has sha256 [0-9a-f]{64}, but/);
    expect(err.hint).toMatch(/deleted/);
    expect(await listTree(join(ctx.cacheDir, 'hugo'))).toEqual([]);
    expect(ctx.lines.filter((l) => l.startsWith('warn'))).toEqual([]);
  });

  it('reports an unknown version as HUGO_UNKNOWN_VERSION', async () => {
    const ctx = makeContext({ downloadBaseUrl: server.baseUrl, version: '0.999.0' });
    const err = await expectCode(hugo.run(ctx, {}), 'HUGO_UNKNOWN_VERSION');
    expect(err.message).toContain('0.999.0');
    expect(err.hint).toMatch(/releases page/);
  });

  it('reports a missing archive (checksums present) as HUGO_UNKNOWN_VERSION', async () => {
    server.files.delete(releasePath(VERSION, fixture.archiveName));
    const ctx = makeContext({ downloadBaseUrl: server.baseUrl });
    await expectCode(hugo.run(ctx, {}), 'HUGO_UNKNOWN_VERSION');
    expect(await listTree(join(ctx.cacheDir, 'hugo'))).toEqual([]);
  });

  it('reports an archive the checksums do not list as HUGO_NOT_IN_CHECKSUMS', async () => {
    const ctx = makeContext({ downloadBaseUrl: server.baseUrl, extended: false });
    const err = await expectCode(hugo.run(ctx, {}), 'HUGO_NOT_IN_CHECKSUMS');
    expect(err.message).toContain(`hugo_${VERSION}_linux-amd64.tar.gz`);
  });

  it('reports a server that is down as HUGO_DOWNLOAD_FAILED', async () => {
    const baseUrl = server.baseUrl;
    await server.close();
    server = await startReleaseServer(); // afterEach closes this one instead
    const ctx = makeContext({ downloadBaseUrl: baseUrl });
    const err = await expectCode(hugo.run(ctx, {}), 'HUGO_DOWNLOAD_FAILED');
    expect(err.message).toMatch(/ECONNREFUSED|fetch failed/);
  });

  it('stops on ctx.signal with an AbortError, leaving nothing behind', async () => {
    const controller = new AbortController();
    controller.abort();
    const ctx = { ...makeContext({ downloadBaseUrl: server.baseUrl }), signal: controller.signal };
    const err = await hugo.run(ctx, {}).then(
      () => null,
      (e: unknown) => e,
    );
    expect(toSitepipeError(err).code).toBe('ABORTED');
    expect(await listTree(join(ctx.cacheDir, 'hugo'))).toEqual([]);
  });

  it('reports a 5xx as HUGO_DOWNLOAD_FAILED', async () => {
    server.statuses.set(releasePath(VERSION, fixture.archiveName), 503);
    const ctx = makeContext({ downloadBaseUrl: server.baseUrl });
    const err = await expectCode(hugo.run(ctx, {}), 'HUGO_DOWNLOAD_FAILED');
    expect(err.message).toContain('503');
  });
});

describe('hugo step: PATH', () => {
  it('uses a hugo on PATH that reports exactly the pinned version', async () => {
    const bin = join(work, 'bin');
    await mkdir(bin);
    await symlink('/usr/bin/hugo', join(bin, 'hugo'));
    const ctx = makeContext({ downloadBaseUrl: server.baseUrl, pathEnv: bin });

    const out = await hugo.run(ctx, {});

    expect(out).toEqual({ path: join(bin, 'hugo'), version: VERSION, extended: true, origin: 'path' });
    expect(server.requests).toEqual([]);
  });

  it('skips PATH hugos of another version or edition and takes a later matching one', async () => {
    const other = await fakeHugo(join(work, 'other'), 'hugo v0.110.0+extended linux/amd64 BuildDate=unknown');
    const plain = await fakeHugo(join(work, 'plain'), `hugo v${VERSION} linux/amd64 BuildDate=unknown`);
    const real = join(work, 'real');
    await mkdir(real);
    await symlink('/usr/bin/hugo', join(real, 'hugo'));
    const ctx = makeContext({
      downloadBaseUrl: server.baseUrl,
      pathEnv: [join(work, 'other'), join(work, 'plain'), real].join(':'),
    });

    const out = await hugo.run(ctx, {});

    expect(out.path).toBe(join(real, 'hugo'));
    expect(out.origin).toBe('path');
    expect(ctx.lines).toContain(`info not using ${other}: it is 0.110.0 extended, need ${VERSION} extended`);
    expect(ctx.lines).toContain(`info not using ${plain}: it is ${VERSION}, need ${VERSION} extended`);
  });

  it('downloads when the only PATH hugo reports another version', async () => {
    const dir = join(work, 'other');
    await fakeHugo(dir, 'hugo v0.110.0+extended linux/amd64 BuildDate=unknown');
    const ctx = makeContext({ downloadBaseUrl: server.baseUrl, pathEnv: dir });

    const out = await hugo.run(ctx, {});

    expect(out.origin).toBe('download');
    expect(server.requests).toHaveLength(2);
  });
});

import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../pipeline/config.js';
import { ServeServer } from '../../pipeline/serve/server.js';
import { expectCode } from '../helpers/expect-code.js';
import {
  githubHeaders,
  githubPing,
  githubPush,
  post,
  sendGithubPush,
  sign,
} from '../helpers/serve-deliveries.js';
import { githubSchemaErrors } from '../helpers/serve-schema.js';
import { removeServeConfigs, serveConfig, WEBHOOK_SECRET } from '../helpers/serve-server.js';
import { type ServeSite, serveSite } from '../helpers/serve-site.js';

const TOKEN = 'pages-token-0d1e2f3a4b5c6d7e';
const SHA = 'a'.repeat(40);

async function server(site: ServeSite, keys: Record<string, unknown>, env: NodeJS.ProcessEnv) {
  const file = await serveConfig(site.remote, keys);
  const { config } = await loadConfig(file);
  if (!config.serve) throw new Error('no serve section');
  return new ServeServer({ serve: config.serve, baseDir: dirname(file), env, log: () => undefined });
}

/** Writes raw bytes on a socket and returns what came back before the server closed it. */
function rawExchange(port: number, chunks: string[]): Promise<{ reply: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      for (const c of chunks) socket.write(c);
    });
    let reply = '';
    socket.on('data', (d) => {
      reply += d.toString();
    });
    socket.on('close', () => resolve({ reply }));
    socket.on('error', reject);
  });
}

describe('sitepipe serve refuses to start', () => {
  let site: ServeSite;
  beforeAll(async () => {
    site = await serveSite('127.0.0.1:5000/unused');
  });
  afterAll(async () => {
    await site.remove();
    await removeServeConfigs();
  });

  it('without a webhook secret, or with a short one (SERVE_NO_SECRET)', async () => {
    await expectCode(server(site, {}, {}), 'SERVE_NO_SECRET');
    await expectCode(server(site, {}, { SITEPIPE_WEBHOOK_SECRET: 'short' }), 'SERVE_NO_SECRET');
  });

  it('reads the secret from serve.secretFile', async () => {
    const s = await server(site, { secretFile: join(site.root, 'secret') }, {}).catch((e: Error) => e);
    expect((s as Error).message).toMatch(/cannot read the secret file/);
  });

  it('bound beyond loopback without a token, unless public: true (SERVE_PAGES_UNPROTECTED)', async () => {
    const env = { SITEPIPE_WEBHOOK_SECRET: WEBHOOK_SECRET };
    await expectCode(server(site, { listen: '0.0.0.0:0' }, env), 'SERVE_PAGES_UNPROTECTED');
    const open = await server(site, { listen: '0.0.0.0:0', public: true, dataDir: 'public' }, env);
    await open.stop(0);
  });
});

describe('bad input costs no work', () => {
  let site: ServeSite;
  let serve: ServeServer;
  let base: string;
  let port: number;
  const counts = () => ({
    deliveries: serve.store.deliveries().length,
    runs: serve.store.runs().length,
  });

  beforeAll(async () => {
    site = await serveSite('127.0.0.1:5000/unused');
    serve = await server(
      site,
      {
        branches: ['main'],
        providers: ['github', 'gitlab', 'hmac'],
        maxBodyBytes: 64 * 1024,
        headersTimeoutSeconds: 1,
        bodyTimeoutSeconds: 1,
        dataDir: 'data',
      },
      { SITEPIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, SITEPIPE_SERVE_TOKEN: TOKEN },
    );
    base = await serve.start();
    port = Number(new URL(base).port);
  });
  afterAll(async () => {
    await serve.stop(0);
    await site.remove();
    await removeServeConfigs();
  });

  it('sends deliveries shaped as GitHub sends them', () => {
    expect(githubSchemaErrors('push', githubPush({ branch: 'main', after: SHA }))).toEqual([]);
    expect(githubSchemaErrors('push', githubPush({ branch: 'main', after: null, before: SHA }))).toEqual([]);
    expect(githubSchemaErrors('ping', githubPing())).toEqual([]);
  });

  it('answers a missing, wrong or SHA-1-only signature 401, and stores nothing', async () => {
    const body = JSON.stringify(githubPush({ branch: 'main', after: SHA }));
    const unsigned = githubHeaders('push', body, null);
    expect((await post(`${base}/hooks/github`, unsigned, body)).status).toBe(401);
    const wrong = githubHeaders('push', body, 'another-secret-of-some-length');
    expect((await post(`${base}/hooks/github`, wrong, body)).status).toBe(401);
    const sha1 = { ...unsigned, 'x-hub-signature': 'sha1=0000000000000000000000000000000000000000' };
    expect((await post(`${base}/hooks/github`, sha1, body)).status).toBe(401);
    // The right signature of other bytes: one byte changed after signing.
    const tampered = githubHeaders('push', body, WEBHOOK_SECRET);
    expect((await post(`${base}/hooks/github`, tampered, body.replace('main', 'mair'))).status).toBe(401);
    const gitlab = {
      'x-gitlab-event': 'Push Hook',
      'x-gitlab-token': 'not-the-secret',
      'idempotency-key': 'k1',
    };
    expect((await post(`${base}/hooks/gitlab`, gitlab, body)).status).toBe(401);
    const hmac = { 'x-sitepipe-signature-256': sign('not-the-secret', body), 'x-sitepipe-delivery': 'd1' };
    expect((await post(`${base}/hooks/hmac`, hmac, body)).status).toBe(401);
    expect(counts()).toEqual({ deliveries: 0, runs: 0 });
  });

  it('answers a body over the limit 413 before reading it whole, declared or chunked', async () => {
    const big = JSON.stringify({ ref: 'refs/heads/main', after: SHA, pad: 'x'.repeat(200 * 1024) });
    const headers = githubHeaders('push', big, WEBHOOK_SECRET);
    expect((await post(`${base}/hooks/github`, headers, big)).status).toBe(413);
    // Chunked: no Content-Length to refuse up front; cut off once 64 KiB have come.
    const { reply } = await rawExchange(port, [
      `POST /hooks/github HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nX-GitHub-Event: push\r\nX-GitHub-Delivery: c1\r\nX-Hub-Signature-256: ${headers['x-hub-signature-256']}\r\n\r\n`,
      `${(100 * 1024).toString(16)}\r\n${'x'.repeat(100 * 1024)}\r\n`,
    ]);
    expect(reply).toMatch(/^HTTP\/1\.1 413/);
    expect(counts()).toEqual({ deliveries: 0, runs: 0 });
  });

  it('cuts off stalled headers and stalled bodies, serving others meanwhile', async () => {
    const stalledHeaders = rawExchange(port, ['POST /hooks/github HTTP/1.1\r\nHost: x\r\n']);
    const stalledBody = rawExchange(port, [
      'POST /hooks/github HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nX-GitHub-Event: push\r\n\r\n{"ref":',
    ]);
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    const [headersCut, bodyCut] = await Promise.all([stalledHeaders, stalledBody]);
    expect(headersCut.reply).toMatch(/^HTTP\/1\.1 408|^$/);
    expect(bodyCut.reply).toMatch(/^HTTP\/1\.1 408/);
    expect(counts()).toEqual({ deliveries: 0, runs: 0 });
  });

  it('answers malformed JSON and non-push bodies behind a valid signature 400', async () => {
    for (const body of ['{"ref": "refs/heads/main",', '[1,2]', '{"ref":"refs/heads/main","after":"nope"}']) {
      const answer = await post(`${base}/hooks/github`, githubHeaders('push', body, WEBHOOK_SECRET), body);
      expect(answer.status).toBe(400);
    }
    const body = JSON.stringify(githubPush({ branch: '-upload-pack=evil', after: SHA }));
    expect(
      (await post(`${base}/hooks/github`, githubHeaders('push', body, WEBHOOK_SECRET), body)).status,
    ).toBe(400);
    expect(counts()).toEqual({ deliveries: 0, runs: 0 });
  });

  it('records a push to a branch it does not build as ignored, and a replay as duplicate', async () => {
    const first = await sendGithubPush(base, WEBHOOK_SECRET, {
      branch: 'feature/x',
      after: SHA,
      delivery: 'dup-1',
    });
    expect(first.status).toBe(202);
    expect(first.json()).toMatchObject({ status: 'ignored' });
    const again = await sendGithubPush(base, WEBHOOK_SECRET, {
      branch: 'feature/x',
      after: SHA,
      delivery: 'dup-1',
    });
    expect(again.status).toBe(200);
    expect(again.json()).toMatchObject({ status: 'duplicate' });
    expect(counts()).toEqual({ deliveries: 1, runs: 0 });
    expect(serve.store.deliveries()[0]).toMatchObject({ outcome: 'ignored', branch: 'feature/x' });
  });

  it('takes GitLab’s token and the generic HMAC signature when right', async () => {
    const body = JSON.stringify({
      object_kind: 'push',
      ref: 'refs/heads/gitlab-branch',
      after: SHA,
      checkout_sha: SHA,
      commits: [{ id: SHA, message: 'from GitLab' }],
      project: { path_with_namespace: 'group/site' },
    });
    const gitlab = {
      'x-gitlab-event': 'Push Hook',
      'x-gitlab-token': WEBHOOK_SECRET,
      'idempotency-key': 'gl-1',
    };
    const answer = await post(`${base}/hooks/gitlab`, gitlab, body);
    expect(answer.status).toBe(202);
    expect(answer.json()).toMatchObject({ status: 'ignored', branch: 'gitlab-branch' });
    expect((await post(`${base}/hooks/gitlab`, gitlab, body)).json()).toMatchObject({ status: 'duplicate' });
    const ping = '{}';
    const hmac = {
      'x-sitepipe-signature-256': sign(WEBHOOK_SECRET, ping),
      'x-sitepipe-delivery': 'h-1',
      'x-sitepipe-event': 'ping',
    };
    expect((await post(`${base}/hooks/hmac`, hmac, ping)).status).toBe(200);
    expect(
      serve.store
        .deliveries()
        .slice(-2)
        .map((d) => [d.provider, d.outcome]),
    ).toEqual([
      ['gitlab', 'ignored'],
      ['hmac', 'ping'],
    ]);
    expect(serve.store.runs()).toEqual([]);
  });

  it('answers ping 200, other events 204, and records a branch deletion', async () => {
    const ping = JSON.stringify(githubPing());
    expect(
      (await post(`${base}/hooks/github`, githubHeaders('ping', ping, WEBHOOK_SECRET), ping)).status,
    ).toBe(200);
    const issue = JSON.stringify({ action: 'opened' });
    expect(
      (await post(`${base}/hooks/github`, githubHeaders('issues', issue, WEBHOOK_SECRET), issue)).status,
    ).toBe(204);
    const deletion = await sendGithubPush(base, WEBHOOK_SECRET, { branch: 'main', after: null });
    expect(deletion.status).toBe(202);
    expect(deletion.json()).toMatchObject({ status: 'deleted' });
    expect(serve.store.deliveries().map((d) => d.outcome)).toEqual([
      'ignored',
      'ignored',
      'ping',
      'ping',
      'deleted',
    ]);
    expect(serve.store.runs()).toEqual([]);
    // Nothing was fetched or checked out for any of it.
    expect(existsSync(join(serve.dataDir, 'serve.db'))).toBe(true);
    expect(existsSync(join(serve.dataDir, 'mirror.git'))).toBe(false);
  });

  it('asks for the token on every page but /healthz, and not on the hooks', async () => {
    for (const path of ['/', '/runs', '/runs/1', '/runs/1/log', '/metrics']) {
      expect((await fetch(`${base}${path}`)).status).toBe(401);
      expect((await fetch(`${base}${path}`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(
        401,
      );
    }
    expect((await fetch(`${base}/`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    const basic = `Basic ${Buffer.from(`anyone:${TOKEN}`).toString('base64')}`;
    expect((await fetch(`${base}/runs`, { headers: { authorization: basic } })).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`, { headers: { authorization: basic } })).text();
    expect(metrics).toMatch(/sitepipe_serve_deliveries_total\{provider="github",outcome="unauthorized"\} 4/);
    expect(metrics).toMatch(/sitepipe_serve_deliveries_total\{provider="github",outcome="too_large"\} 2/);
    expect(metrics).toMatch(/sitepipe_serve_queue_depth 0/);
  });
});

import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { branchMatcher } from '../branches.js';
import { SitepipeError } from '../errors.js';
import { hasToken, isLoopback } from './auth.js';
import { Checkouts } from './checkout.js';
import type { ServeConfig } from './config.js';
import { logPath, RunExecutor } from './execute.js';
import { GithubStatuses } from './github-status.js';
import { GroupCommit } from './group-commit.js';
import { handleHook } from './hooks.js';
import { ServeMetrics } from './metrics.js';
import { KeyedMutex } from './mutex.js';
import { runRows, statusPage } from './pages.js';
import type { ProviderName } from './providers.js';
import { Scheduler } from './scheduler.js';
import { MIN_SECRET_LENGTH, Redactor, readSecret } from './secrets.js';
import { Store } from './store.js';

export interface ServeOptions {
  serve: ServeConfig;
  /** The directory of the config file: dataDir and secret files are relative to it. */
  baseDir: string;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
  /** A branch was deleted on the remote (its preview goes with it; see previewReaper). */
  branchDeleted?: (branch: string) => Promise<void>;
}

/** host:port (IPv6 in brackets) as listen() takes it. */
export function parseListen(listen: string): { host: string; port: number } {
  const at = listen.lastIndexOf(':');
  return { host: listen.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(listen.slice(at + 1)) };
}

/** The secrets `sitepipe serve` needs before it opens a port; it refuses to start without them. */
export function serveSecrets(o: ServeOptions): {
  secret: string;
  token: string | null;
  githubToken: string | null;
} {
  const { serve, env, baseDir } = o;
  const secret = readSecret(env, serve.secretEnv, serve.secretFile, baseDir);
  if (!secret || secret.length < MIN_SECRET_LENGTH) {
    throw new SitepipeError(
      'SERVE_NO_SECRET',
      secret
        ? `the webhook secret is ${secret.length} characters; at least ${MIN_SECRET_LENGTH} are needed`
        : `no webhook secret: neither $${serve.secretEnv} nor serve.secretFile is set`,
      `generate one (\`openssl rand -hex 32\`), give it to the provider's webhook settings and to sitepipe as $${serve.secretEnv} or in the file serve.secretFile names; never in the config`,
    );
  }
  const token = readSecret(env, serve.tokenEnv, serve.tokenFile, baseDir);
  const { host } = parseListen(serve.listen);
  if (!token && !serve.public && !isLoopback(host)) {
    throw new SitepipeError(
      'SERVE_PAGES_UNPROTECTED',
      `serve.listen (${serve.listen}) is not loopback, and the status pages (commit messages, logs) would have no token`,
      `set $${serve.tokenEnv} (or serve.tokenFile), or say \`public: true\` in serve: if anyone may read them`,
    );
  }
  const githubToken = serve.github.statuses ? (env[serve.github.tokenEnv] ?? null) : null;
  if (serve.github.statuses && !githubToken) {
    throw new SitepipeError(
      'SERVE_NO_GITHUB_TOKEN',
      `serve.github.statuses is on, but $${serve.github.tokenEnv} is not set`,
      'give a token with the statuses: write permission, or turn serve.github.statuses off',
    );
  }
  return { secret, token, githubToken };
}

/** `sitepipe serve`: the webhook receiver, the queue, the runs and the status pages. */
export class ServeServer {
  readonly store: Store;
  readonly metrics: ServeMetrics;
  private readonly http: Server;
  private readonly scheduler: Scheduler;
  private readonly redactor = new Redactor();
  /** Where the database, mirror, worktrees, state dirs and logs live. */
  readonly dataDir: string;
  private baseUrl = '';

  constructor(private readonly o: ServeOptions) {
    const { serve, env } = o;
    const { secret, token, githubToken } = serveSecrets(o);
    for (const value of [secret, token, githubToken, env.SITEPIPE_REGISTRY_PASSWORD])
      this.redactor.add(value);
    this.dataDir = resolve(o.baseDir, serve.dataDir);
    mkdirSync(this.dataDir, { recursive: true });
    this.store = new Store(join(this.dataDir, 'serve.db'));
    this.metrics = new ServeMetrics(() => this.store.queueDepth());
    // Runs get the server's environment without the server's own secrets.
    const childEnv = { ...env };
    for (const name of [serve.secretEnv, serve.tokenEnv, serve.github.tokenEnv]) delete childEnv[name];
    const runUrl = (id: number) => `${this.baseUrl}/runs/${id}`;
    const executor = new RunExecutor({
      store: this.store,
      checkouts: new Checkouts(this.dataDir, serve.remote),
      dataDir: this.dataDir,
      configInRepo: serve.config,
      redactor: this.redactor,
      metrics: this.metrics,
      statuses: githubToken
        ? new GithubStatuses(serve.github.apiUrl, githubToken, serve.github.context)
        : null,
      runUrl,
      childEnv,
      deployLocks: new KeyedMutex(),
      log: (line) => this.log(line),
    });
    this.scheduler = new Scheduler(this.store, executor, serve.concurrency);
    const hookOptions = {
      store: this.store,
      commit: new GroupCommit(this.store.db),
      metrics: this.metrics,
      redactor: this.redactor,
      secret,
      maxBodyBytes: serve.maxBodyBytes,
      bodyTimeoutMs: serve.bodyTimeoutSeconds * 1000,
      builds: branchMatcher(serve.branches),
      runUrl,
      queued: () => this.scheduler.poke(),
      deleted: (branch: string) => this.branchDeleted(branch),
      log: (line: string) => this.log(line),
    };
    const headersMs = serve.headersTimeoutSeconds * 1000;
    this.http = createServer(
      {
        headersTimeout: headersMs,
        requestTimeout: headersMs + serve.bodyTimeoutSeconds * 1000 + 1000,
        // How often the timeouts above are checked (Node's default is 30 s).
        connectionsCheckingInterval: Math.min(1000, headersMs / 2),
        keepAliveTimeout: 5000,
      },
      (req, res) => {
        this.route(req, res, hookOptions, token).catch((e: Error) => {
          this.log(`error answering ${req.method} ${req.url}: ${e.message}`);
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
          res.end('internal error\n');
        });
      },
    );
    this.http.maxHeadersCount = 100;
  }

  /** Clean-ups of deleted branches in progress; stop waits for them. */
  private readonly cleanups = new Set<Promise<void>>();

  private branchDeleted(branch: string): void {
    const { branchDeleted } = this.o;
    if (!branchDeleted) return;
    const done = branchDeleted(branch)
      .catch((e: Error) => this.log(`cleaning up after the deletion of ${branch} failed: ${e.message}`))
      .finally(() => this.cleanups.delete(done));
    this.cleanups.add(done);
  }

  private log(line: string): void {
    this.o.log(this.redactor.redact(line));
  }

  /** Recovers from the last stop, opens the port, and starts queued runs. Returns the address. */
  async start(): Promise<string> {
    await new Checkouts(this.dataDir, this.o.serve.remote).clean();
    for (const run of this.store.running()) {
      const retry = this.store.interrupt(run.id, 'the server stopped during the run');
      this.log(
        `run ${run.id} was interrupted by a stop of the server${retry ? `; queued again as run ${retry.id}` : ''}`,
      );
    }
    const { host, port } = parseListen(this.o.serve.listen);
    await new Promise<void>((ok, fail) => {
      this.http.once('error', fail);
      this.http.listen(port, host, () => ok());
    });
    const address = this.http.address() as AddressInfo;
    const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.baseUrl = (this.o.serve.publicUrl ?? `http://${shown}:${address.port}`).replace(/\/$/, '');
    this.log(`listening on http://${shown}:${address.port}`);
    this.scheduler.poke();
    return `http://${shown}:${address.port}`;
  }

  /**
   * Stops accepting, lets the runs in progress finish within the grace period (then they are
   * interrupted, to run again at the next start), and closes the database.
   */
  async stop(graceMs = this.o.serve.graceSeconds * 1000): Promise<void> {
    const closed = new Promise((r) => this.http.close(r));
    this.http.closeIdleConnections();
    const running = this.scheduler.activeRuns();
    if (running.length > 0)
      this.log(`stopping: waiting up to ${graceMs / 1000}s for run(s) ${running.join(', ')}`);
    await Promise.all([this.scheduler.stop(graceMs), ...this.cleanups]);
    this.http.closeAllConnections();
    await closed;
    this.store.close();
    this.log('stopped');
  }

  private async route(
    req: IncomingMessage,
    res: ServerResponse,
    hookOptions: Parameters<typeof handleHook>[3],
    token: string | null,
  ): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://serve.invalid');
    const path = url.pathname;
    const hook = /^\/hooks\/(github|gitlab|hmac)$/.exec(path);
    if (hook) {
      const name = hook[1] as ProviderName;
      if (!this.o.serve.providers.includes(name)) return text(res, 404, 'no such hook\n');
      if (req.method !== 'POST') return text(res, 405, 'POST only\n', { allow: 'POST' });
      return handleHook(name, req, res, hookOptions);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(res, 405, 'GET only\n', { allow: 'GET' });
    if (path === '/healthz') return text(res, 200, 'ok\n');
    if (token && !hasToken(req, token)) {
      return text(res, 401, 'a token is needed (Bearer, or as the basic auth password)\n', {
        'www-authenticate': 'Basic realm="sitepipe serve", charset="UTF-8"',
      });
    }
    if (path === '/') {
      const nonce = randomBytes(12).toString('base64');
      return send(
        res,
        200,
        'text/html; charset=utf-8',
        this.redactor.redact(statusPage(this.store.runs(), nonce)),
        {
          'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'unsafe-inline'; connect-src 'self'`,
        },
      );
    }
    if (path === '/runs') {
      const runs = this.store.runs(Math.min(Number(url.searchParams.get('limit')) || 100, 1000));
      if (url.searchParams.get('format') === 'rows') {
        return send(res, 200, 'text/html; charset=utf-8', this.redactor.redact(runRows(runs)));
      }
      return send(res, 200, 'application/json', this.redactor.redact(JSON.stringify({ runs })));
    }
    if (path === '/metrics') {
      const metrics = await this.metrics.registry.metrics();
      return send(res, 200, this.metrics.registry.contentType, this.redactor.redact(metrics));
    }
    const runPath = /^\/runs\/(\d+)(\/log)?$/.exec(path);
    const run = runPath ? this.store.run(Number(runPath[1])) : null;
    if (!runPath || !run) return text(res, 404, 'not found\n');
    if (!runPath[2]) return send(res, 200, 'application/json', this.redactor.redact(JSON.stringify(run)));
    const log = await readFile(logPath(this.dataDir, run.id), 'utf8').catch(() => '');
    return send(res, 200, 'text/plain; charset=utf-8', this.redactor.redact(log));
  }
}

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(body);
}

function text(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  send(res, status, 'text/plain; charset=utf-8', body, headers);
}

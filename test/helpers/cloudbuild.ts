import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import type { BuildLog } from '../../pipeline/cloudbuild/local.js';
import type { AuthLike } from '../../pipeline/cloudbuild/trigger.js';
import { packageRoot } from '../../pipeline/paths.js';

/** The published Cloud Build config schema; in CI a copy of shared/ sits beside the repo. */
export const CLOUDBUILD_SCHEMA = join(packageRoot(), '..', 'shared', 'schemas', 'cloudbuild.json');

/** What setup's stand-in scripts provide (see scripts/standin-builders.sh). */
export const DEBIAN_IMAGE = '127.0.0.1:5000/library/debian:bookworm-slim';
export const DOCKER_BUILDER = 'gcr.io/cloud-builders/docker';

let standins: Promise<void> | null = null;

/**
 * Makes sure the builder stand-ins exist and match this checkout (the script skips what is up
 * to date, so this is quick after setup has run it).
 */
export function ensureStandinBuilders(): Promise<void> {
  standins ??= execa('bash', [join(packageRoot(), 'scripts', 'standin-builders.sh')], {
    stdio: 'inherit',
  }).then(() => undefined);
  return standins;
}

/** A BuildLog that keeps every line. */
export function collectLog(): BuildLog & { lines: string[]; text(): string } {
  const lines: string[] = [];
  return { lines, line: (l) => lines.push(l), text: () => lines.join('\n') };
}

export interface ApiRequest {
  method: string;
  /** Path and query as received. */
  path: string;
  authorization: string | undefined;
  body: unknown;
}

export interface FakeCloudBuildApi {
  port: number;
  requests: ApiRequest[];
  /** Answers the next requests in order; once they run out, every request gets 500. */
  respond(...answers: Array<{ status: number; body: unknown }>): void;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** An HTTP server on 127.0.0.1 standing in for cloudbuild.googleapis.com's REST API. */
export async function startFakeCloudBuildApi(): Promise<FakeCloudBuildApi> {
  const requests: ApiRequest[] = [];
  const answers: Array<{ status: number; body: unknown }> = [];
  const server: Server = createServer(async (req, res) => {
    const text = await readBody(req);
    requests.push({
      method: req.method ?? '',
      path: req.url ?? '',
      authorization: req.headers.authorization,
      body: text ? JSON.parse(text) : undefined,
    });
    const answer = answers.shift() ?? {
      status: 500,
      body: { error: { code: 500, message: 'unexpected request' } },
    };
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    respond: (...more) => answers.push(...more),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}

/** Google's error body for a missing resource, as the REST API sends it. */
export const NOT_FOUND = {
  status: 404,
  body: { error: { code: 404, message: 'trigger not found', status: 'NOT_FOUND' } },
};

/** Credentials that always present the same bearer token (no Google auth involved). */
export function fixedTokenAuth(token: string): AuthLike {
  return {
    async getRequestHeaders() {
      return new Headers({ authorization: `Bearer ${token}` });
    },
    async fetch(url, init) {
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${token}`);
      return fetch(url, { method: init.method, headers, body: init.body, signal: init.signal });
    },
  };
}

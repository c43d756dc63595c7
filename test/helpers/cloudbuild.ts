import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import protobuf from 'protobufjs';
import type { BuildLog } from '../../pipeline/cloudbuild/local.js';
import type { AuthLike } from '../../pipeline/cloudbuild/trigger.js';
import { packageRoot } from '../../pipeline/paths.js';

/** The Cloud Build API's own definition of a build, as the client library ships it. */
export const CLOUDBUILD_PROTO = join(
  dirname(createRequire(import.meta.url).resolve('@google-cloud/cloudbuild/package.json')),
  'build/protos/google/devtools/cloudbuild/v1/cloudbuild.proto',
);

let buildMessage: protobuf.Type | undefined;

/**
 * The Build message, from cloudbuild.proto alone: its imports define only annotations and the
 * service's types, which a build does not use, and the two well-known types it does use are
 * checked by name (SCALARS). Field names as written there (snake_case).
 */
function build(): protobuf.Type {
  buildMessage ??= protobuf
    .parse(readFileSync(CLOUDBUILD_PROTO, 'utf8'), { keepCase: true })
    .root.lookupType('google.devtools.cloudbuild.v1.Build');
  return buildMessage;
}

const isInteger = (v: unknown) => Number.isInteger(v) || (typeof v === 'string' && /^-?\d+$/.test(v));

/** proto3 JSON forms (which a YAML config takes too) of the scalar and well-known types Build uses. */
const SCALARS: Record<string, { what: string; ok: (v: unknown) => boolean }> = {
  string: { what: 'a string', ok: (v) => typeof v === 'string' },
  bool: { what: 'true or false', ok: (v) => typeof v === 'boolean' },
  int32: { what: 'an integer', ok: isInteger },
  int64: { what: 'an integer', ok: isInteger },
  bytes: { what: 'base64 text', ok: (v) => typeof v === 'string' && /^[A-Za-z0-9+/_-]*=*$/.test(v) },
  'google.protobuf.Duration': {
    what: 'a duration in seconds like "600s" or "3.5s"',
    ok: (v) => typeof v === 'string' && /^\d+(\.\d{1,9})?s$/.test(v),
  },
  'google.protobuf.Timestamp': {
    what: 'an RFC 3339 time',
    ok: (v) => typeof v === 'string' && !Number.isNaN(Date.parse(v)),
  },
};

const isMapping = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** One value of `field` (an element of a list, a value of a map): a scalar, an enum name or a message. */
function valueProblems(field: protobuf.Field, value: unknown, at: string): string[] {
  const scalar = SCALARS[field.type];
  if (scalar) return scalar.ok(value) ? [] : [`${at}: expected ${scalar.what}, got ${JSON.stringify(value)}`];
  const type = (field.parent as protobuf.Type).lookup(field.type, [protobuf.Type, protobuf.Enum]);
  if (type instanceof protobuf.Enum) {
    const names = Object.keys(type.values);
    return typeof value === 'string' && names.includes(value)
      ? []
      : [`${at}: ${JSON.stringify(value)} is not a ${type.name}: one of ${names.join(', ')}`];
  }
  if (type instanceof protobuf.Type) return messageProblems(type, value, at);
  throw new Error(
    `cloudbuild.proto: ${field.fullName} has type ${field.type}, which this check does not know`,
  );
}

function fieldProblems(field: protobuf.Field, value: unknown, at: string): string[] {
  if (field.map) {
    if (!isMapping(value)) return [`${at}: expected a mapping, got ${JSON.stringify(value)}`];
    return Object.entries(value).flatMap(([k, v]) => valueProblems(field, v, `${at}.${k}`));
  }
  if (field.repeated) {
    if (!Array.isArray(value)) return [`${at}: expected a list, got ${JSON.stringify(value)}`];
    return value.flatMap((v, i) => valueProblems(field, v, `${at}[${i}]`));
  }
  return valueProblems(field, value, at);
}

/** Every key of `value` must be a field of `type` (by its proto or its JSON name) that a config may set. */
function messageProblems(type: protobuf.Type, value: unknown, path: string): string[] {
  if (!isMapping(value)) return [`${path || 'the build'}: expected a ${type.name} mapping`];
  const byKey = new Map(
    type.fieldsArray.flatMap((f) => [[f.name, f] as const, [protobuf.util.camelCase(f.name), f] as const]),
  );
  const problems: string[] = [];
  const seen = new Set<protobuf.Field>();
  for (const [key, v] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key;
    const field = byKey.get(key);
    if (!field) problems.push(`${at}: ${type.name} has no field ${key}`);
    else if (seen.has(field)) problems.push(`${at}: ${field.name} is set twice (snake_case and camelCase)`);
    else if (field.options?.['(google.api.field_behavior)'] === 'OUTPUT_ONLY') {
      problems.push(`${at}: ${field.name} is set by Cloud Build (output only)`);
    } else problems.push(...fieldProblems(field, v, at));
    if (field) seen.add(field);
  }
  for (const oneof of type.oneofsArray) {
    const set = oneof.fieldsArray.filter((f) => seen.has(f));
    if (set.length > 1)
      problems.push(`${path || 'the build'}: at most one of ${set.map((f) => f.name).join(', ')}`);
  }
  return problems;
}

/**
 * What Cloud Build would reject in a build config (cloudbuild.yaml, parsed), checked against the
 * Build message of the Cloud Build API: every field name (snake_case or camelCase, as the API
 * takes both), its type (string, list, mapping, message, enum name, duration), recursively.
 * Empty when it is a valid build.
 */
export function buildConfigProblems(doc: unknown): string[] {
  return messageProblems(build(), doc, '');
}

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

/**
 * The HTTP front: routing of the Kubernetes REST paths onto the Api, discovery and
 * OpenAPI documents, Table output, watches, request recording and injected faults.
 * Listens on 127.0.0.1 only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { type Api, type DeleteOptions, PATCH_TYPES, type WriteOptions } from './api.js';
import {
  aggregatedContentType,
  aggregatedDiscovery,
  discoveryFlavour,
  legacyCoreVersions,
  legacyGroup,
  legacyGroupList,
  type OpenApi,
  resourceList,
  serverVersion,
} from './discovery.js';
import { ApiError, errors } from './errors.js';
import { OPENAPI_V2_PROTOBUF, openApiV2Json, openApiV2Protobuf } from './openapi-v2.js';
import { jsonPatch, mergePatch, strategicMergePatch } from './patch.js';
import { decodeProtobuf } from './protobuf.js';
import { apiVersionOf, type ResourceRegistry, type ResourceType } from './resources.js';
import { labelSelectorString } from './selectors.js';
import { type IncludeObject, toTable } from './table.js';
import type { KubeObject } from './types.js';
import { getPath, isObject } from './util.js';
import { serveWatch } from './watch.js';

const MAX_BODY = 3 * 1024 * 1024;
/** The request log keeps the latest this many. */
const MAX_RECORDED = 20_000;

/** One request as the simulator saw it (for tests that check exact requests). */
export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  accept: string | undefined;
  userAgent: string | undefined;
  status: number;
  body: unknown;
}

/** Makes matching requests fail with `code` (e.g. 500, 429, 409), `times` times (default: once). */
export interface Fault {
  method?: string;
  path: string | RegExp;
  code: number;
  reason?: string;
  message?: string;
  times?: number;
}

export interface ServerConfig {
  version: string;
  /** pods/<name>/log */
  logs?: (namespace: string, pod: string, container: string | undefined, tail?: number) => Promise<string>;
  /** Bearer token required on every request except /version and health; none = open. */
  token: string | undefined;
}

/**
 * What the real server's mux answers for a path no API group/version handler serves (an
 * API group or version it does not have, a path outside /api and /apis): Go's http.NotFound,
 * plain text, not a Status.
 */
class PageNotFound extends Error {
  constructor() {
    super('404 page not found');
  }
}

function sendPageNotFound(res: ServerResponse): void {
  const text = '404 page not found\n';
  res.writeHead(404, {
    'Content-Type': 'text/plain; charset=utf-8',
    'X-Content-Type-Options': 'nosniff',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

class Route {
  constructor(
    readonly rt: ResourceType,
    readonly namespace: string | undefined,
    readonly name: string | undefined,
    readonly subresource: string | undefined,
    readonly watchPath: boolean,
  ) {}
}

function send(res: ServerResponse, code: number, body: unknown, contentType = 'application/json'): void {
  const text = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY) throw errors.custom(413, 'RequestEntityTooLarge', 'the request is too large');
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

function parseBody(body: Buffer, contentType: string): unknown {
  if (contentType === 'application/vnd.kubernetes.protobuf' && body.length > 0) return decodeProtobuf(body);
  if (contentType.includes('cbor') || contentType.includes('protobuf'))
    throw errors.unsupportedMediaType(contentType, ['application/json', 'application/yaml']);
  const text = body.toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    if (contentType.includes('yaml')) return parseYaml(text) as unknown;
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw errors.badRequest(`the request body could not be decoded: ${(e as Error).message}`);
  }
}

/** Items of built-in lists carry no apiVersion/kind on the wire; CRD items do. */
function listItem(rt: ResourceType, o: KubeObject): KubeObject {
  if (!rt.builtin) return o;
  const { apiVersion: _a, kind: _k, ...rest } = o;
  return rest as KubeObject;
}

interface TableRequest {
  version: string;
  include: IncludeObject;
}

function tableRequest(accept: string | undefined, query: URLSearchParams): TableRequest | undefined {
  const m = /as=Table;\s*v=(v1(?:beta1)?);\s*g=meta\.k8s\.io/.exec(accept ?? '');
  if (!m?.[1]) return undefined;
  const include = (query.get('includeObject') ?? 'Metadata') as IncludeObject;
  return { version: m[1], include };
}

function wantsPartialMetadata(accept: string | undefined): boolean {
  return /as=PartialObjectMetadata(List)?/.test(accept ?? '');
}

function partialMetadata(o: KubeObject) {
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata };
}

export class KubeApiServer {
  readonly requests: RecordedRequest[] = [];
  readonly faults: Fault[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly watches = new Set<() => void>();
  private address = '';

  constructor(
    private readonly api: Api,
    private readonly resources: ResourceRegistry,
    private readonly openApi: OpenApi,
    private readonly config: ServerConfig,
  ) {}

  async listen(port: number): Promise<number> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => this.fail(res, e));
    });
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    if (!addr || typeof addr === 'string') throw new Error('the simulator has no TCP address');
    this.address = `127.0.0.1:${addr.port}`;
    return addr.port;
  }

  async close(): Promise<void> {
    for (const end of [...this.watches]) end();
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
  }

  private fail(res: ServerResponse, e: unknown): void {
    if (e instanceof PageNotFound && !res.headersSent) {
      sendPageNotFound(res);
      return;
    }
    const status =
      e instanceof ApiError ? e.status : errors.internal((e as Error).message ?? String(e)).status;
    if (res.headersSent) {
      res.end();
      return;
    }
    send(res, status.code, status);
  }

  private record(req: IncomingMessage, url: URL, res: ServerResponse, body: () => unknown): void {
    const entry: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      contentType: req.headers['content-type'],
      accept: req.headers.accept,
      userAgent: req.headers['user-agent'],
      status: 0,
      body: undefined,
    };
    this.requests.push(entry);
    if (this.requests.length > MAX_RECORDED) this.requests.splice(0, this.requests.length - MAX_RECORDED);
    res.on('finish', () => {
      entry.status = res.statusCode;
      entry.body = body();
    });
  }

  private takeFault(method: string, path: string): Fault | undefined {
    const fault = this.faults.find(
      (f) =>
        (!f.method || f.method.toUpperCase() === method) &&
        (typeof f.path === 'string' ? f.path === path : f.path.test(path)),
    );
    if (!fault) return undefined;
    fault.times = (fault.times ?? 1) - 1;
    if (fault.times <= 0) this.faults.splice(this.faults.indexOf(fault), 1);
    return fault;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = (req.method ?? 'GET').toUpperCase();
    let parsedBody: unknown;
    this.record(req, url, res, () => parsedBody);
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const open = ['/version', '/healthz', '/livez', '/readyz'].includes(path);
    if (!open && this.config.token !== undefined) {
      if (req.headers.authorization !== `Bearer ${this.config.token}`) throw errors.unauthorized();
    }
    const fault = this.takeFault(method, path);
    if (fault) {
      await readBody(req);
      throw errors.custom(
        fault.code,
        fault.reason ?? 'InternalError',
        fault.message ?? `injected fault (${fault.code})`,
      );
    }
    const accept = req.headers.accept;
    if (method === 'GET' && this.discovery(path, accept, res)) return;
    const segs = path.split('/').filter(Boolean);
    let group: string;
    let version: string;
    let rest: string[];
    if (segs[0] === 'api' && segs[1]) {
      group = '';
      version = segs[1];
      rest = segs.slice(2);
    } else if (segs[0] === 'apis' && segs[1] && segs[2]) {
      group = segs[1];
      version = segs[2];
      rest = segs.slice(3);
    } else throw new PageNotFound();
    if (!this.servesGroupVersion(group, version)) throw new PageNotFound();
    const route = this.route(group, version, rest);
    const raw = method === 'GET' || method === 'HEAD' ? Buffer.alloc(0) : await readBody(req);
    const contentType = (req.headers['content-type'] ?? 'application/json').split(';')[0]?.trim() ?? '';
    parsedBody = parseBody(raw, contentType);
    const query = url.searchParams;
    const opts: WriteOptions = {
      ...(query.get('fieldManager') ? { fieldManager: query.get('fieldManager') ?? '' } : {}),
      ...(req.headers['user-agent'] ? { userAgent: req.headers['user-agent'] } : {}),
      dryRun: query.getAll('dryRun').includes('All'),
      force: query.get('force') === 'true',
    };
    if (route.subresource === 'log' && method !== 'GET') throw errors.methodNotAllowed();
    switch (method) {
      case 'GET': {
        if (route.subresource === 'log') {
          if (!route.name || !this.config.logs) throw errors.notFoundPath();
          this.api.get(route.rt, route.namespace, route.name);
          const tail = query.get('tailLines');
          const text = await this.config.logs(
            route.namespace ?? 'default',
            route.name,
            query.get('container') ?? undefined,
            tail ? Number(tail) : undefined,
          );
          send(res, 200, text, 'text/plain');
          return;
        }
        const body = this.read(route, query, accept, res);
        if (body !== undefined) send(res, 200, body);
        return;
      }
      case 'POST':
        if (route.name) throw errors.methodNotAllowed();
        return send(res, 201, this.api.create(route.rt, route.namespace, parsedBody, opts));
      case 'PUT':
        if (!route.name) throw errors.methodNotAllowed();
        if (route.subresource === 'scale') return send(res, 200, this.putScale(route, parsedBody, opts));
        return send(
          res,
          200,
          this.api.update(route.rt, route.namespace, route.name, parsedBody, {
            ...opts,
            ...(route.subresource === 'status' ? { subresource: 'status' } : {}),
          }),
        );
      case 'PATCH': {
        if (!route.name) throw errors.methodNotAllowed();
        if (route.subresource === 'scale')
          return send(res, 200, this.patchScale(route, contentType, parsedBody, opts));
        const { object, created } = this.api.patch(
          route.rt,
          route.namespace,
          route.name,
          contentType,
          parsedBody,
          {
            ...opts,
            ...(route.subresource === 'status' ? { subresource: 'status' } : {}),
          },
        );
        return send(res, created ? 201 : 200, object);
      }
      case 'DELETE': {
        const del = this.deleteOptions(query, parsedBody);
        if (!route.name) {
          const items = this.api.deleteCollection(route.rt, route.namespace, {
            ...del,
            ...this.selectors(query),
          });
          return send(res, 200, this.listBody(route.rt, items, undefined));
        }
        const result = this.api.delete(route.rt, route.namespace, route.name, del);
        return send(res, 200, result.kind === 'status' ? result.status : result.object);
      }
      default:
        throw errors.methodNotAllowed();
    }
  }

  private discovery(path: string, accept: string | undefined, res: ServerResponse): boolean {
    if (path === '/version') {
      send(res, 200, serverVersion(this.config.version));
      return true;
    }
    if (path === '/healthz' || path === '/livez' || path === '/readyz') {
      send(res, 200, 'ok', 'text/plain; charset=utf-8');
      return true;
    }
    if (path === '/api' || path === '/apis') {
      const flavour = discoveryFlavour(accept);
      const core = path === '/api';
      if (flavour !== 'legacy')
        send(res, 200, aggregatedDiscovery(this.resources, core, flavour), aggregatedContentType(flavour));
      else send(res, 200, core ? legacyCoreVersions(this.address) : legacyGroupList(this.resources));
      return true;
    }
    const segs = path.split('/').filter(Boolean);
    if (segs[0] === 'api' && segs.length === 2) {
      const list = resourceList(this.resources, '', segs[1] ?? '');
      if (!list) throw new PageNotFound();
      send(res, 200, list);
      return true;
    }
    if (segs[0] === 'apis' && segs.length === 2) {
      const group = legacyGroup(this.resources, segs[1] ?? '');
      if (!group) throw new PageNotFound();
      send(res, 200, group);
      return true;
    }
    if (segs[0] === 'apis' && segs.length === 3) {
      const list = resourceList(this.resources, segs[1] ?? '', segs[2] ?? '');
      if (!list) throw new PageNotFound();
      send(res, 200, list);
      return true;
    }
    if (path === '/openapi/v3') {
      send(res, 200, this.openApi.root());
      return true;
    }
    if (path.startsWith('/openapi/v3/')) {
      const doc = this.openApi.doc(path.slice('/openapi/v3/'.length));
      if (!doc) throw errors.notFoundPath();
      send(res, 200, doc);
      return true;
    }
    if (path === '/openapi/v2' || path === '/swagger-2.0.0.pb-v1') {
      // The old path is protobuf whatever the Accept header says.
      if ((accept ?? '').includes(OPENAPI_V2_PROTOBUF) || path === '/swagger-2.0.0.pb-v1')
        send(res, 200, openApiV2Protobuf(this.resources, this.config.version), 'application/octet-stream');
      else send(res, 200, openApiV2Json(this.resources, this.config.version));
      return true;
    }
    if (path.startsWith('/openapi/')) throw errors.notFoundPath();
    return false;
  }

  private servesGroupVersion(group: string, version: string): boolean {
    return this.resources.groups().get(group)?.includes(version) ?? false;
  }

  private route(group: string, version: string, rest: string[]): Route {
    let segs = rest;
    const watchPath = segs[0] === 'watch';
    if (watchPath) segs = segs.slice(1);
    let namespace: string | undefined;
    if (
      segs[0] === 'namespaces' &&
      segs.length >= 3 &&
      this.resources.byPath(group, version, segs[2] ?? '')?.namespaced
    ) {
      namespace = segs[1];
      segs = segs.slice(2);
    }
    const rt = this.resources.byPath(group, version, segs[0] ?? '');
    if (!rt || segs.length > 3) throw errors.notFoundPath();
    if (rt.namespaced && !namespace && segs[1]) throw errors.notFoundPath();
    const sub = segs[2];
    if (sub && !(rt.subresources as string[]).includes(sub)) throw errors.notFoundPath();
    return new Route(rt, namespace, segs[1], sub, watchPath);
  }

  private selectors(query: URLSearchParams) {
    return {
      ...(query.get('labelSelector') ? { labelSelector: query.get('labelSelector') ?? '' } : {}),
      ...(query.get('fieldSelector') ? { fieldSelector: query.get('fieldSelector') ?? '' } : {}),
    };
  }

  private deleteOptions(query: URLSearchParams, body: unknown): DeleteOptions {
    const b = isObject(body) ? body : {};
    const policy = (query.get('propagationPolicy') ??
      b.propagationPolicy) as DeleteOptions['propagationPolicy'];
    const grace = query.get('gracePeriodSeconds') ?? b.gracePeriodSeconds;
    const pre = isObject(b.preconditions) ? b.preconditions : undefined;
    const dryRun =
      query.getAll('dryRun').includes('All') || (Array.isArray(b.dryRun) && b.dryRun.includes('All'));
    return {
      ...(policy ? { propagationPolicy: policy } : {}),
      ...(grace !== undefined && grace !== null ? { gracePeriodSeconds: Number(grace) } : {}),
      ...(pre
        ? {
            preconditions: {
              ...(typeof pre.uid === 'string' ? { uid: pre.uid } : {}),
              ...(typeof pre.resourceVersion === 'string' ? { resourceVersion: pre.resourceVersion } : {}),
            },
          }
        : {}),
      dryRun,
    };
  }

  private listBody(rt: ResourceType, items: KubeObject[], meta: Record<string, unknown> | undefined) {
    return {
      kind: `${rt.kind}List`,
      apiVersion: apiVersionOf(rt),
      metadata: { resourceVersion: String(this.api.store.currentResourceVersion()), ...meta },
      items: items.map((o) => listItem(rt, o)),
    };
  }

  /** The body of a GET, or undefined when a watch took over the response. */
  private read(
    route: Route,
    query: URLSearchParams,
    accept: string | undefined,
    res: ServerResponse,
  ): unknown {
    const { rt } = route;
    const table = tableRequest(accept, query);
    const watch = route.watchPath || query.get('watch') === 'true' || query.get('watch') === '1';
    if (watch) {
      if (route.subresource) throw errors.methodNotAllowed();
      const filter = this.api.filterFor(this.selectors(query));
      const byName = route.name;
      let first = true;
      const end = serveWatch(
        this.api.store,
        res,
        {
          rt,
          namespace: route.namespace,
          filter: byName ? (o) => o.metadata.name === byName && filter(o) : filter,
          resourceVersion: query.get('resourceVersion') ?? undefined,
          timeoutSeconds: query.get('timeoutSeconds') ? Number(query.get('timeoutSeconds')) : undefined,
          allowWatchBookmarks: query.get('allowWatchBookmarks') === 'true',
          sendInitialEvents: query.get('sendInitialEvents') === 'true',
          render: (o) => {
            if (table) {
              const t = toTable(rt, [o], {
                tableVersion: table.version,
                include: table.include,
                resourceVersion: o.metadata.resourceVersion ?? '',
                withColumns: first,
              });
              first = false;
              return t;
            }
            return wantsPartialMetadata(accept) ? partialMetadata(o) : o;
          },
        },
        () => this.watches.delete(end),
      );
      this.watches.add(end);
      return undefined;
    }
    if (route.name) {
      const obj = this.api.get(rt, route.namespace, route.name);
      if (route.subresource === 'scale') return this.scaleOf(obj);
      if (table)
        return toTable(rt, [obj], {
          tableVersion: table.version,
          include: table.include,
          resourceVersion: obj.metadata.resourceVersion ?? '',
        });
      return wantsPartialMetadata(accept) ? partialMetadata(obj) : obj;
    }
    let items = this.api.list(rt, route.namespace, this.selectors(query));
    const limit = Number(query.get('limit') ?? 0);
    const cont = query.get('continue');
    const keyOf = (o: KubeObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;
    if (cont) {
      let after: string;
      try {
        after = (JSON.parse(Buffer.from(cont, 'base64url').toString('utf8')) as { start: string }).start;
      } catch {
        throw errors.badRequest('invalid continue token');
      }
      items = items.filter((o) => keyOf(o) > after);
    }
    let meta: Record<string, unknown> | undefined;
    if (limit > 0 && items.length > limit) {
      const page = items.slice(0, limit);
      const last = page[page.length - 1];
      meta = {
        continue: Buffer.from(JSON.stringify({ start: last ? keyOf(last) : '' })).toString('base64url'),
        remainingItemCount: items.length - limit,
      };
      items = page;
    }
    if (table)
      return toTable(rt, items, {
        tableVersion: table.version,
        include: table.include,
        resourceVersion: String(this.api.store.currentResourceVersion()),
      });
    if (wantsPartialMetadata(accept))
      return {
        kind: 'PartialObjectMetadataList',
        apiVersion: 'meta.k8s.io/v1',
        metadata: { resourceVersion: String(this.api.store.currentResourceVersion()), ...meta },
        items: items.map(partialMetadata),
      };
    return this.listBody(rt, items, meta);
  }

  private scaleOf(obj: KubeObject) {
    return {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: {
        name: obj.metadata.name,
        namespace: obj.metadata.namespace,
        uid: obj.metadata.uid,
        resourceVersion: obj.metadata.resourceVersion,
        creationTimestamp: obj.metadata.creationTimestamp,
      },
      spec: { replicas: getPath(obj, 'spec', 'replicas') ?? 0 },
      status: {
        replicas: getPath(obj, 'status', 'replicas') ?? 0,
        selector: labelSelectorString(getPath(obj, 'spec', 'selector')),
      },
    };
  }

  private setReplicas(route: Route, scale: unknown, opts: WriteOptions) {
    const { rt } = route;
    const obj = this.api.get(rt, route.namespace, route.name ?? '');
    const replicas = getPath(scale, 'spec', 'replicas');
    if (typeof replicas !== 'number' || replicas < 0)
      throw errors.invalid(rt, route.name ?? '', [
        {
          reason: 'FieldValueInvalid',
          message: `Invalid value: ${String(replicas)}: must be greater than or equal to 0`,
          field: 'spec.replicas',
        },
      ]);
    const rv = getPath(scale, 'metadata', 'resourceVersion');
    if (typeof rv === 'string' && rv !== '' && rv !== obj.metadata.resourceVersion)
      throw errors.conflict(
        rt,
        route.name ?? '',
        'the object has been modified; please apply your changes to the latest version and try again',
      );
    const next = { ...obj, spec: { ...(isObject(obj.spec) ? obj.spec : {}), replicas } };
    const written = this.api.update(rt, route.namespace, route.name ?? '', next, {
      ...opts,
      subresource: 'scale',
    });
    return this.scaleOf(written);
  }

  private putScale(route: Route, body: unknown, opts: WriteOptions) {
    return this.setReplicas(route, body, opts);
  }

  private patchScale(route: Route, contentType: string, body: unknown, opts: WriteOptions) {
    const current = this.scaleOf(this.api.get(route.rt, route.namespace, route.name ?? ''));
    let patched: unknown;
    if (contentType === PATCH_TYPES.json) patched = jsonPatch(current, body);
    else if (contentType === PATCH_TYPES.strategic) patched = strategicMergePatch(current, body);
    else if (contentType === PATCH_TYPES.merge || contentType === PATCH_TYPES.apply)
      patched = mergePatch(current, body);
    else throw errors.unsupportedMediaType(contentType, Object.values(PATCH_TYPES));
    return this.setReplicas(route, patched, opts);
  }
}

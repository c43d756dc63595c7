/**
 * /version, API discovery (aggregated v2 / v2beta1 and the legacy per-group documents) and
 * /openapi/v3: enough for kubectl's RESTMapper, shortNames, for `kubectl apply --server-side`
 * to find that PATCH takes fieldValidation, and (openapi-schemas.ts) the built-in kinds'
 * schemas that client-side `kubectl apply` builds its strategic merge patch from.
 */
import { createHash } from 'node:crypto';
import { builtinSchemas } from './openapi-schemas.js';
import { apiVersionOf, type ResourceRegistry, type ResourceType, VERBS } from './resources.js';

export interface ServerVersion {
  major: string;
  minor: string;
  gitVersion: string;
}

export function serverVersion(version: string): ServerVersion & Record<string, string> {
  const [major = '1', minor = '33', patch = '0'] = version.replace(/^v/, '').split('.');
  return {
    major,
    minor,
    gitVersion: `v${major}.${minor}.${patch}`,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2025-01-01T00:00:00Z',
    goVersion: 'go1.23.0',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}

const SUB_VERBS = ['get', 'patch', 'update'];

const subVerbs = (sub: string) => (sub === 'log' ? ['get'] : SUB_VERBS);

function subresourceKind(rt: ResourceType, sub: 'status' | 'scale' | 'log') {
  return sub === 'scale'
    ? { group: 'autoscaling', version: 'v1', kind: 'Scale' }
    : { group: rt.group, version: rt.version, kind: rt.kind };
}

function aggregatedResource(rt: ResourceType) {
  return {
    resource: rt.resource,
    responseKind: { group: rt.group, version: rt.version, kind: rt.kind },
    scope: rt.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: rt.singular,
    verbs: VERBS,
    ...(rt.shortNames.length ? { shortNames: rt.shortNames } : {}),
    ...(rt.categories.length ? { categories: rt.categories } : {}),
    ...(rt.subresources.length
      ? {
          subresources: rt.subresources.map((s) => ({
            subresource: s,
            responseKind: subresourceKind(rt, s),
            verbs: subVerbs(s),
          })),
        }
      : {}),
  };
}

export type DiscoveryFlavour = 'v2' | 'v2beta1' | 'legacy';

/** What the client's Accept header asks for (kubectl 1.27 knows v2beta1, 1.30+ v2). */
export function discoveryFlavour(accept: string | undefined): DiscoveryFlavour {
  const a = accept ?? '';
  if (/g=apidiscovery\.k8s\.io;\s*v=v2;\s*as=APIGroupDiscoveryList/.test(a)) return 'v2';
  if (/g=apidiscovery\.k8s\.io;\s*v=v2beta1;\s*as=APIGroupDiscoveryList/.test(a)) return 'v2beta1';
  return 'legacy';
}

export function aggregatedContentType(flavour: 'v2' | 'v2beta1'): string {
  return `application/json;g=apidiscovery.k8s.io;v=${flavour};as=APIGroupDiscoveryList`;
}

/** The aggregated document for /api (core) or /apis (all named groups). */
export function aggregatedDiscovery(reg: ResourceRegistry, core: boolean, flavour: 'v2' | 'v2beta1') {
  const items = [...reg.groups()]
    .filter(([group]) => (group === '') === core)
    .map(([group, versions]) => ({
      metadata: group ? { name: group, creationTimestamp: null } : { creationTimestamp: null },
      versions: versions.map((version) => ({
        version,
        resources: reg.inGroupVersion(group, version).map(aggregatedResource),
        freshness: 'Current',
      })),
    }));
  return { kind: 'APIGroupDiscoveryList', apiVersion: `apidiscovery.k8s.io/${flavour}`, metadata: {}, items };
}

export function legacyCoreVersions(serverAddress: string) {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function apiGroup(group: string, versions: string[]) {
  const gvs = versions.map((version) => ({ groupVersion: `${group}/${version}`, version }));
  return { name: group, versions: gvs, preferredVersion: gvs[0] };
}

export function legacyGroupList(reg: ResourceRegistry) {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [...reg.groups()].filter(([g]) => g !== '').map(([g, vs]) => apiGroup(g, vs)),
  };
}

export function legacyGroup(reg: ResourceRegistry, group: string) {
  const versions = reg.groups().get(group);
  return versions ? { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(group, versions) } : undefined;
}

export function resourceList(reg: ResourceRegistry, group: string, version: string) {
  const types = reg.inGroupVersion(group, version);
  if (types.length === 0) return undefined;
  const resources = types.flatMap((rt) => [
    {
      name: rt.resource,
      singularName: rt.singular,
      namespaced: rt.namespaced,
      kind: rt.kind,
      verbs: VERBS,
      ...(rt.shortNames.length ? { shortNames: rt.shortNames } : {}),
      ...(rt.categories.length ? { categories: rt.categories } : {}),
    },
    ...rt.subresources.map((s) => ({
      name: `${rt.resource}/${s}`,
      singularName: '',
      namespaced: rt.namespaced,
      ...(s === 'scale' ? { group: 'autoscaling', version: 'v1' } : {}),
      kind: subresourceKind(rt, s).kind,
      verbs: subVerbs(s),
    })),
  ]);
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: apiVersionOf({ group, version }),
    resources,
  };
}

/** "api/v1" or "apis/apps/v1": the keys of /openapi/v3. */
function openApiKey(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

const QUERY = (name: string) => ({ name, in: 'query', schema: { type: 'string', uniqueItems: true } });

function schemaName(rt: ResourceType): string {
  return (
    builtinSchemas(rt.group, rt.version, rt.kind)?.name ?? `${rt.group || 'core'}.${rt.version}.${rt.kind}`
  );
}

function openApiGroupDoc(reg: ResourceRegistry, group: string, version: string, k8sVersion: string) {
  const paths: Record<string, unknown> = {};
  const schemas: Record<string, unknown> = {};
  for (const rt of reg.inGroupVersion(group, version)) {
    const gvk = { group: rt.group, version: rt.version, kind: rt.kind };
    const ref = { $ref: `#/components/schemas/${schemaName(rt)}` };
    const body = { content: { 'application/json': { schema: ref } } };
    const ok = { '200': { description: 'OK', content: { 'application/json': { schema: ref } } } };
    const prefix = `/${openApiKey(group, version)}${rt.namespaced ? '/namespaces/{namespace}' : ''}/${rt.resource}`;
    const common = { 'x-kubernetes-group-version-kind': gvk };
    paths[prefix] = {
      get: { ...common, 'x-kubernetes-action': 'list', parameters: [QUERY('labelSelector')], responses: ok },
      post: {
        ...common,
        'x-kubernetes-action': 'post',
        parameters: [QUERY('dryRun'), QUERY('fieldManager'), QUERY('fieldValidation')],
        requestBody: body,
        responses: ok,
      },
    };
    paths[`${prefix}/{name}`] = {
      get: { ...common, 'x-kubernetes-action': 'get', responses: ok },
      put: {
        ...common,
        'x-kubernetes-action': 'put',
        parameters: [QUERY('dryRun'), QUERY('fieldManager'), QUERY('fieldValidation')],
        requestBody: body,
        responses: ok,
      },
      patch: {
        ...common,
        'x-kubernetes-action': 'patch',
        parameters: [QUERY('dryRun'), QUERY('fieldManager'), QUERY('fieldValidation'), QUERY('force')],
        requestBody: {
          content: Object.fromEntries(
            [
              'application/apply-patch+yaml',
              'application/json-patch+json',
              'application/merge-patch+json',
              ...(rt.builtin ? ['application/strategic-merge-patch+json'] : []),
            ].map((t) => [t, { schema: { type: 'object' } }]),
          ),
        },
        responses: ok,
      },
      delete: { ...common, 'x-kubernetes-action': 'delete', responses: ok },
    };
    const builtin = rt.builtin ? builtinSchemas(rt.group, rt.version, rt.kind) : undefined;
    if (builtin) {
      Object.assign(schemas, builtin.shared);
      schemas[builtin.name] = builtin.schema;
      continue;
    }
    schemas[schemaName(rt)] = {
      type: 'object',
      'x-kubernetes-group-version-kind': [gvk],
      properties: {
        apiVersion: { type: 'string' },
        kind: { type: 'string' },
        metadata: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      },
      'x-kubernetes-preserve-unknown-fields': true,
    };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: `v${k8sVersion.replace(/^v/, '')}` },
    paths,
    components: { schemas },
  };
}

/** /openapi/v3 and its per-group-version documents. */
export class OpenApi {
  private readonly docs = new Map<string, { json: string; hash: string }>();

  constructor(reg: ResourceRegistry, k8sVersion: string) {
    for (const [group, versions] of reg.groups()) {
      for (const version of versions) {
        const json = JSON.stringify(openApiGroupDoc(reg, group, version, k8sVersion));
        const hash = createHash('sha512').update(json).digest('hex').toUpperCase();
        this.docs.set(openApiKey(group, version), { json, hash });
      }
    }
  }

  root(): string {
    const paths: Record<string, { serverRelativeURL: string }> = {};
    for (const [key, doc] of this.docs)
      paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${doc.hash}` };
    return JSON.stringify({ paths });
  }

  /** The document for "apis/apps/v1" etc., or undefined. */
  doc(key: string): string | undefined {
    return this.docs.get(key)?.json;
  }
}

/** The resource types the simulator serves, with what discovery says about each. */

export interface ResourceType {
  group: string;
  version: string;
  /** plural, lower case: the URL segment */
  resource: string;
  kind: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  subresources: ('status' | 'scale' | 'log')[];
  /** Built-in types: list items carry no apiVersion/kind, strategic merge patch works. CRDs: neither. */
  builtin: boolean;
  /** metadata.generation is kept (starts at 1, bumped on changes outside metadata and status). */
  generation: boolean;
  /**
   * A change of metadata.annotations alone bumps the generation too (Deployments: their
   * annotations are copied to ReplicaSets, see pkg/registry/apps/deployment PrepareForUpdate).
   */
  annotationsBumpGeneration?: boolean;
}

export const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

/** Optional API groups, as a cluster has them only when the add-on is installed. */
export type Addon = 'cert-manager' | 'gke' | 'gateway-api';
export const ALL_ADDONS: readonly Addon[] = ['cert-manager', 'gke', 'gateway-api'];

type Def = Omit<ResourceType, 'singular' | 'shortNames' | 'categories' | 'subresources' | 'generation'> &
  Partial<Pick<ResourceType, 'shortNames' | 'categories' | 'subresources' | 'generation'>> & {
    addon?: Addon;
  };

const core = (resource: string, kind: string, namespaced: boolean, extra: Partial<Def> = {}): Def => ({
  group: '',
  version: 'v1',
  resource,
  kind,
  namespaced,
  builtin: true,
  ...extra,
});

const DEFS: Def[] = [
  core('namespaces', 'Namespace', false, { shortNames: ['ns'], subresources: ['status'] }),
  core('nodes', 'Node', false, { shortNames: ['no'], subresources: ['status'] }),
  core('pods', 'Pod', true, { shortNames: ['po'], categories: ['all'], subresources: ['status', 'log'] }),
  core('services', 'Service', true, { shortNames: ['svc'], categories: ['all'], subresources: ['status'] }),
  core('endpoints', 'Endpoints', true, { shortNames: ['ep'] }),
  core('configmaps', 'ConfigMap', true, { shortNames: ['cm'] }),
  core('secrets', 'Secret', true),
  core('serviceaccounts', 'ServiceAccount', true, { shortNames: ['sa'] }),
  core('events', 'Event', true, { shortNames: ['ev'] }),
  {
    group: 'apps',
    version: 'v1',
    resource: 'deployments',
    kind: 'Deployment',
    namespaced: true,
    builtin: true,
    shortNames: ['deploy'],
    categories: ['all'],
    subresources: ['status', 'scale'],
    generation: true,
    annotationsBumpGeneration: true,
  },
  {
    group: 'apps',
    version: 'v1',
    resource: 'replicasets',
    kind: 'ReplicaSet',
    namespaced: true,
    builtin: true,
    shortNames: ['rs'],
    categories: ['all'],
    subresources: ['status', 'scale'],
    generation: true,
  },
  {
    group: 'discovery.k8s.io',
    version: 'v1',
    resource: 'endpointslices',
    kind: 'EndpointSlice',
    namespaced: true,
    builtin: true,
    generation: true,
  },
  {
    group: 'networking.k8s.io',
    version: 'v1',
    resource: 'ingresses',
    kind: 'Ingress',
    namespaced: true,
    builtin: true,
    shortNames: ['ing'],
    subresources: ['status'],
    generation: true,
  },
  {
    group: 'networking.k8s.io',
    version: 'v1',
    resource: 'ingressclasses',
    kind: 'IngressClass',
    namespaced: false,
    builtin: true,
    generation: true,
  },
  {
    group: 'coordination.k8s.io',
    version: 'v1',
    resource: 'leases',
    kind: 'Lease',
    namespaced: true,
    builtin: true,
  },
  {
    group: 'policy',
    version: 'v1',
    resource: 'poddisruptionbudgets',
    kind: 'PodDisruptionBudget',
    namespaced: true,
    builtin: true,
    shortNames: ['pdb'],
    subresources: ['status'],
    generation: true,
  },
  // cert-manager (CRDs)
  ...crdKinds('cert-manager.io', 'cert-manager', [
    ['certificates', 'Certificate', true, ['cert', 'certs']],
    ['certificaterequests', 'CertificateRequest', true, ['cr', 'crs']],
    ['issuers', 'Issuer', true, []],
    ['clusterissuers', 'ClusterIssuer', false, []],
  ]),
  // GKE
  {
    group: 'networking.gke.io',
    version: 'v1',
    resource: 'managedcertificates',
    kind: 'ManagedCertificate',
    namespaced: true,
    builtin: false,
    shortNames: ['mcrt'],
    subresources: ['status'],
    addon: 'gke',
  },
  {
    group: 'networking.gke.io',
    version: 'v1',
    resource: 'healthcheckpolicies',
    kind: 'HealthCheckPolicy',
    namespaced: true,
    builtin: false,
    subresources: ['status'],
    addon: 'gke',
  },
  {
    group: 'networking.gke.io',
    version: 'v1beta1',
    resource: 'frontendconfigs',
    kind: 'FrontendConfig',
    namespaced: true,
    builtin: false,
    addon: 'gke',
  },
  {
    group: 'cloud.google.com',
    version: 'v1',
    resource: 'backendconfigs',
    kind: 'BackendConfig',
    namespaced: true,
    builtin: false,
    shortNames: ['bc'],
    addon: 'gke',
  },
  // Gateway API
  ...crdKinds('gateway.networking.k8s.io', 'gateway-api', [
    ['gatewayclasses', 'GatewayClass', false, ['gc']],
    ['gateways', 'Gateway', true, ['gtw']],
    ['httproutes', 'HTTPRoute', true, []],
  ]),
  {
    group: 'gateway.networking.k8s.io',
    version: 'v1beta1',
    resource: 'referencegrants',
    kind: 'ReferenceGrant',
    namespaced: true,
    builtin: false,
    shortNames: ['refgrant'],
    categories: ['gateway-api'],
    addon: 'gateway-api',
  },
];

/** Custom resources of one add-on group at v1, each with a status subresource. */
function crdKinds(
  group: string,
  addon: Addon,
  rows: ReadonlyArray<
    readonly [resource: string, kind: string, namespaced: boolean, shortNames: readonly string[]]
  >,
): Def[] {
  return rows.map(([resource, kind, namespaced, shortNames]) => ({
    group,
    version: 'v1',
    resource,
    kind,
    namespaced,
    builtin: false,
    shortNames: [...shortNames],
    categories: [addon],
    subresources: ['status'],
    addon,
  }));
}

export function resourceKey(rt: Pick<ResourceType, 'group' | 'resource'>): string {
  return `${rt.group}/${rt.resource}`;
}

export function apiVersionOf(rt: Pick<ResourceType, 'group' | 'version'>): string {
  return rt.group ? `${rt.group}/${rt.version}` : rt.version;
}

/** The resource types of one simulated cluster. */
export class ResourceRegistry {
  readonly all: ResourceType[];

  constructor(addons: readonly Addon[] = ALL_ADDONS) {
    this.all = DEFS.filter((d) => !d.addon || addons.includes(d.addon)).map(({ addon: _addon, ...d }) => ({
      singular: d.kind.toLowerCase(),
      shortNames: [],
      categories: [],
      subresources: [],
      // CRDs always keep a generation; built-ins only where marked.
      generation: !d.builtin,
      ...d,
    }));
  }

  byPath(group: string, version: string, resource: string): ResourceType | undefined {
    return this.all.find((r) => r.group === group && r.version === version && r.resource === resource);
  }

  byKind(apiVersion: string, kind: string): ResourceType | undefined {
    return this.all.find((r) => apiVersionOf(r) === apiVersion && r.kind === kind);
  }

  byKey(key: string): ResourceType | undefined {
    return this.all.find((r) => resourceKey(r) === key);
  }

  /** Group -> versions, in discovery order (core group first, as "" ). */
  groups(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const r of this.all) {
      const versions = out.get(r.group) ?? [];
      if (!versions.includes(r.version)) versions.push(r.version);
      out.set(r.group, versions);
    }
    return out;
  }

  inGroupVersion(group: string, version: string): ResourceType[] {
    return this.all.filter((r) => r.group === group && r.version === version);
  }
}

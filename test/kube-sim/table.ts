/** Server-side printing (Accept: ...;as=Table): the columns `kubectl get` shows. */
import type { ResourceType } from './resources.js';
import { labelSelectorString } from './selectors.js';
import type { KubeObject } from './types.js';
import { asArray, asNumber, asString, getPath, humanAge, isObject } from './util.js';

interface Column {
  name: string;
  type: 'string' | 'integer' | 'date';
  format?: string;
  priority?: number;
  cell(o: KubeObject): string | number;
}

const age = (o: KubeObject) =>
  o.metadata.creationTimestamp
    ? humanAge(Date.now() - Date.parse(o.metadata.creationTimestamp))
    : '<unknown>';
const num = (o: KubeObject, ...path: string[]) => asNumber(getPath(o, ...path)) ?? 0;
const containers = (spec: unknown) => asArray(getPath(spec, 'template', 'spec', 'containers'));
const names = (cs: unknown[]) => cs.map((c) => asString(getPath(c, 'name')) ?? '').join(',');
const images = (cs: unknown[]) => cs.map((c) => asString(getPath(c, 'image')) ?? '').join(',');

/** An IntOrString cell: the value, or N/A when unset (the PDB printer). */
const intOrPercent = (v: unknown) => (v === undefined || v === null ? 'N/A' : String(v));
/** Up to three values, then `+ N more...`; `<unset>` for none (the EndpointSlice printer). */
function moreOf(values: string[]): string {
  if (values.length === 0) return '<unset>';
  return values.length > 3
    ? `${values.slice(0, 3).join(',')} + ${values.length - 3} more...`
    : values.join(',');
}

const NAME: Column = { name: 'Name', type: 'string', format: 'name', cell: (o) => o.metadata.name ?? '' };
const AGE: Column = { name: 'Age', type: 'string', cell: age };
/** The `-o wide` columns Deployments and ReplicaSets share. */
const WORKLOAD_WIDE: Column[] = [
  { name: 'Containers', type: 'string', priority: 1, cell: (o) => names(containers(o.spec)) },
  { name: 'Images', type: 'string', priority: 1, cell: (o) => images(containers(o.spec)) },
  {
    name: 'Selector',
    type: 'string',
    priority: 1,
    cell: (o) => labelSelectorString(getPath(o, 'spec', 'selector')),
  },
];

/** STATUS of `kubectl get pods`: a waiting reason beats the phase; Terminating beats both. */
export function podStatus(o: KubeObject): string {
  if (o.metadata.deletionTimestamp) return 'Terminating';
  for (const cs of asArray(getPath(o, 'status', 'containerStatuses'))) {
    const waiting = asString(getPath(cs, 'state', 'waiting', 'reason'));
    if (waiting) return waiting;
    const terminated = asString(getPath(cs, 'state', 'terminated', 'reason'));
    if (terminated) return terminated;
  }
  return asString(getPath(o, 'status', 'phase')) ?? 'Pending';
}

function servicePorts(o: KubeObject): string {
  const ports = asArray(getPath(o, 'spec', 'ports'));
  if (ports.length === 0) return '<none>';
  return ports
    .map((p) => {
      const node = asNumber(getPath(p, 'nodePort'));
      return `${getPath(p, 'port')}${node ? `:${node}` : ''}/${asString(getPath(p, 'protocol')) ?? 'TCP'}`;
    })
    .join(',');
}

function externalIPs(o: KubeObject): string {
  const ingress = asArray(getPath(o, 'status', 'loadBalancer', 'ingress'))
    .map((i) => asString(getPath(i, 'ip')) ?? asString(getPath(i, 'hostname')))
    .filter(Boolean);
  if (ingress.length) return ingress.join(',');
  return getPath(o, 'spec', 'type') === 'LoadBalancer' ? '<pending>' : '<none>';
}

const COLUMNS: Record<string, Column[]> = {
  'apps/deployments': [
    NAME,
    {
      name: 'Ready',
      type: 'string',
      cell: (o) => `${num(o, 'status', 'readyReplicas')}/${num(o, 'spec', 'replicas')}`,
    },
    { name: 'Up-to-date', type: 'integer', cell: (o) => num(o, 'status', 'updatedReplicas') },
    { name: 'Available', type: 'integer', cell: (o) => num(o, 'status', 'availableReplicas') },
    AGE,
    ...WORKLOAD_WIDE,
  ],
  'apps/replicasets': [
    NAME,
    { name: 'Desired', type: 'integer', cell: (o) => num(o, 'spec', 'replicas') },
    { name: 'Current', type: 'integer', cell: (o) => num(o, 'status', 'replicas') },
    { name: 'Ready', type: 'integer', cell: (o) => num(o, 'status', 'readyReplicas') },
    AGE,
    ...WORKLOAD_WIDE,
  ],
  '/pods': [
    NAME,
    {
      name: 'Ready',
      type: 'string',
      cell: (o) => {
        const statuses = asArray(getPath(o, 'status', 'containerStatuses'));
        const total = asArray(getPath(o, 'spec', 'containers')).length;
        return `${statuses.filter((s) => getPath(s, 'ready') === true).length}/${total}`;
      },
    },
    { name: 'Status', type: 'string', cell: podStatus },
    {
      name: 'Restarts',
      type: 'string',
      cell: (o) =>
        String(
          asArray(getPath(o, 'status', 'containerStatuses')).reduce<number>(
            (n, s) => n + (asNumber(getPath(s, 'restartCount')) ?? 0),
            0,
          ),
        ),
    },
    AGE,
    {
      name: 'IP',
      type: 'string',
      priority: 1,
      cell: (o) => asString(getPath(o, 'status', 'podIP')) ?? '<none>',
    },
    {
      name: 'Node',
      type: 'string',
      priority: 1,
      cell: (o) => asString(getPath(o, 'spec', 'nodeName')) ?? '<none>',
    },
  ],
  '/services': [
    NAME,
    { name: 'Type', type: 'string', cell: (o) => asString(getPath(o, 'spec', 'type')) ?? 'ClusterIP' },
    {
      name: 'Cluster-IP',
      type: 'string',
      cell: (o) => asString(getPath(o, 'spec', 'clusterIP')) ?? '<none>',
    },
    { name: 'External-IP', type: 'string', cell: externalIPs },
    { name: 'Port(s)', type: 'string', cell: servicePorts },
    AGE,
    {
      name: 'Selector',
      type: 'string',
      priority: 1,
      cell: (o) => {
        const sel = getPath(o, 'spec', 'selector');
        return isObject(sel) ? labelSelectorString({ matchLabels: sel }) : '<none>';
      },
    },
  ],
  '/endpoints': [
    NAME,
    {
      name: 'Endpoints',
      type: 'string',
      cell: (o) => {
        const eps = asArray(o.subsets).flatMap((sub) =>
          asArray(getPath(sub, 'addresses')).flatMap((a) =>
            asArray(getPath(sub, 'ports')).map((p) => `${getPath(a, 'ip')}:${getPath(p, 'port')}`),
          ),
        );
        if (eps.length === 0) return '<none>';
        return eps.length > 3 ? `${eps.slice(0, 3).join(',')} + ${eps.length - 3} more...` : eps.join(',');
      },
    },
    AGE,
  ],
  'discovery.k8s.io/endpointslices': [
    NAME,
    { name: 'AddressType', type: 'string', cell: (o) => asString(o.addressType) ?? '' },
    {
      name: 'Ports',
      type: 'string',
      cell: (o) => moreOf(asArray(o.ports).map((p) => String(getPath(p, 'port') ?? '<unset>'))),
    },
    {
      name: 'Endpoints',
      type: 'string',
      cell: (o) => moreOf(asArray(o.endpoints).flatMap((e) => asArray(getPath(e, 'addresses')).map(String))),
    },
    AGE,
  ],
  'policy/poddisruptionbudgets': [
    NAME,
    { name: 'Min Available', type: 'string', cell: (o) => intOrPercent(getPath(o, 'spec', 'minAvailable')) },
    {
      name: 'Max Unavailable',
      type: 'string',
      cell: (o) => intOrPercent(getPath(o, 'spec', 'maxUnavailable')),
    },
    {
      name: 'Allowed Disruptions',
      type: 'integer',
      cell: (o) => num(o, 'status', 'disruptionsAllowed'),
    },
    AGE,
  ],
  '/nodes': [
    NAME,
    {
      name: 'Status',
      type: 'string',
      cell: (o) =>
        asArray(getPath(o, 'status', 'conditions')).some(
          (c) => getPath(c, 'type') === 'Ready' && getPath(c, 'status') === 'True',
        )
          ? 'Ready'
          : 'NotReady',
    },
    { name: 'Roles', type: 'string', cell: () => '<none>' },
    AGE,
    {
      name: 'Version',
      type: 'string',
      cell: (o) => asString(getPath(o, 'status', 'nodeInfo', 'kubeletVersion')) ?? '',
    },
  ],
  '/namespaces': [
    NAME,
    { name: 'Status', type: 'string', cell: (o) => asString(getPath(o, 'status', 'phase')) ?? '' },
    AGE,
  ],
  'networking.k8s.io/ingresses': [
    NAME,
    {
      name: 'Class',
      type: 'string',
      cell: (o) => asString(getPath(o, 'spec', 'ingressClassName')) ?? '<none>',
    },
    {
      name: 'Hosts',
      type: 'string',
      cell: (o) =>
        asArray(getPath(o, 'spec', 'rules'))
          .map((r) => asString(getPath(r, 'host')) ?? '*')
          .join(',') || '*',
    },
    {
      name: 'Address',
      type: 'string',
      cell: (o) =>
        asArray(getPath(o, 'status', 'loadBalancer', 'ingress'))
          .map((i) => asString(getPath(i, 'ip')) ?? asString(getPath(i, 'hostname')) ?? '')
          .join(','),
    },
    {
      name: 'Ports',
      type: 'string',
      cell: (o) => (asArray(getPath(o, 'spec', 'tls')).length ? '80, 443' : '80'),
    },
    AGE,
  ],
  '/events': [
    {
      name: 'Last Seen',
      type: 'string',
      cell: (o) => humanAge(Date.now() - Date.parse(asString(o.lastTimestamp) ?? '')),
    },
    { name: 'Type', type: 'string', cell: (o) => asString(o.type) ?? '' },
    { name: 'Reason', type: 'string', cell: (o) => asString(o.reason) ?? '' },
    {
      name: 'Object',
      type: 'string',
      cell: (o) =>
        `${String(getPath(o, 'involvedObject', 'kind') ?? '').toLowerCase()}/${getPath(o, 'involvedObject', 'name') ?? ''}`,
    },
    { name: 'Message', type: 'string', cell: (o) => asString(o.message) ?? '' },
  ],
};

const conditionStatus = (type: string) => (o: KubeObject) =>
  asString(
    getPath(
      asArray(getPath(o, 'status', 'conditions')).find((c) => getPath(c, 'type') === type),
      'status',
    ),
  ) ?? '';

const readyColumns: Column[] = [NAME, { name: 'Ready', type: 'string', cell: conditionStatus('Ready') }, AGE];
Object.assign(COLUMNS, {
  'cert-manager.io/certificates': [
    NAME,
    { name: 'Ready', type: 'string', cell: conditionStatus('Ready') },
    {
      name: 'Secret',
      type: 'string',
      cell: (o: KubeObject) => asString(getPath(o, 'spec', 'secretName')) ?? '',
    },
    AGE,
  ],
  'cert-manager.io/issuers': readyColumns,
  'cert-manager.io/clusterissuers': readyColumns,
  'networking.gke.io/managedcertificates': [
    NAME,
    AGE,
    {
      name: 'Status',
      type: 'string',
      cell: (o: KubeObject) => asString(getPath(o, 'status', 'certificateStatus')) ?? '',
    },
  ],
  'gateway.networking.k8s.io/gateways': [
    NAME,
    {
      name: 'Class',
      type: 'string',
      cell: (o: KubeObject) => asString(getPath(o, 'spec', 'gatewayClassName')) ?? '',
    },
    {
      name: 'Address',
      type: 'string',
      cell: (o: KubeObject) =>
        asString(getPath(asArray(getPath(o, 'status', 'addresses'))[0], 'value')) ?? '',
    },
    { name: 'Programmed', type: 'string', cell: conditionStatus('Programmed') },
    AGE,
  ],
  'gateway.networking.k8s.io/httproutes': [
    NAME,
    {
      name: 'Hostnames',
      type: 'string',
      cell: (o: KubeObject) => JSON.stringify(asArray(getPath(o, 'spec', 'hostnames'))),
    },
    AGE,
  ],
} satisfies Record<string, Column[]>);

export type IncludeObject = 'None' | 'Metadata' | 'Object';

function rowObject(rt: ResourceType, o: KubeObject, include: IncludeObject, tableVersion: string) {
  if (include === 'None') return undefined;
  if (include === 'Object') return o;
  return {
    kind: 'PartialObjectMetadata',
    apiVersion: `meta.k8s.io/${tableVersion}`,
    metadata: { ...o.metadata, ...(rt.namespaced ? {} : { namespace: undefined }) },
  };
}

export function toTable(
  rt: ResourceType,
  objects: KubeObject[],
  opts: { tableVersion: string; include: IncludeObject; resourceVersion: string; withColumns?: boolean },
) {
  const columns = COLUMNS[`${rt.group}/${rt.resource}`] ?? [NAME, AGE];
  return {
    kind: 'Table',
    apiVersion: `meta.k8s.io/${opts.tableVersion}`,
    metadata: { resourceVersion: opts.resourceVersion },
    ...(opts.withColumns === false
      ? {}
      : {
          columnDefinitions: columns.map((c) => ({
            name: c.name,
            type: c.type,
            format: c.format ?? '',
            description: c.name,
            priority: c.priority ?? 0,
          })),
        }),
    rows: objects.map((o) => {
      const object = rowObject(rt, o, opts.include, opts.tableVersion);
      return { cells: columns.map((c) => c.cell(o)), ...(object ? { object } : {}) };
    }),
  };
}

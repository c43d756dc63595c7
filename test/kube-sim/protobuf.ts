/**
 * Decoding of the Kubernetes protobuf envelope ("k8s\0" + runtime.Unknown) for the few
 * types kubectl 1.33 sends that way (its `create namespace|configmap|secret|service|
 * deployment` generators). Field numbers from k8s.io/api generated.proto. A field this
 * decoder does not know, if set, is an error rather than silently lost.
 */
import { errors } from './errors.js';
import type { JsonObject } from './util.js';

type Scalar = 'string' | 'int' | 'bool' | 'bytes' | 'time' | 'intstr' | 'quantity' | 'ignored';
interface Field {
  name: string;
  type: Scalar | Schema;
  repeated?: boolean;
  /** map<string, string|bytes|quantity>: repeated {1: key, 2: value} entries */
  map?: 'string' | 'bytes' | 'quantity';
  /** A pointer in Go: a zero value is kept (e.g. replicas: 0). */
  keepZero?: boolean;
}
interface Schema {
  name: string;
  fields: Record<number, Field>;
}

const s = (name: string, fields: Record<number, Field>): Schema => ({ name, fields });
const str = (name: string): Field => ({ name, type: 'string' });
const strs = (name: string): Field => ({ name, type: 'string', repeated: true });
const int = (name: string, keepZero = false): Field => ({ name, type: 'int', keepZero });
const bool = (name: string, keepZero = false): Field => ({ name, type: 'bool', keepZero });
const map = (name: string, value: Field['map'] = 'string'): Field => ({ name, type: 'string', map: value });
const msg = (name: string, type: Schema, repeated = false): Field => ({ name, type, repeated });
/** status: the server resets it on create anyway. */
const STATUS: Field = { name: 'status', type: 'ignored' };

const OwnerReference = s('OwnerReference', {
  1: str('kind'),
  3: str('name'),
  4: str('uid'),
  5: str('apiVersion'),
  6: bool('controller', true),
  7: bool('blockOwnerDeletion', true),
});
const ObjectMeta = s('ObjectMeta', {
  1: str('name'),
  2: str('generateName'),
  3: str('namespace'),
  4: str('selfLink'),
  5: str('uid'),
  6: str('resourceVersion'),
  7: int('generation'),
  8: { name: 'creationTimestamp', type: 'time' },
  9: { name: 'deletionTimestamp', type: 'time' },
  10: int('deletionGracePeriodSeconds', true),
  11: map('labels'),
  12: map('annotations'),
  13: msg('ownerReferences', OwnerReference, true),
  14: strs('finalizers'),
});
const LabelSelector = s('LabelSelector', {
  1: map('matchLabels'),
  2: msg(
    'matchExpressions',
    s('LabelSelectorRequirement', { 1: str('key'), 2: str('operator'), 3: strs('values') }),
    true,
  ),
});
const Container = s('Container', {
  1: str('name'),
  2: str('image'),
  3: strs('command'),
  4: strs('args'),
  5: str('workingDir'),
  6: msg(
    'ports',
    s('ContainerPort', {
      1: str('name'),
      2: int('hostPort'),
      3: int('containerPort'),
      4: str('protocol'),
      5: str('hostIP'),
    }),
    true,
  ),
  7: msg('env', s('EnvVar', { 1: str('name'), 2: str('value') }), true),
  8: msg(
    'resources',
    s('ResourceRequirements', { 1: map('limits', 'quantity'), 2: map('requests', 'quantity') }),
  ),
  13: str('terminationMessagePath'),
  14: str('imagePullPolicy'),
  16: bool('stdin'),
  17: bool('stdinOnce'),
  18: bool('tty'),
  20: str('terminationMessagePolicy'),
});
const PodSpec = s('PodSpec', {
  2: msg('containers', Container, true),
  3: str('restartPolicy'),
  4: int('terminationGracePeriodSeconds', true),
  6: str('dnsPolicy'),
  7: map('nodeSelector'),
  8: str('serviceAccountName'),
  10: str('nodeName'),
  11: bool('hostNetwork'),
  15: msg('imagePullSecrets', s('LocalObjectReference', { 1: str('name') }), true),
  19: str('schedulerName'),
});
const PodTemplateSpec = s('PodTemplateSpec', { 1: msg('metadata', ObjectMeta), 2: msg('spec', PodSpec) });

const ROOTS: Record<string, Schema> = {
  'v1/Namespace': s('Namespace', {
    1: msg('metadata', ObjectMeta),
    2: msg('spec', s('NamespaceSpec', { 1: strs('finalizers') })),
    3: STATUS,
  }),
  'v1/ConfigMap': s('ConfigMap', {
    1: msg('metadata', ObjectMeta),
    2: map('data'),
    3: map('binaryData', 'bytes'),
    4: bool('immutable', true),
  }),
  'v1/Secret': s('Secret', {
    1: msg('metadata', ObjectMeta),
    2: map('data', 'bytes'),
    3: str('type'),
    4: map('stringData'),
    5: bool('immutable', true),
  }),
  'v1/Service': s('Service', {
    1: msg('metadata', ObjectMeta),
    2: msg(
      'spec',
      s('ServiceSpec', {
        1: msg(
          'ports',
          s('ServicePort', {
            1: str('name'),
            2: str('protocol'),
            3: int('port'),
            4: { name: 'targetPort', type: 'intstr' },
            5: int('nodePort'),
            6: str('appProtocol'),
          }),
          true,
        ),
        2: map('selector'),
        3: str('clusterIP'),
        4: str('type'),
        5: strs('externalIPs'),
        7: str('sessionAffinity'),
        8: str('loadBalancerIP'),
        9: strs('loadBalancerSourceRanges'),
        10: str('externalName'),
        11: str('externalTrafficPolicy'),
        12: int('healthCheckNodePort'),
        13: bool('publishNotReadyAddresses'),
        17: str('ipFamilyPolicy'),
        18: strs('clusterIPs'),
        19: strs('ipFamilies'),
        20: bool('allocateLoadBalancerNodePorts', true),
        21: str('loadBalancerClass'),
        22: str('internalTrafficPolicy'),
      }),
    ),
    3: STATUS,
  }),
  'apps/v1/Deployment': s('Deployment', {
    1: msg('metadata', ObjectMeta),
    2: msg(
      'spec',
      s('DeploymentSpec', {
        1: int('replicas', true),
        2: msg('selector', LabelSelector),
        3: msg('template', PodTemplateSpec),
        4: msg(
          'strategy',
          s('DeploymentStrategy', {
            1: str('type'),
            2: msg(
              'rollingUpdate',
              s('RollingUpdateDeployment', {
                1: { name: 'maxUnavailable', type: 'intstr' },
                2: { name: 'maxSurge', type: 'intstr' },
              }),
            ),
          }),
        ),
        5: int('minReadySeconds'),
        6: int('revisionHistoryLimit', true),
        7: bool('paused'),
        9: int('progressDeadlineSeconds', true),
      }),
    ),
    3: STATUS,
  }),
};

type Wire = { field: number; varint?: number; bytes?: Buffer };

function readWire(buf: Buffer): Wire[] {
  const out: Wire[] = [];
  let i = 0;
  const varint = () => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = buf[i++];
      if (b === undefined) throw errors.badRequest('truncated protobuf body');
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(b & 0x80)) return v;
    }
  };
  while (i < buf.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) out.push({ field, varint: varint() });
    else if (wire === 2) {
      const len = varint();
      out.push({ field, bytes: buf.subarray(i, i + len) });
      i += len;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw errors.badRequest(`unsupported protobuf wire type ${wire}`);
  }
  return out;
}

function isZero(w: Wire): boolean {
  return w.varint === 0 || (w.bytes !== undefined && w.bytes.length === 0);
}

function scalar(type: Scalar, w: Wire): unknown {
  switch (type) {
    case 'string':
      return w.bytes?.toString('utf8') ?? '';
    case 'bytes':
      return (w.bytes ?? Buffer.alloc(0)).toString('base64');
    case 'int': {
      const v = w.varint ?? 0;
      return v >= 2 ** 63 ? v - 2 ** 64 : v;
    }
    case 'bool':
      return w.varint === 1;
    case 'time': {
      const parts = readWire(w.bytes ?? Buffer.alloc(0));
      const seconds = parts.find((p) => p.field === 1)?.varint;
      return seconds ? `${new Date(seconds * 1000).toISOString().slice(0, 19)}Z` : undefined;
    }
    case 'ignored':
      return undefined;
    case 'quantity':
      return readWire(w.bytes ?? Buffer.alloc(0))
        .find((p) => p.field === 1)
        ?.bytes?.toString('utf8');
    case 'intstr': {
      const parts = readWire(w.bytes ?? Buffer.alloc(0));
      const kind = parts.find((p) => p.field === 1)?.varint ?? 0;
      return kind === 1
        ? (parts.find((p) => p.field === 3)?.bytes?.toString('utf8') ?? '')
        : (parts.find((p) => p.field === 2)?.varint ?? 0);
    }
  }
}

function decodeMessage(schema: Schema, buf: Buffer): JsonObject {
  const out: JsonObject = {};
  for (const w of readWire(buf)) {
    const f = schema.fields[w.field];
    if (!f) {
      if (isZero(w)) continue;
      throw errors.unsupportedMediaType(
        `application/vnd.kubernetes.protobuf (kube-sim cannot decode field ${w.field} of ${schema.name}; send JSON, e.g. kubectl create -f)`,
        ['application/json', 'application/yaml'],
      );
    }
    if (f.map) {
      const entry = readWire(w.bytes ?? Buffer.alloc(0));
      const key = entry.find((e) => e.field === 1)?.bytes?.toString('utf8') ?? '';
      const value = entry.find((e) => e.field === 2) ?? { field: 2, bytes: Buffer.alloc(0) };
      const m = (out[f.name] as JsonObject | undefined) ?? {};
      m[key] = scalar(f.map === 'bytes' ? 'bytes' : f.map === 'quantity' ? 'quantity' : 'string', value);
      out[f.name] = m;
      continue;
    }
    let value: unknown;
    if (typeof f.type === 'object') {
      value = decodeMessage(f.type, w.bytes ?? Buffer.alloc(0));
      if (!f.repeated && Object.keys(value as JsonObject).length === 0) continue;
    } else {
      if (isZero(w) && !f.keepZero && !f.repeated) continue;
      value = scalar(f.type, w);
      if (value === undefined) continue;
    }
    if (f.repeated) out[f.name] = [...((out[f.name] as unknown[] | undefined) ?? []), value];
    else out[f.name] = value;
  }
  return out;
}

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** Decodes a protobuf request body into the JSON object it stands for. */
export function decodeProtobuf(body: Buffer): JsonObject {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC))
    throw errors.badRequest('protobuf body without the k8s envelope');
  const unknown = readWire(body.subarray(4));
  const typeMeta = readWire(unknown.find((w) => w.field === 1)?.bytes ?? Buffer.alloc(0));
  const apiVersion = typeMeta.find((w) => w.field === 1)?.bytes?.toString('utf8') ?? '';
  const kind = typeMeta.find((w) => w.field === 2)?.bytes?.toString('utf8') ?? '';
  const schema = ROOTS[`${apiVersion}/${kind}`];
  if (!schema)
    throw errors.unsupportedMediaType(
      `application/vnd.kubernetes.protobuf (kube-sim decodes protobuf only for ${Object.keys(ROOTS).join(', ')}; got ${apiVersion}/${kind})`,
      ['application/json', 'application/yaml'],
    );
  const raw = unknown.find((w) => w.field === 2)?.bytes ?? Buffer.alloc(0);
  return { apiVersion, kind, ...decodeMessage(schema, raw) };
}

/**
 * /openapi/v2, which kubectl 1.27 and 1.28 fetch (as gnostic protobuf) before
 * `apply --server-side`: a minimal Swagger 2.0 document whose PATCH operations name their
 * GVK and take the fieldValidation query parameter, so kubectl leaves validation to the
 * server. Encoded by hand against gnostic's openapiv2/OpenAPIv2.proto field numbers.
 */
import type { ResourceRegistry, ResourceType } from './resources.js';

export const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';

function varint(n: number): Buffer {
  const bytes: number[] = [];
  let v = n >>> 0;
  while (v >= 0x80) {
    bytes.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

/** A length-delimited field (wire type 2): strings and embedded messages. */
function field(num: number, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  return Buffer.concat([varint((num << 3) | 2), varint(body.length), body]);
}

const msg = (...fields: Buffer[]) => Buffer.concat(fields);

function pathOf(rt: ResourceType): string {
  const prefix = rt.group ? `/apis/${rt.group}/${rt.version}` : `/api/${rt.version}`;
  return `${prefix}${rt.namespaced ? '/namespaces/{namespace}' : ''}/${rt.resource}/{name}`;
}

function gvkYaml(rt: ResourceType): string {
  return `group: ${JSON.stringify(rt.group)}\nkind: ${rt.kind}\nversion: ${rt.version}\n`;
}

// Message field numbers (gnostic openapi.v2).
const Document = { swagger: 1, info: 2, paths: 8 };
const Info = { title: 1, version: 2 };
const Paths = { path: 2 };
const NamedPathItem = { name: 1, value: 2 };
const PathItem = { patch: 8 };
const Operation = { operationId: 5, parameters: 8, vendorExtension: 13 };
const ParametersItem = { parameter: 1 };
const Parameter = { nonBody: 2 };
const NonBodyParameter = { query: 3 };
const QueryParameter = { in: 2, name: 4, type: 6 };
const NamedAny = { name: 1, value: 2 };
const AnyMsg = { yaml: 2 };

function queryParameter(name: string): Buffer {
  const query = msg(
    field(QueryParameter.in, 'query'),
    field(QueryParameter.name, name),
    field(QueryParameter.type, 'string'),
  );
  return field(
    Operation.parameters,
    field(ParametersItem.parameter, field(Parameter.nonBody, field(NonBodyParameter.query, query))),
  );
}

function patchOperation(rt: ResourceType): Buffer {
  return msg(
    field(Operation.operationId, `patch${rt.kind}`),
    ...['dryRun', 'fieldManager', 'fieldValidation', 'force'].map(queryParameter),
    field(
      Operation.vendorExtension,
      msg(
        field(NamedAny.name, 'x-kubernetes-group-version-kind'),
        field(NamedAny.value, field(AnyMsg.yaml, gvkYaml(rt))),
      ),
    ),
  );
}

export function openApiV2Protobuf(reg: ResourceRegistry, k8sVersion: string): Buffer {
  const paths = reg.all.map((rt) =>
    field(
      Paths.path,
      msg(
        field(NamedPathItem.name, pathOf(rt)),
        field(NamedPathItem.value, field(PathItem.patch, patchOperation(rt))),
      ),
    ),
  );
  return msg(
    field(Document.swagger, '2.0'),
    field(
      Document.info,
      msg(field(Info.title, 'Kubernetes'), field(Info.version, `v${k8sVersion.replace(/^v/, '')}`)),
    ),
    field(Document.paths, msg(...paths)),
  );
}

/** The same document as JSON, for clients that ask for it. */
export function openApiV2Json(reg: ResourceRegistry, k8sVersion: string) {
  const paths: Record<string, unknown> = {};
  for (const rt of reg.all) {
    paths[pathOf(rt)] = {
      patch: {
        operationId: `patch${rt.kind}`,
        parameters: ['dryRun', 'fieldManager', 'fieldValidation', 'force'].map((name) => ({
          name,
          in: 'query',
          type: 'string',
        })),
        'x-kubernetes-group-version-kind': { group: rt.group, kind: rt.kind, version: rt.version },
      },
    };
  }
  return {
    swagger: '2.0',
    info: { title: 'Kubernetes', version: `v${k8sVersion.replace(/^v/, '')}` },
    paths,
  };
}

import { Certificate } from '@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate';
import { ClusterIssuer } from '@kubernetes-models/cert-manager/cert-manager.io/v1/ClusterIssuer';
import { Gateway } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/Gateway';
import { HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import { ReferenceGrant } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1beta1/ReferenceGrant';
import { BackendConfig } from '@kubernetes-models/gke/cloud.google.com/v1/BackendConfig';
import { HealthCheckPolicy } from '@kubernetes-models/gke/networking.gke.io/v1/HealthCheckPolicy';
import { ManagedCertificate } from '@kubernetes-models/gke/networking.gke.io/v1/ManagedCertificate';
import { FrontendConfig } from '@kubernetes-models/gke/networking.gke.io/v1beta1/FrontendConfig';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { CronJob } from 'kubernetes-models/batch/v1/CronJob';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { SitepipeError } from '../errors.js';
import type { KubeObject } from './manifests-common.js';

interface ValidatingModel {
  validate(): void;
}
type ModelClass = new (data: never) => ValidatingModel;

/**
 * The schema for each kind sitepipe emits: the Kubernetes OpenAPI schemas (kubernetes-models)
 * and the CRD schemas of cert-manager, Gateway API and GKE. A kind not listed is an error.
 */
const MODELS: Record<string, { model: ModelClass; namespaced: boolean }> = {
  'v1/Namespace': { model: Namespace, namespaced: false },
  'v1/Service': { model: Service, namespaced: true },
  'apps/v1/Deployment': { model: Deployment, namespaced: true },
  'policy/v1/PodDisruptionBudget': { model: PodDisruptionBudget, namespaced: true },
  'networking.k8s.io/v1/Ingress': { model: Ingress, namespaced: true },
  'cert-manager.io/v1/ClusterIssuer': { model: ClusterIssuer, namespaced: false },
  'cert-manager.io/v1/Certificate': { model: Certificate, namespaced: true },
  'networking.gke.io/v1/ManagedCertificate': { model: ManagedCertificate, namespaced: true },
  'networking.gke.io/v1/HealthCheckPolicy': { model: HealthCheckPolicy, namespaced: true },
  'networking.gke.io/v1beta1/FrontendConfig': { model: FrontendConfig, namespaced: true },
  'cloud.google.com/v1/BackendConfig': { model: BackendConfig, namespaced: true },
  'gateway.networking.k8s.io/v1/Gateway': { model: Gateway, namespaced: true },
  'gateway.networking.k8s.io/v1/HTTPRoute': { model: HTTPRoute, namespaced: true },
  'gateway.networking.k8s.io/v1beta1/ReferenceGrant': { model: ReferenceGrant, namespaced: true },
  // The verify CronJob (verify.cronJob) and what it reads the cluster with.
  'batch/v1/CronJob': { model: CronJob, namespaced: true },
  'v1/ServiceAccount': { model: ServiceAccount, namespaced: true },
  'rbac.authorization.k8s.io/v1/Role': { model: Role, namespaced: true },
  'rbac.authorization.k8s.io/v1/RoleBinding': { model: RoleBinding, namespaced: true },
};

/** The kinds validateManifests knows, as apiVersion/kind. */
export const VALIDATED_KINDS: readonly string[] = Object.keys(MODELS);

/** Annotations that make cert-manager's ingress-shim (or gateway-shim) create a Certificate of its own. */
export const SHIM_ANNOTATIONS = [
  'cert-manager.io/issuer',
  'cert-manager.io/cluster-issuer',
  'cert-manager.io/issuer-kind',
  'cert-manager.io/issuer-group',
  'kubernetes.io/tls-acme',
  'acme.cert-manager.io/http01-edit-in-place',
];

const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_1035_LABEL = /^(?=.{1,63}$)[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(?=.{0,63}$)(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

interface AjvLikeError {
  instancePath?: string;
  message?: string;
  keyword?: string;
  params?: Record<string, unknown>;
}

function describeSchemaError(e: AjvLikeError): string {
  const path = e.instancePath ? e.instancePath.replace(/^\//, '').replace(/\//g, '.') : '(top level)';
  const params = e.params ?? {};
  if (e.keyword === 'required') return `${path}: missing required field ${String(params.missingProperty)}`;
  if (e.keyword === 'enum' && Array.isArray(params.allowedValues)) {
    return `${path}: must be one of ${params.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return `${path}: ${e.message ?? 'is invalid'}`;
}

function schemaProblems(object: KubeObject, model: ModelClass): string[] {
  try {
    new model(object as never).validate();
    return [];
  } catch (e) {
    const errors = (e as { errors?: AjvLikeError[] }).errors;
    if (!Array.isArray(errors) || errors.length === 0) return [(e as Error).message];
    // oneOf/anyOf wrappers repeat what the branch errors already say.
    const specific = errors.filter((x) => x.keyword !== 'oneOf' && x.keyword !== 'anyOf');
    return [...new Set((specific.length ? specific : errors).map(describeSchemaError))];
  }
}

const idOf = (o: KubeObject) => `${o.kind}/${o.metadata?.name ?? '(unnamed)'}`;

function asRecord(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** What the API server checks beyond the schema: names, labels, scope. */
function metadataProblems(object: KubeObject, namespaced: boolean): string[] {
  const problems: string[] = [];
  const meta = asRecord(object.metadata);
  const name = meta.name;
  if (typeof name !== 'string' || !DNS_SUBDOMAIN.test(name)) {
    problems.push('metadata.name: must be a lowercase DNS name (letters, digits, -, .)');
  } else if (object.kind === 'Service' && !DNS_1035_LABEL.test(name)) {
    problems.push('metadata.name: a Service name must be a DNS label starting with a letter');
  } else if (object.kind === 'Namespace' && !DNS_LABEL.test(name)) {
    problems.push('metadata.name: a Namespace name must be a DNS label');
  }
  if (namespaced && (typeof meta.namespace !== 'string' || !DNS_LABEL.test(meta.namespace))) {
    problems.push('metadata.namespace: a namespaced object needs its namespace, a DNS label');
  }
  // A CronJob's Jobs are named <cronjob>-<11 characters>, so its own name has 52 at most.
  if (object.kind === 'CronJob' && typeof name === 'string' && name.length > 52) {
    problems.push('metadata.name: a CronJob name must be at most 52 characters');
  }
  if (!namespaced && meta.namespace !== undefined) {
    problems.push('metadata.namespace: must be absent on a cluster-scoped object');
  }
  for (const [key, value] of Object.entries(asRecord(meta.labels))) {
    if (typeof value !== 'string' || !LABEL_VALUE.test(value)) {
      problems.push(`metadata.labels.${key}: not a valid label value`);
    }
  }
  return problems;
}

function includesLabels(labels: Record<string, unknown>, selector: Record<string, unknown>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/**
 * Rules of the arrangement itself, over the whole set: one Certificate per Secret, no
 * ingress-shim annotations, every frontend on the same certificate source, references that
 * resolve. These are what make "a renewal reaches every frontend" hold by construction.
 */
function setProblems(objects: readonly KubeObject[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const o of objects) {
    const key = `${o.apiVersion}/${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`;
    if (seen.has(key)) problems.push(`${idOf(o)}: appears twice`);
    seen.add(key);
  }
  const ofKind = (kind: string) => objects.filter((o) => o.kind === kind);

  // One Certificate per Secret: two would take turns overwriting it.
  const secretOwners = new Map<string, string>();
  for (const c of ofKind('Certificate')) {
    const secret = `${c.metadata.namespace}/${String(asRecord(c.spec).secretName)}`;
    const other = secretOwners.get(secret);
    if (other) problems.push(`${idOf(c)}: writes the same Secret as Certificate/${other}`);
    secretOwners.set(secret, c.metadata.name);
  }

  // Frontends: no shim annotations, and all on one certificate source.
  const frontends = [...ofKind('Ingress'), ...ofKind('Gateway')];
  const sources = new Map<string, string[]>();
  for (const f of frontends) {
    const annotations = asRecord(f.metadata.annotations);
    for (const a of SHIM_ANNOTATIONS) {
      if (a in annotations) {
        problems.push(
          `${idOf(f)}: annotation ${a} makes cert-manager create a Certificate of its own; the explicit Certificate is the only one`,
        );
      }
    }
    const spec = asRecord(f.spec);
    let source: string[];
    if (f.kind === 'Ingress') {
      source = [
        ...asArray(spec.tls).map((t) => `secret:${String(asRecord(t).secretName)}`),
        ...String(annotations['networking.gke.io/managed-certificates'] ?? '')
          .split(',')
          .filter(Boolean)
          .map((m) => `managed:${m.trim()}`),
      ];
    } else {
      source = asArray(spec.listeners).flatMap((l) => {
        const tls = asRecord(asRecord(l).tls);
        return [
          ...asArray(tls.certificateRefs)
            // The previews' wildcard lives (and is checked) with the previews, in their namespace.
            .filter(
              (r) => asRecord(r).namespace === undefined || asRecord(r).namespace === f.metadata.namespace,
            )
            .map((r) => `secret:${String(asRecord(r).name)}`),
          ...Object.entries(asRecord(tls.options)).map(([k, v]) => `option:${k}=${String(v)}`),
        ];
      });
      for (const l of asArray(spec.listeners).map(asRecord)) {
        const tls = asRecord(l.tls);
        if (
          l.protocol === 'HTTPS' &&
          asArray(tls.certificateRefs).length === 0 &&
          Object.keys(asRecord(tls.options)).length === 0
        ) {
          problems.push(
            `${idOf(f)}: HTTPS listener ${String(l.name)} has neither certificateRefs nor tls options`,
          );
        }
      }
    }
    sources.set(idOf(f), [...new Set(source)].sort());
  }
  const distinct = new Set([...sources.values()].map((s) => s.join(' ')));
  if (distinct.size > 1) {
    problems.push(
      `frontends use different certificates (${[...sources].map(([id, s]) => `${id}: ${s.join(' ') || 'none'}`).join('; ')}); every frontend must name the same one`,
    );
  }
  for (const [id, s] of sources) {
    for (const ref of s.filter((x) => x.startsWith('secret:'))) {
      const ns = frontends.find((f) => idOf(f) === id)?.metadata.namespace;
      if (!secretOwners.has(`${ns}/${ref.slice('secret:'.length)}`)) {
        problems.push(`${id}: TLS Secret ${ref.slice(7)} is written by no Certificate in the set`);
      }
    }
  }

  // Selectors and backends resolve within the set.
  const services = ofKind('Service');
  const podLabels = ofKind('Deployment').map((d) =>
    asRecord(asRecord(asRecord(asRecord(d.spec).template).metadata).labels),
  );
  for (const d of ofKind('Deployment')) {
    const spec = asRecord(d.spec);
    const selector = asRecord(asRecord(spec.selector).matchLabels);
    const labels = asRecord(asRecord(asRecord(spec.template).metadata).labels);
    if (Object.keys(selector).length === 0 || !includesLabels(labels, selector)) {
      problems.push(`${idOf(d)}: spec.selector.matchLabels must match spec.template.metadata.labels`);
    }
  }
  for (const s of services) {
    const selector = asRecord(asRecord(s.spec).selector);
    if (podLabels.length && !podLabels.some((labels) => includesLabels(labels, selector))) {
      problems.push(`${idOf(s)}: spec.selector matches no Deployment's pods`);
    }
  }
  const serviceNamed = (name: unknown) => services.find((s) => s.metadata.name === name);
  for (const ing of ofKind('Ingress')) {
    for (const rule of asArray(asRecord(ing.spec).rules)) {
      for (const p of asArray(asRecord(asRecord(rule).http).paths)) {
        const backend = asRecord(asRecord(asRecord(p).backend).service);
        const svc = serviceNamed(backend.name);
        const portName = asRecord(backend.port).name;
        const ports = asArray(asRecord(svc?.spec).ports).map(asRecord);
        if (!svc) problems.push(`${idOf(ing)}: backend Service ${String(backend.name)} is not in the set`);
        else if (portName !== undefined && !ports.some((port) => port.name === portName)) {
          problems.push(
            `${idOf(ing)}: Service ${String(backend.name)} has no port named ${String(portName)}`,
          );
        }
      }
    }
  }
  const gateways = ofKind('Gateway');
  for (const route of ofKind('HTTPRoute')) {
    const spec = asRecord(route.spec);
    for (const ref of asArray(spec.parentRefs).map(asRecord)) {
      // A preview's route attaches to production's Gateway, which another set holds.
      if (ref.namespace !== undefined && ref.namespace !== route.metadata.namespace) continue;
      const gw = gateways.find((g) => g.metadata.name === ref.name);
      if (!gw) {
        problems.push(`${idOf(route)}: parent Gateway ${String(ref.name)} is not in the set`);
        continue;
      }
      const listeners = asArray(asRecord(gw.spec).listeners).map(asRecord);
      if (ref.sectionName !== undefined && !listeners.some((l) => l.name === ref.sectionName)) {
        problems.push(
          `${idOf(route)}: Gateway ${String(ref.name)} has no listener ${String(ref.sectionName)}`,
        );
      }
    }
    for (const rule of asArray(spec.rules).map(asRecord)) {
      for (const b of asArray(rule.backendRefs).map(asRecord)) {
        const svc = serviceNamed(b.name);
        const ports = asArray(asRecord(svc?.spec).ports).map(asRecord);
        if (!svc) problems.push(`${idOf(route)}: backend Service ${String(b.name)} is not in the set`);
        else if (!ports.some((port) => port.port === b.port)) {
          problems.push(`${idOf(route)}: Service ${String(b.name)} has no port ${String(b.port)}`);
        }
      }
    }
  }
  // The API server's range checks, which the OpenAPI schemas leave out.
  const validPort = (p: unknown) => typeof p !== 'number' || (Number.isInteger(p) && p >= 1 && p <= 65535);
  for (const s of services) {
    for (const port of asArray(asRecord(s.spec).ports).map(asRecord)) {
      if (!validPort(port.port) || !validPort(port.targetPort)) {
        problems.push(`${idOf(s)}: spec.ports: ports must be 1-65535`);
      }
    }
  }
  for (const d of ofKind('Deployment')) {
    const pod = asRecord(asRecord(asRecord(d.spec).template).spec);
    for (const c of asArray(pod.containers).map(asRecord)) {
      for (const port of asArray(c.ports).map(asRecord)) {
        if (!validPort(port.containerPort)) {
          problems.push(`${idOf(d)}: container ${String(c.name)}: containerPort must be 1-65535`);
        }
      }
    }
  }
  problems.push(...cronJobProblems(objects, services));
  for (const m of ofKind('ManagedCertificate')) {
    if (asArray(asRecord(m.spec).domains).length > 100) {
      problems.push(`${idOf(m)}: a ManagedCertificate covers at most 100 domains`);
    }
  }
  return problems;
}

/**
 * The verify CronJob: its pods must not look like the site's (a Service selecting them would send
 * visitors to a verify pod), and its ServiceAccount and RoleBinding must resolve within the set.
 */
function cronJobProblems(objects: readonly KubeObject[], services: readonly KubeObject[]): string[] {
  const problems: string[] = [];
  const named = (kind: string, name: unknown, ns: unknown) =>
    objects.some((o) => o.kind === kind && o.metadata.name === name && o.metadata.namespace === ns);
  for (const c of objects.filter((o) => o.kind === 'CronJob')) {
    const template = asRecord(asRecord(asRecord(asRecord(c.spec).jobTemplate).spec).template);
    const labels = asRecord(asRecord(template.metadata).labels);
    for (const s of services) {
      const selector = asRecord(asRecord(s.spec).selector);
      if (Object.keys(selector).length && includesLabels(labels, selector)) {
        problems.push(
          `${idOf(c)}: its pods match the selector of ${idOf(s)}, which would send visitors to them`,
        );
      }
    }
    const account = asRecord(template.spec).serviceAccountName;
    if (account !== undefined && !named('ServiceAccount', account, c.metadata.namespace)) {
      problems.push(`${idOf(c)}: ServiceAccount ${String(account)} is not in the set`);
    }
  }
  for (const b of objects.filter((o) => o.kind === 'RoleBinding')) {
    const ref = asRecord(b.roleRef);
    if (ref.kind === 'Role' && !named('Role', ref.name, b.metadata.namespace)) {
      problems.push(`${idOf(b)}: Role ${String(ref.name)} is not in the set`);
    }
    for (const s of asArray(b.subjects).map(asRecord)) {
      if (
        s.kind === 'ServiceAccount' &&
        !named('ServiceAccount', s.name, s.namespace ?? b.metadata.namespace)
      ) {
        problems.push(`${idOf(b)}: ServiceAccount ${String(s.name)} is not in the set`);
      }
    }
  }
  return problems;
}

/**
 * Checks every object against its schema, then the set against sitepipe's arrangement rules.
 * Throws MANIFEST_INVALID listing every problem; returns nothing when all is well.
 */
export function validateManifests(objects: readonly KubeObject[]): void {
  const problems: string[] = [];
  for (const object of objects) {
    const key = `${object?.apiVersion}/${object?.kind}`;
    const entry = MODELS[key];
    if (!entry) {
      problems.push(
        `${idOf(object)}: no schema for ${key}; sitepipe validates ${VALIDATED_KINDS.join(', ')}`,
      );
      continue;
    }
    for (const p of [...schemaProblems(object, entry.model), ...metadataProblems(object, entry.namespaced)]) {
      problems.push(`${idOf(object)}: ${p}`);
    }
  }
  problems.push(...setProblems(objects));
  if (problems.length > 0) {
    throw new SitepipeError(
      'MANIFEST_INVALID',
      `${problems.length} problem${problems.length === 1 ? '' : 's'} in the Kubernetes manifests`,
      'a problem in sitepipe-built manifests comes from the deploy section of the config or is a bug in sitepipe; please report the latter with this output',
      problems,
    );
  }
}

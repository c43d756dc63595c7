import type { Config } from '../config.js';
import { SitepipeError } from '../errors.js';
import type { DeployConfig } from './config.js';

/**
 * One Kubernetes object as plain JSON: what `kubectl apply` and server-side apply take.
 * Builders type each object with its model's interface first, so a misspelt field fails to compile.
 */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

/** Anything shaped like a model interface (IDeployment, ICertificate, …) with a name. */
export interface Typed {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string };
}

/** A typed object as the plain KubeObject the rest of the code passes around. */
export function plain<T extends Typed>(object: T & { metadata: { name: string } }): KubeObject {
  return object as unknown as KubeObject;
}

export const MINIMAL_DEPLOY_BLOCK = [
  'deploy:',
  '  hosts: [www.example.com, example.com]',
  '  # optional: namespace, name, replicas, tls: { provider, acme, email }, frontends: { mode }',
].join('\n');

/** The deploy section, or DEPLOY_CONFIG_MISSING with a minimal block to copy. */
export function requireDeploy(config: Config): DeployConfig {
  if (config.deploy) return config.deploy;
  throw new SitepipeError(
    'DEPLOY_CONFIG_MISSING',
    'the config has no deploy section, so there is nothing to deploy to Kubernetes',
    `add a deploy section to sitepipe.yaml, at least:\n${MINIMAL_DEPLOY_BLOCK}\n(docs/kubernetes.md describes every key)`,
  );
}

export type AcmeEnvironment = 'staging' | 'production';
export type IpFamily = 'ipv4' | 'ipv6';

export const ACME_SERVERS: Record<AcmeEnvironment, string> = {
  staging: 'https://acme-staging-v02.api.letsencrypt.org/directory',
  production: 'https://acme-v02.api.letsencrypt.org/directory',
};

/** GKE annotations the frontends and the Service use. */
export const GKE = {
  ingressClass: 'kubernetes.io/ingress.class',
  staticIp: 'kubernetes.io/ingress.global-static-ip-name',
  managedCertificates: 'networking.gke.io/managed-certificates',
  frontendConfig: 'networking.gke.io/v1beta1.FrontendConfig',
  backendConfig: 'cloud.google.com/backend-config',
  neg: 'cloud.google.com/neg',
  preSharedCerts: 'networking.gke.io/pre-shared-certs',
} as const;

export const HEALTH_CHECK = {
  checkIntervalSec: 10,
  timeoutSec: 5,
  healthyThreshold: 1,
  unhealthyThreshold: 3,
};

export const GATEWAY_CLASS = 'gke-l7-global-external-managed';
export const SERVICE_PORT = 80;
export const PORT_NAME = 'http';

/** Every name the manifests use, derived from the deploy section in one place. */
export function namesFor(deploy: DeployConfig) {
  const { name, namespace } = deploy;
  return {
    namespace,
    app: name,
    /** Immutable on a Deployment: never add to it. */
    selector: { 'app.kubernetes.io/name': name },
    labels: { 'app.kubernetes.io/name': name, 'app.kubernetes.io/managed-by': 'sitepipe' },
    /** The one Secret every frontend reads the certificate from (cert-manager). */
    tlsSecret: `${name}-tls`,
    certificate: name,
    /** ClusterIssuers are cluster-wide and carry this site's solver, so the name says whose they are. */
    issuer: (env: AcmeEnvironment) => `${namespace}-${name}-letsencrypt-${env}`,
    ingress: (family: IpFamily) => `${name}-${family}`,
    gateway: name,
    route: name,
    redirectRoute: `${name}-http-redirect`,
  };
}

export type Names = ReturnType<typeof namesFor>;

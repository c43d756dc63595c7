import type { ICronJob } from 'kubernetes-models/batch/v1/CronJob';
import type { IPolicyRule } from 'kubernetes-models/rbac.authorization.k8s.io/v1/PolicyRule';
import type { IRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import type { IRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { Config } from '../config.js';
import { inClusterConfig } from '../verify/in-cluster-config.js';
import type { DeployConfig } from './config.js';
import { type KubeObject, type Names, plain } from './manifests-common.js';

/** The environment variable the CronJob hands the config to `sitepipe verify --config-env` in. */
export const VERIFY_CONFIG_ENV = 'SITEPIPE_CONFIG';
/** Any unprivileged uid works: the image's files are world-readable and verify writes nothing. */
const VERIFY_UID = 65532;

/** The names the verify objects use: <name>-verify (a CronJob name leaves room for Job suffixes). */
export function verifyName(n: Names): string {
  return `${n.app}-verify`;
}

/** What `sitepipe verify` reads in the cluster: the live Deployment's commit, and the frontends' status. */
function rules(n: Names, config: Config, deploy: DeployConfig): IPolicyRule[] {
  const found: IPolicyRule[] = [];
  if (config.image.releaseHeader) {
    found.push({ apiGroups: ['apps'], resources: ['deployments'], resourceNames: [n.app], verbs: ['get'] });
  }
  if (config.verify.addressSource === 'frontends' && !config.verify.addresses) {
    found.push(
      deploy.frontends.mode === 'gateway'
        ? {
            apiGroups: ['gateway.networking.k8s.io'],
            resources: ['gateways'],
            resourceNames: [n.gateway],
            verbs: ['get'],
          }
        : {
            apiGroups: ['networking.k8s.io'],
            resources: ['ingresses'],
            resourceNames: [n.ingress('ipv4'), n.ingress('ipv6')],
            verbs: ['get'],
          },
    );
  }
  return found;
}

/**
 * The hourly check on its own (certificates change without a deploy): a CronJob running
 * `sitepipe verify` with the live release, whose Job fails on any failed check, so ordinary
 * Job-failure alerts catch it. Its pods carry labels of their own: the Deployment's would put
 * them behind the Service and into the PodDisruptionBudget.
 */
export function verifyCronJob(n: Names, config: Config, deploy: DeployConfig): KubeObject[] {
  const cron = config.verify.cronJob;
  const name = verifyName(n);
  const labels = {
    'app.kubernetes.io/name': name,
    'app.kubernetes.io/part-of': n.app,
    'app.kubernetes.io/component': 'verify',
    'app.kubernetes.io/managed-by': 'sitepipe',
  };
  const meta = { name, namespace: n.namespace, labels };
  const granted = rules(n, config, deploy);
  const rbac: KubeObject[] = granted.length
    ? [
        plain<IServiceAccount>({
          apiVersion: 'v1',
          kind: 'ServiceAccount',
          metadata: meta,
          automountServiceAccountToken: false,
        }),
        plain<IRole>({
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: meta,
          rules: granted,
        }),
        plain<IRoleBinding>({
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: meta,
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
          subjects: [{ kind: 'ServiceAccount', name, namespace: n.namespace }],
        }),
      ]
    : [];
  const release = config.image.releaseHeader ? 'live' : 'off';
  const cronJob = plain<ICronJob>({
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: meta,
    spec: {
      schedule: cron.schedule,
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 600,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
      jobTemplate: {
        metadata: { labels },
        spec: {
          // A failed check is a failed Job, not a retry: the alert is the point.
          backoffLimit: 0,
          activeDeadlineSeconds: cron.waitSeconds + 300,
          template: {
            metadata: { labels },
            spec: {
              restartPolicy: 'Never',
              enableServiceLinks: false,
              // The token only where there is something to read with it (granted rules).
              automountServiceAccountToken: granted.length > 0,
              ...(granted.length ? { serviceAccountName: name } : {}),
              securityContext: {
                runAsNonRoot: true,
                runAsUser: VERIFY_UID,
                runAsGroup: VERIFY_UID,
                seccompProfile: { type: 'RuntimeDefault' },
              },
              containers: [
                {
                  name: 'verify',
                  image: cron.image ?? '',
                  args: [
                    'verify',
                    '--config-env',
                    VERIFY_CONFIG_ENV,
                    '--release',
                    release,
                    '--wait',
                    `${cron.waitSeconds}s`,
                  ],
                  env: [
                    { name: VERIFY_CONFIG_ENV, value: inClusterConfig(config) },
                    { name: 'CI', value: 'true' },
                  ],
                  resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '256Mi' } },
                  securityContext: {
                    allowPrivilegeEscalation: false,
                    privileged: false,
                    readOnlyRootFilesystem: true,
                    capabilities: { drop: ['ALL'] },
                  },
                },
              ],
            },
          },
        },
      },
    },
  });
  return [...rbac, cronJob];
}

import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import type { IPodSecurityContext } from 'kubernetes-models/v1/PodSecurityContext';
import type { ISecurityContext } from 'kubernetes-models/v1/SecurityContext';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import type { IVolumeMount } from 'kubernetes-models/v1/VolumeMount';
import type { Config } from '../config.js';
import { HEALTH_PATH } from '../nginx.js';
import type { DeployConfig } from './config.js';
import { type KubeObject, type Names, PORT_NAME, plain, SERVICE_PORT } from './manifests-common.js';

/** Seconds a terminating pod keeps serving while the load balancer takes it out of rotation. */
export const DRAIN_SECONDS = 10;

export function namespace(n: Names, deploy: DeployConfig): KubeObject {
  // The site's pods meet the restricted profile when non-root; the namespace enforces baseline
  // only, because cert-manager's HTTP-01 solver pods also run here.
  const profile = deploy.security.runAsNonRoot ? 'restricted' : 'baseline';
  return plain<INamespace>({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: n.namespace,
      labels: {
        'app.kubernetes.io/managed-by': 'sitepipe',
        'pod-security.kubernetes.io/enforce': 'baseline',
        'pod-security.kubernetes.io/warn': profile,
        'pod-security.kubernetes.io/audit': profile,
      },
    },
  });
}

/** A volume name from a path: /var/cache/nginx -> var-cache-nginx (suffixed if two collide). */
export function writableVolumes(paths: readonly string[]): { name: string; path: string }[] {
  const seen = new Set<string>();
  return paths.map((path, i) => {
    let name = path
      .replace(/^\/+/, '')
      .replace(/[^a-z0-9]+/gi, '-')
      .toLowerCase()
      .slice(0, 50);
    name = name.replace(/^-+|-+$/g, '') || 'root';
    if (seen.has(name)) name = `${name}-${i}`;
    seen.add(name);
    return { name: `w-${name}`, path };
  });
}

function securityContexts(
  deploy: DeployConfig,
  port: number,
): { pod: IPodSecurityContext; container: ISecurityContext } {
  const s = deploy.security;
  const seccompProfile = { type: 'RuntimeDefault' } as const;
  if (s.runAsNonRoot) {
    return {
      pod: {
        runAsNonRoot: true,
        runAsUser: s.runAsUser,
        runAsGroup: s.runAsGroup,
        seccompProfile,
        // A non-root process cannot bind below 1024 without this namespaced (safe) sysctl.
        ...(port < 1024
          ? { sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: String(port) }] }
          : {}),
      },
      container: {
        allowPrivilegeEscalation: false,
        privileged: false,
        readOnlyRootFilesystem: s.readOnlyRootFilesystem,
        capabilities: { drop: ['ALL'] },
      },
    };
  }
  // Root master: it needs to chown its temp dirs and switch its workers to the `user` of
  // nginx.conf; nothing else.
  const add = ['CHOWN', 'SETGID', 'SETUID', ...(port < 1024 ? ['NET_BIND_SERVICE'] : [])];
  return {
    pod: { seccompProfile },
    container: {
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: s.readOnlyRootFilesystem,
      capabilities: { drop: ['ALL'], add },
    },
  };
}

export function deployment(n: Names, config: Config, deploy: DeployConfig, image: string): KubeObject {
  const port = config.image.port;
  const volumes = writableVolumes(deploy.security.writablePaths);
  const { pod, container: containerSecurity } = securityContexts(deploy, port);
  const probe = { httpGet: { path: HEALTH_PATH, port: PORT_NAME } };
  const { cpu, memory, cpuLimit, memoryLimit } = deploy.resources;
  const container: IContainer = {
    name: 'nginx',
    image,
    imagePullPolicy: 'IfNotPresent',
    ports: [{ name: PORT_NAME, containerPort: port, protocol: 'TCP' }],
    readinessProbe: { ...probe, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 3 },
    livenessProbe: { ...probe, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
    // Keep serving while the endpoint is removed from the load balancer, then let nginx
    // finish in-flight requests (the image's STOPSIGNAL is SIGQUIT, a graceful stop).
    lifecycle: { preStop: { exec: { command: ['sleep', String(DRAIN_SECONDS)] } } },
    resources: {
      requests: { cpu, memory },
      limits: { memory: memoryLimit, ...(cpuLimit ? { cpu: cpuLimit } : {}) },
    },
    securityContext: containerSecurity,
    volumeMounts: volumes.map((v): IVolumeMount => ({ name: v.name, mountPath: v.path })),
  };
  return plain<IDeployment>({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: n.app, namespace: n.namespace, labels: n.labels },
    spec: {
      replicas: deploy.replicas,
      revisionHistoryLimit: deploy.revisionHistoryLimit,
      progressDeadlineSeconds: deploy.progressDeadlineSeconds,
      selector: { matchLabels: n.selector },
      // Never below the wanted number of ready pods; one new pod at a time.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels: n.labels },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: DRAIN_SECONDS + 20,
          securityContext: pod,
          containers: [container],
          volumes: volumes.map((v): IVolume => ({ name: v.name, emptyDir: {} })),
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: 'kubernetes.io/hostname',
              whenUnsatisfiable: 'ScheduleAnyway',
              labelSelector: { matchLabels: n.selector },
            },
          ],
        },
      },
    },
  });
}

/** Voluntary disruptions (node upgrades, drains) take down one pod at a time. */
export function podDisruptionBudget(n: Names): KubeObject {
  return plain<IPodDisruptionBudget>({
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: n.app, namespace: n.namespace, labels: n.labels },
    spec: { maxUnavailable: 1, selector: { matchLabels: n.selector } },
  });
}

export function service(n: Names, annotations: Record<string, string>): KubeObject {
  return plain<IService>({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: n.app,
      namespace: n.namespace,
      labels: n.labels,
      ...(Object.keys(annotations).length ? { annotations } : {}),
    },
    spec: {
      type: 'ClusterIP',
      selector: n.selector,
      ports: [{ name: PORT_NAME, port: SERVICE_PORT, targetPort: PORT_NAME, protocol: 'TCP' }],
    },
  });
}

/**
 * OpenAPI v3 component schemas of the built-in kinds kube-sim serves, named as the real
 * server names them (io.k8s.api.apps.v1.Deployment …), with the properties and the list
 * markers (x-kubernetes-patch-merge-key / -patch-strategy / -list-type / -list-map-keys,
 * x-kubernetes-map-type) that clients read from them. Client-side `kubectl apply` walks these
 * to build its strategic merge patch: every object-valued field it meets must be described,
 * or it warns `unable to find api field "…"` and falls back. Written from the API types'
 * field lists; descriptions, formats of no interest to clients and rarely used fields are left out.
 */

type Schema = Record<string, unknown>;

const PREFIX = '#/components/schemas/';
const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';
const CORE = 'io.k8s.api.core.v1';

const str: Schema = { type: 'string' };
const int: Schema = { type: 'integer', format: 'int32' };
const int64: Schema = { type: 'integer', format: 'int64' };
const bool: Schema = { type: 'boolean' };
const intOrString: Schema = { 'x-kubernetes-int-or-string': true };
const quantity: Schema = { $ref: `${PREFIX}io.k8s.apimachinery.pkg.api.resource.Quantity` };
const time: Schema = { $ref: `${PREFIX}${META}.Time` };
const strMap: Schema = { type: 'object', additionalProperties: str };
const quantityMap: Schema = { type: 'object', additionalProperties: quantity };
const ref = (name: string): Schema => ({ allOf: [{ $ref: `${PREFIX}${name}` }] });
const obj = (properties: Record<string, Schema>, extra: Schema = {}): Schema => ({
  type: 'object',
  properties,
  ...extra,
});
const atomicList = (items: Schema): Schema => ({ type: 'array', items, 'x-kubernetes-list-type': 'atomic' });
/** A list merged by key: patchMergeKey `keys[0]`, list-map-keys `keys`. */
const mapList = (items: Schema, keys: string[], strategy = 'merge'): Schema => ({
  type: 'array',
  items,
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': keys,
  'x-kubernetes-patch-merge-key': keys[0],
  'x-kubernetes-patch-strategy': strategy,
});
const setList = (items: Schema): Schema => ({
  type: 'array',
  items,
  'x-kubernetes-list-type': 'set',
  'x-kubernetes-patch-strategy': 'merge',
});

const gvkOf = (group: string, version: string, kind: string) => ({
  'x-kubernetes-group-version-kind': [{ group, version, kind }],
});

/** A top-level kind: apiVersion, kind, metadata and the given fields. */
function kind(group: string, version: string, k: string, fields: Record<string, Schema>): Schema {
  return obj(
    { apiVersion: str, kind: str, metadata: ref(`${META}.ObjectMeta`), ...fields },
    gvkOf(group, version, k),
  );
}

const condition = obj({
  type: str,
  status: str,
  observedGeneration: int64,
  lastHeartbeatTime: time,
  lastProbeTime: time,
  lastTransitionTime: time,
  lastUpdateTime: time,
  reason: str,
  message: str,
});
const conditions = mapList(condition, ['type']);

const SHARED: Record<string, Schema> = {
  'io.k8s.apimachinery.pkg.api.resource.Quantity': { type: 'string' },
  [`${META}.Time`]: { type: 'string', format: 'date-time' },
  [`${META}.MicroTime`]: { type: 'string', format: 'date-time' },
  [`${META}.ObjectMeta`]: obj({
    name: str,
    generateName: str,
    namespace: str,
    uid: str,
    resourceVersion: str,
    generation: int64,
    creationTimestamp: time,
    deletionTimestamp: time,
    deletionGracePeriodSeconds: int64,
    labels: strMap,
    annotations: strMap,
    ownerReferences: mapList(ref(`${META}.OwnerReference`), ['uid']),
    finalizers: setList(str),
    managedFields: atomicList(ref(`${META}.ManagedFieldsEntry`)),
    selfLink: str,
  }),
  [`${META}.OwnerReference`]: obj(
    { apiVersion: str, kind: str, name: str, uid: str, controller: bool, blockOwnerDeletion: bool },
    { 'x-kubernetes-map-type': 'atomic' },
  ),
  [`${META}.ManagedFieldsEntry`]: obj({
    manager: str,
    operation: str,
    apiVersion: str,
    time: time,
    fieldsType: str,
    fieldsV1: { type: 'object' },
    subresource: str,
  }),
  [`${META}.LabelSelector`]: obj(
    {
      matchLabels: strMap,
      matchExpressions: atomicList(
        obj({ key: str, operator: str, values: atomicList(str) }, { 'x-kubernetes-map-type': 'atomic' }),
      ),
    },
    { 'x-kubernetes-map-type': 'atomic' },
  ),
  [`${META}.Condition`]: condition,
  // core/v1 pieces
  [`${CORE}.ObjectReference`]: obj(
    { apiVersion: str, kind: str, name: str, namespace: str, uid: str, resourceVersion: str, fieldPath: str },
    { 'x-kubernetes-map-type': 'atomic' },
  ),
  [`${CORE}.LocalObjectReference`]: obj({ name: str }, { 'x-kubernetes-map-type': 'atomic' }),
  [`${CORE}.KeyToPath`]: obj({ key: str, path: str, mode: int }),
  [`${CORE}.EnvVar`]: obj({
    name: str,
    value: str,
    valueFrom: obj({
      configMapKeyRef: obj({ name: str, key: str, optional: bool }, { 'x-kubernetes-map-type': 'atomic' }),
      secretKeyRef: obj({ name: str, key: str, optional: bool }, { 'x-kubernetes-map-type': 'atomic' }),
      fieldRef: obj({ apiVersion: str, fieldPath: str }, { 'x-kubernetes-map-type': 'atomic' }),
      resourceFieldRef: obj(
        { containerName: str, resource: str, divisor: quantity },
        { 'x-kubernetes-map-type': 'atomic' },
      ),
    }),
  }),
  [`${CORE}.EnvFromSource`]: obj({
    prefix: str,
    configMapRef: obj({ name: str, optional: bool }, { 'x-kubernetes-map-type': 'atomic' }),
    secretRef: obj({ name: str, optional: bool }, { 'x-kubernetes-map-type': 'atomic' }),
  }),
  [`${CORE}.ContainerPort`]: obj({
    name: str,
    containerPort: int,
    hostPort: int,
    hostIP: str,
    protocol: str,
  }),
  [`${CORE}.ResourceRequirements`]: obj({
    limits: quantityMap,
    requests: quantityMap,
    claims: mapList(obj({ name: str, request: str }), ['name']),
  }),
  [`${CORE}.VolumeMount`]: obj({
    name: str,
    mountPath: str,
    subPath: str,
    subPathExpr: str,
    readOnly: bool,
    recursiveReadOnly: str,
    mountPropagation: str,
  }),
  [`${CORE}.HTTPHeader`]: obj({ name: str, value: str }),
  [`${CORE}.HTTPGetAction`]: obj({
    path: str,
    port: intOrString,
    host: str,
    scheme: str,
    httpHeaders: atomicList(ref(`${CORE}.HTTPHeader`)),
  }),
  [`${CORE}.ExecAction`]: obj({ command: atomicList(str) }),
  [`${CORE}.TCPSocketAction`]: obj({ port: intOrString, host: str }),
  [`${CORE}.GRPCAction`]: obj({ port: int, service: str }),
  [`${CORE}.Probe`]: obj({
    exec: ref(`${CORE}.ExecAction`),
    httpGet: ref(`${CORE}.HTTPGetAction`),
    tcpSocket: ref(`${CORE}.TCPSocketAction`),
    grpc: ref(`${CORE}.GRPCAction`),
    initialDelaySeconds: int,
    timeoutSeconds: int,
    periodSeconds: int,
    successThreshold: int,
    failureThreshold: int,
    terminationGracePeriodSeconds: int64,
  }),
  [`${CORE}.LifecycleHandler`]: obj({
    exec: ref(`${CORE}.ExecAction`),
    httpGet: ref(`${CORE}.HTTPGetAction`),
    tcpSocket: ref(`${CORE}.TCPSocketAction`),
    sleep: obj({ seconds: int64 }),
  }),
  [`${CORE}.Lifecycle`]: obj({
    postStart: ref(`${CORE}.LifecycleHandler`),
    preStop: ref(`${CORE}.LifecycleHandler`),
    stopSignal: str,
  }),
  [`${CORE}.SecurityContext`]: obj({
    capabilities: obj({ add: atomicList(str), drop: atomicList(str) }),
    privileged: bool,
    seLinuxOptions: obj({ user: str, role: str, type: str, level: str }),
    windowsOptions: obj({
      gmsaCredentialSpecName: str,
      gmsaCredentialSpec: str,
      runAsUserName: str,
      hostProcess: bool,
    }),
    runAsUser: int64,
    runAsGroup: int64,
    runAsNonRoot: bool,
    readOnlyRootFilesystem: bool,
    allowPrivilegeEscalation: bool,
    procMount: str,
    seccompProfile: obj({ type: str, localhostProfile: str }),
    appArmorProfile: obj({ type: str, localhostProfile: str }),
  }),
  [`${CORE}.Container`]: obj({
    name: str,
    image: str,
    command: atomicList(str),
    args: atomicList(str),
    workingDir: str,
    ports: mapList(ref(`${CORE}.ContainerPort`), ['containerPort', 'protocol']),
    envFrom: atomicList(ref(`${CORE}.EnvFromSource`)),
    env: mapList(ref(`${CORE}.EnvVar`), ['name']),
    resources: ref(`${CORE}.ResourceRequirements`),
    resizePolicy: atomicList(obj({ resourceName: str, restartPolicy: str })),
    restartPolicy: str,
    volumeMounts: mapList(ref(`${CORE}.VolumeMount`), ['mountPath']),
    volumeDevices: mapList(obj({ name: str, devicePath: str }), ['devicePath']),
    livenessProbe: ref(`${CORE}.Probe`),
    readinessProbe: ref(`${CORE}.Probe`),
    startupProbe: ref(`${CORE}.Probe`),
    lifecycle: ref(`${CORE}.Lifecycle`),
    terminationMessagePath: str,
    terminationMessagePolicy: str,
    imagePullPolicy: str,
    securityContext: ref(`${CORE}.SecurityContext`),
    stdin: bool,
    stdinOnce: bool,
    tty: bool,
  }),
  [`${CORE}.Volume`]: obj({
    name: str,
    emptyDir: obj({ medium: str, sizeLimit: quantity }),
    configMap: obj({
      name: str,
      items: atomicList(ref(`${CORE}.KeyToPath`)),
      defaultMode: int,
      optional: bool,
    }),
    secret: obj({
      secretName: str,
      items: atomicList(ref(`${CORE}.KeyToPath`)),
      defaultMode: int,
      optional: bool,
    }),
    persistentVolumeClaim: obj({ claimName: str, readOnly: bool }),
    hostPath: obj({ path: str, type: str }),
    downwardAPI: obj({
      items: atomicList(
        obj({
          path: str,
          fieldRef: obj({ apiVersion: str, fieldPath: str }, { 'x-kubernetes-map-type': 'atomic' }),
          resourceFieldRef: obj({ containerName: str, resource: str, divisor: quantity }),
          mode: int,
        }),
      ),
      defaultMode: int,
    }),
    projected: obj({ sources: atomicList({ type: 'object' }), defaultMode: int }),
    csi: obj({
      driver: str,
      readOnly: bool,
      fsType: str,
      volumeAttributes: strMap,
      nodePublishSecretRef: ref(`${CORE}.LocalObjectReference`),
    }),
    ephemeral: obj({ volumeClaimTemplate: { type: 'object' } }),
  }),
  [`${CORE}.Toleration`]: obj({ key: str, operator: str, value: str, effect: str, tolerationSeconds: int64 }),
  [`${CORE}.TopologySpreadConstraint`]: obj({
    maxSkew: int,
    topologyKey: str,
    whenUnsatisfiable: str,
    labelSelector: ref(`${META}.LabelSelector`),
    minDomains: int,
    nodeAffinityPolicy: str,
    nodeTaintsPolicy: str,
    matchLabelKeys: atomicList(str),
  }),
  [`${CORE}.PodAffinityTerm`]: obj({
    labelSelector: ref(`${META}.LabelSelector`),
    namespaces: atomicList(str),
    topologyKey: str,
    namespaceSelector: ref(`${META}.LabelSelector`),
    matchLabelKeys: atomicList(str),
    mismatchLabelKeys: atomicList(str),
  }),
  [`${CORE}.WeightedPodAffinityTerm`]: obj({ weight: int, podAffinityTerm: ref(`${CORE}.PodAffinityTerm`) }),
  [`${CORE}.PodAffinity`]: obj({
    requiredDuringSchedulingIgnoredDuringExecution: atomicList(ref(`${CORE}.PodAffinityTerm`)),
    preferredDuringSchedulingIgnoredDuringExecution: atomicList(ref(`${CORE}.WeightedPodAffinityTerm`)),
  }),
  [`${CORE}.NodeSelectorTerm`]: obj(
    {
      matchExpressions: atomicList(obj({ key: str, operator: str, values: atomicList(str) })),
      matchFields: atomicList(obj({ key: str, operator: str, values: atomicList(str) })),
    },
    { 'x-kubernetes-map-type': 'atomic' },
  ),
  [`${CORE}.Affinity`]: obj({
    nodeAffinity: obj({
      requiredDuringSchedulingIgnoredDuringExecution: obj(
        { nodeSelectorTerms: atomicList(ref(`${CORE}.NodeSelectorTerm`)) },
        { 'x-kubernetes-map-type': 'atomic' },
      ),
      preferredDuringSchedulingIgnoredDuringExecution: atomicList(
        obj({ weight: int, preference: ref(`${CORE}.NodeSelectorTerm`) }),
      ),
    }),
    podAffinity: ref(`${CORE}.PodAffinity`),
    podAntiAffinity: ref(`${CORE}.PodAffinity`),
  }),
  [`${CORE}.PodSecurityContext`]: obj({
    seLinuxOptions: obj({ user: str, role: str, type: str, level: str }),
    windowsOptions: obj({
      gmsaCredentialSpecName: str,
      gmsaCredentialSpec: str,
      runAsUserName: str,
      hostProcess: bool,
    }),
    runAsUser: int64,
    runAsGroup: int64,
    runAsNonRoot: bool,
    supplementalGroups: atomicList(int64),
    supplementalGroupsPolicy: str,
    fsGroup: int64,
    fsGroupChangePolicy: str,
    sysctls: atomicList(obj({ name: str, value: str })),
    seccompProfile: obj({ type: str, localhostProfile: str }),
    appArmorProfile: obj({ type: str, localhostProfile: str }),
    seLinuxChangePolicy: str,
  }),
  [`${CORE}.PodSpec`]: obj({
    volumes: mapList(ref(`${CORE}.Volume`), ['name'], 'merge,retainKeys'),
    initContainers: mapList(ref(`${CORE}.Container`), ['name']),
    containers: mapList(ref(`${CORE}.Container`), ['name']),
    ephemeralContainers: mapList({ type: 'object' }, ['name']),
    restartPolicy: str,
    terminationGracePeriodSeconds: int64,
    activeDeadlineSeconds: int64,
    dnsPolicy: str,
    nodeSelector: { ...strMap, 'x-kubernetes-map-type': 'atomic' },
    serviceAccountName: str,
    serviceAccount: str,
    automountServiceAccountToken: bool,
    nodeName: str,
    hostNetwork: bool,
    hostPID: bool,
    hostIPC: bool,
    shareProcessNamespace: bool,
    securityContext: ref(`${CORE}.PodSecurityContext`),
    imagePullSecrets: mapList(ref(`${CORE}.LocalObjectReference`), ['name']),
    hostname: str,
    subdomain: str,
    affinity: ref(`${CORE}.Affinity`),
    schedulerName: str,
    tolerations: atomicList(ref(`${CORE}.Toleration`)),
    hostAliases: mapList(obj({ ip: str, hostnames: atomicList(str) }), ['ip']),
    priorityClassName: str,
    priority: int,
    dnsConfig: obj({
      nameservers: atomicList(str),
      searches: atomicList(str),
      options: atomicList(obj({ name: str, value: str })),
    }),
    readinessGates: atomicList(obj({ conditionType: str })),
    runtimeClassName: str,
    enableServiceLinks: bool,
    preemptionPolicy: str,
    overhead: quantityMap,
    topologySpreadConstraints: mapList(ref(`${CORE}.TopologySpreadConstraint`), [
      'topologyKey',
      'whenUnsatisfiable',
    ]),
    setHostnameAsFQDN: bool,
    os: obj({ name: str }),
    hostUsers: bool,
    schedulingGates: mapList(obj({ name: str }), ['name']),
    resourceClaims: mapList(obj({ name: str, resourceClaimName: str, resourceClaimTemplateName: str }), [
      'name',
    ]),
    resources: ref(`${CORE}.ResourceRequirements`),
  }),
  [`${CORE}.PodTemplateSpec`]: obj({ metadata: ref(`${META}.ObjectMeta`), spec: ref(`${CORE}.PodSpec`) }),
  [`${CORE}.PodStatus`]: obj({
    phase: str,
    conditions,
    message: str,
    reason: str,
    hostIP: str,
    hostIPs: atomicList(obj({ ip: str })),
    podIP: str,
    podIPs: mapList(obj({ ip: str }), ['ip']),
    startTime: time,
    qosClass: str,
    containerStatuses: atomicList({ type: 'object' }),
    initContainerStatuses: atomicList({ type: 'object' }),
    observedGeneration: int64,
  }),
  [`${CORE}.ServicePort`]: obj({
    name: str,
    protocol: str,
    appProtocol: str,
    port: int,
    targetPort: intOrString,
    nodePort: int,
  }),
  [`${CORE}.LoadBalancerStatus`]: obj({
    ingress: atomicList(
      obj({
        ip: str,
        hostname: str,
        ipMode: str,
        ports: atomicList(obj({ port: int, protocol: str, error: str })),
      }),
    ),
  }),
};

const POD_TEMPLATE = ref(`${CORE}.PodTemplateSpec`);
const SELECTOR = ref(`${META}.LabelSelector`);

/** The built-in kinds, by `group/version/Kind` (core: `/v1/Kind`): schema name and schema. */
const KINDS: Record<string, [string, Schema]> = {
  '/v1/Namespace': [
    `${CORE}.Namespace`,
    kind('', 'v1', 'Namespace', {
      spec: obj({ finalizers: atomicList(str) }),
      status: obj({ phase: str, conditions }),
    }),
  ],
  '/v1/Node': [
    `${CORE}.Node`,
    kind('', 'v1', 'Node', {
      spec: obj({
        podCIDR: str,
        podCIDRs: setList(str),
        providerID: str,
        unschedulable: bool,
        taints: atomicList({ type: 'object' }),
      }),
      status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    }),
  ],
  '/v1/Pod': [
    `${CORE}.Pod`,
    kind('', 'v1', 'Pod', { spec: ref(`${CORE}.PodSpec`), status: ref(`${CORE}.PodStatus`) }),
  ],
  '/v1/Service': [
    `${CORE}.Service`,
    kind('', 'v1', 'Service', {
      spec: obj({
        ports: mapList(ref(`${CORE}.ServicePort`), ['port', 'protocol']),
        selector: { ...strMap, 'x-kubernetes-map-type': 'atomic' },
        clusterIP: str,
        clusterIPs: atomicList(str),
        type: str,
        externalIPs: atomicList(str),
        sessionAffinity: str,
        loadBalancerIP: str,
        loadBalancerSourceRanges: atomicList(str),
        externalName: str,
        externalTrafficPolicy: str,
        healthCheckNodePort: int,
        publishNotReadyAddresses: bool,
        sessionAffinityConfig: obj({ clientIP: obj({ timeoutSeconds: int }) }),
        ipFamilies: atomicList(str),
        ipFamilyPolicy: str,
        allocateLoadBalancerNodePorts: bool,
        loadBalancerClass: str,
        internalTrafficPolicy: str,
        trafficDistribution: str,
      }),
      status: obj({ loadBalancer: ref(`${CORE}.LoadBalancerStatus`), conditions }),
    }),
  ],
  '/v1/Endpoints': [
    `${CORE}.Endpoints`,
    kind('', 'v1', 'Endpoints', { subsets: atomicList({ type: 'object' }) }),
  ],
  '/v1/ConfigMap': [
    `${CORE}.ConfigMap`,
    kind('', 'v1', 'ConfigMap', { data: strMap, binaryData: strMap, immutable: bool }),
  ],
  '/v1/Secret': [
    `${CORE}.Secret`,
    kind('', 'v1', 'Secret', { data: strMap, stringData: strMap, type: str, immutable: bool }),
  ],
  '/v1/ServiceAccount': [
    `${CORE}.ServiceAccount`,
    kind('', 'v1', 'ServiceAccount', {
      secrets: mapList(ref(`${CORE}.ObjectReference`), ['name']),
      imagePullSecrets: atomicList(ref(`${CORE}.LocalObjectReference`)),
      automountServiceAccountToken: bool,
    }),
  ],
  '/v1/Event': [
    `${CORE}.Event`,
    kind('', 'v1', 'Event', {
      involvedObject: ref(`${CORE}.ObjectReference`),
      reason: str,
      message: str,
      source: obj({ component: str, host: str }),
      firstTimestamp: time,
      lastTimestamp: time,
      count: int,
      type: str,
      eventTime: { $ref: `${PREFIX}${META}.MicroTime` },
      series: obj({ count: int, lastObservedTime: { $ref: `${PREFIX}${META}.MicroTime` } }),
      action: str,
      related: ref(`${CORE}.ObjectReference`),
      reportingComponent: str,
      reportingInstance: str,
    }),
  ],
  'apps/v1/Deployment': [
    'io.k8s.api.apps.v1.Deployment',
    kind('apps', 'v1', 'Deployment', {
      spec: obj({
        replicas: int,
        selector: SELECTOR,
        template: POD_TEMPLATE,
        strategy: obj(
          { type: str, rollingUpdate: obj({ maxUnavailable: intOrString, maxSurge: intOrString }) },
          { 'x-kubernetes-patch-strategy': 'retainKeys' },
        ),
        minReadySeconds: int,
        revisionHistoryLimit: int,
        paused: bool,
        progressDeadlineSeconds: int,
      }),
      status: obj({
        observedGeneration: int64,
        replicas: int,
        updatedReplicas: int,
        readyReplicas: int,
        availableReplicas: int,
        unavailableReplicas: int,
        terminatingReplicas: int,
        conditions,
        collisionCount: int,
      }),
    }),
  ],
  'apps/v1/ReplicaSet': [
    'io.k8s.api.apps.v1.ReplicaSet',
    kind('apps', 'v1', 'ReplicaSet', {
      spec: obj({ replicas: int, minReadySeconds: int, selector: SELECTOR, template: POD_TEMPLATE }),
      status: obj({
        replicas: int,
        fullyLabeledReplicas: int,
        readyReplicas: int,
        availableReplicas: int,
        terminatingReplicas: int,
        observedGeneration: int64,
        conditions,
      }),
    }),
  ],
  'networking.k8s.io/v1/Ingress': [
    'io.k8s.api.networking.v1.Ingress',
    kind('networking.k8s.io', 'v1', 'Ingress', {
      spec: obj({
        ingressClassName: str,
        defaultBackend: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        tls: atomicList(obj({ hosts: atomicList(str), secretName: str })),
        rules: atomicList({ type: 'object' }),
      }),
      status: obj({ loadBalancer: ref(`${CORE}.LoadBalancerStatus`) }),
    }),
  ],
  'networking.k8s.io/v1/IngressClass': [
    'io.k8s.api.networking.v1.IngressClass',
    kind('networking.k8s.io', 'v1', 'IngressClass', {
      spec: obj({
        controller: str,
        parameters: obj({ apiGroup: str, kind: str, name: str, namespace: str, scope: str }),
      }),
    }),
  ],
  'coordination.k8s.io/v1/Lease': [
    'io.k8s.api.coordination.v1.Lease',
    kind('coordination.k8s.io', 'v1', 'Lease', {
      spec: obj({
        holderIdentity: str,
        leaseDurationSeconds: int,
        acquireTime: { $ref: `${PREFIX}${META}.MicroTime` },
        renewTime: { $ref: `${PREFIX}${META}.MicroTime` },
        leaseTransitions: int,
        strategy: str,
        preferredHolder: str,
      }),
    }),
  ],
  'policy/v1/PodDisruptionBudget': [
    'io.k8s.api.policy.v1.PodDisruptionBudget',
    kind('policy', 'v1', 'PodDisruptionBudget', {
      spec: obj({
        minAvailable: intOrString,
        maxUnavailable: intOrString,
        selector: { ...SELECTOR, 'x-kubernetes-patch-strategy': 'replace' },
        unhealthyPodEvictionPolicy: str,
      }),
      status: obj({
        observedGeneration: int64,
        disruptedPods: { type: 'object', additionalProperties: time },
        disruptionsAllowed: int,
        currentHealthy: int,
        desiredHealthy: int,
        expectedPods: int,
        conditions: mapList(ref(`${META}.Condition`), ['type']),
      }),
    }),
  ],
  'discovery.k8s.io/v1/EndpointSlice': [
    'io.k8s.api.discovery.v1.EndpointSlice',
    kind('discovery.k8s.io', 'v1', 'EndpointSlice', {
      addressType: str,
      endpoints: atomicList(
        obj({
          addresses: setList(str),
          conditions: obj({ ready: bool, serving: bool, terminating: bool }),
          hostname: str,
          targetRef: ref(`${CORE}.ObjectReference`),
          deprecatedTopology: strMap,
          nodeName: str,
          zone: str,
          hints: { type: 'object' },
        }),
      ),
      ports: atomicList(obj({ name: str, protocol: str, port: int, appProtocol: str })),
    }),
  ],
};

/** The schema of a built-in kind and the shared definitions it refers to, or undefined. */
export function builtinSchemas(
  group: string,
  version: string,
  k: string,
): { name: string; schema: Schema; shared: Record<string, Schema> } | undefined {
  const entry = KINDS[`${group}/${version}/${k}`];
  if (!entry) return undefined;
  return { name: entry[0], schema: entry[1], shared: SHARED };
}

/**
 * The resource types the sandbox serves, with what discovery publishes about each: group, version,
 * kind, scope, verbs, short names and subresources (as `kubectl api-resources` shows on a 1.32 cluster).
 */

/** A subresource as discovery lists it (`pods/log`). */
export interface SubresourceInfo {
  name: string;
  kind: string;
  verbs: string[];
}

/** A resource type: its identity, what discovery publishes and how writes treat it. */
export interface ResourceInfo {
  group: string;
  version: string;
  /** Plural, lower case: the path segment and the store key. */
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
  shortNames?: string[];
  categories?: string[];
  subresources: SubresourceInfo[];
  /** Spec changes bump metadata.generation (workload types). */
  hasGeneration?: boolean;
  /** Writes to the main resource keep the old status (there is a status subresource). */
  hasStatus?: boolean;
  /** Defined by a CustomResourceDefinition (custom-resources.ts); not validated or defaulted. */
  custom?: boolean;
  /** Where the `scale` subresource reads and writes (a CRD's `subresources.scale`); built-ins use spec.replicas. */
  scalePaths?: ScalePaths;
  /** A CRD's `additionalPrinterColumns` (the Table `kubectl get` prints); undefined for built-ins. */
  printerColumns?: PrinterColumn[];
}

/** A CRD version's `subresources.scale` (apiextensions.k8s.io/v1 CustomResourceSubresourceScale). */
export interface ScalePaths {
  specReplicasPath: string;
  statusReplicasPath: string;
  labelSelectorPath?: string;
}

/** A CRD version's `additionalPrinterColumns[]` entry. */
export interface PrinterColumn {
  name: string;
  type: string;
  format?: string;
  description?: string;
  priority?: number;
  jsonPath: string;
}

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const STATUS_VERBS = ['get', 'patch', 'update'];

function statusOf(kind: string): SubresourceInfo {
  return { name: 'status', kind, verbs: STATUS_VERBS };
}

/** Every resource the sandbox knows; CustomResourceDefinitions add theirs (custom-resources.ts). */
export const RESOURCES: ResourceInfo[] = [
  {
    group: '', version: 'v1', plural: 'namespaces', singular: 'namespace', kind: 'Namespace', namespaced: false,
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['ns'],
    subresources: [statusOf('Namespace'), { name: 'finalize', kind: 'Namespace', verbs: ['update'] }], hasStatus: true,
  },
  {
    group: '', version: 'v1', plural: 'nodes', singular: 'node', kind: 'Node', namespaced: false,
    verbs: ALL_VERBS, shortNames: ['no'], subresources: [statusOf('Node'), { name: 'proxy', kind: 'NodeProxyOptions', verbs: ['create', 'delete', 'get', 'patch', 'update'] }], hasStatus: true,
  },
  {
    group: '', version: 'v1', plural: 'pods', singular: 'pod', kind: 'Pod', namespaced: true,
    verbs: ALL_VERBS, shortNames: ['po'], categories: ['all'], hasStatus: true,
    subresources: [
      { name: 'attach', kind: 'PodAttachOptions', verbs: ['create', 'get'] },
      { name: 'binding', kind: 'Binding', verbs: ['create'] },
      { name: 'ephemeralcontainers', kind: 'Pod', verbs: STATUS_VERBS },
      { name: 'eviction', kind: 'Eviction', verbs: ['create'] },
      { name: 'exec', kind: 'PodExecOptions', verbs: ['create', 'get'] },
      { name: 'log', kind: 'Pod', verbs: ['get'] },
      { name: 'portforward', kind: 'PodPortForwardOptions', verbs: ['create', 'get'] },
      { name: 'proxy', kind: 'PodProxyOptions', verbs: ['create', 'delete', 'get', 'patch', 'update'] },
      statusOf('Pod'),
    ],
  },
  {
    group: '', version: 'v1', plural: 'services', singular: 'service', kind: 'Service', namespaced: true,
    verbs: ALL_VERBS.filter((v) => v !== 'deletecollection'), shortNames: ['svc'], categories: ['all'], hasStatus: true,
    subresources: [statusOf('Service'), { name: 'proxy', kind: 'ServiceProxyOptions', verbs: ['create', 'delete', 'get', 'patch', 'update'] }],
  },
  { group: '', version: 'v1', plural: 'endpoints', singular: 'endpoints', kind: 'Endpoints', namespaced: true, verbs: ALL_VERBS, shortNames: ['ep'], subresources: [] },
  { group: '', version: 'v1', plural: 'configmaps', singular: 'configmap', kind: 'ConfigMap', namespaced: true, verbs: ALL_VERBS, shortNames: ['cm'], subresources: [] },
  { group: '', version: 'v1', plural: 'secrets', singular: 'secret', kind: 'Secret', namespaced: true, verbs: ALL_VERBS, subresources: [] },
  { group: '', version: 'v1', plural: 'serviceaccounts', singular: 'serviceaccount', kind: 'ServiceAccount', namespaced: true, verbs: ALL_VERBS, shortNames: ['sa'], subresources: [] },
  { group: '', version: 'v1', plural: 'events', singular: 'event', kind: 'Event', namespaced: true, verbs: ALL_VERBS, shortNames: ['ev'], subresources: [] },
  {
    group: 'apps', version: 'v1', plural: 'deployments', singular: 'deployment', kind: 'Deployment', namespaced: true,
    verbs: ALL_VERBS, shortNames: ['deploy'], categories: ['all'], hasGeneration: true, hasStatus: true,
    subresources: [statusOf('Deployment'), { name: 'scale', kind: 'Scale', verbs: STATUS_VERBS }],
  },
  {
    group: 'apps', version: 'v1', plural: 'replicasets', singular: 'replicaset', kind: 'ReplicaSet', namespaced: true,
    verbs: ALL_VERBS, shortNames: ['rs'], categories: ['all'], hasGeneration: true, hasStatus: true,
    subresources: [statusOf('ReplicaSet'), { name: 'scale', kind: 'Scale', verbs: STATUS_VERBS }],
  },
  {
    group: 'apps', version: 'v1', plural: 'statefulsets', singular: 'statefulset', kind: 'StatefulSet', namespaced: true,
    verbs: ALL_VERBS, shortNames: ['sts'], categories: ['all'], hasGeneration: true, hasStatus: true,
    subresources: [statusOf('StatefulSet'), { name: 'scale', kind: 'Scale', verbs: STATUS_VERBS }],
  },
  {
    group: 'apps', version: 'v1', plural: 'daemonsets', singular: 'daemonset', kind: 'DaemonSet', namespaced: true,
    verbs: ALL_VERBS, shortNames: ['ds'], categories: ['all'], hasGeneration: true, hasStatus: true, subresources: [statusOf('DaemonSet')],
  },
  {
    group: 'batch', version: 'v1', plural: 'jobs', singular: 'job', kind: 'Job', namespaced: true,
    verbs: ALL_VERBS, categories: ['all'], hasGeneration: true, hasStatus: true, subresources: [statusOf('Job')],
  },
  {
    group: 'batch', version: 'v1', plural: 'cronjobs', singular: 'cronjob', kind: 'CronJob', namespaced: true,
    verbs: ALL_VERBS, shortNames: ['cj'], categories: ['all'], hasGeneration: true, hasStatus: true, subresources: [statusOf('CronJob')],
  },
  // Served so clients can read them; the sandbox has no autoscaler acting on them.
  {
    group: 'autoscaling', version: 'v2', plural: 'horizontalpodautoscalers', singular: 'horizontalpodautoscaler', kind: 'HorizontalPodAutoscaler',
    namespaced: true, verbs: ALL_VERBS, shortNames: ['hpa'], categories: ['all'], hasStatus: true, subresources: [statusOf('HorizontalPodAutoscaler')],
  },
  { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'roles', singular: 'role', kind: 'Role', namespaced: true, verbs: ALL_VERBS, subresources: [] },
  { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', singular: 'rolebinding', kind: 'RoleBinding', namespaced: true, verbs: ALL_VERBS, subresources: [] },
  { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles', singular: 'clusterrole', kind: 'ClusterRole', namespaced: false, verbs: ALL_VERBS, subresources: [] },
  { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterrolebindings', singular: 'clusterrolebinding', kind: 'ClusterRoleBinding', namespaced: false, verbs: ALL_VERBS, subresources: [] },
  {
    group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', singular: 'customresourcedefinition',
    kind: 'CustomResourceDefinition', namespaced: false, verbs: ALL_VERBS, shortNames: ['crd', 'crds'], hasStatus: true, subresources: [statusOf('CustomResourceDefinition')],
  },
  {
    group: 'authorization.k8s.io', version: 'v1', plural: 'selfsubjectaccessreviews', singular: 'selfsubjectaccessreview',
    kind: 'SelfSubjectAccessReview', namespaced: false, verbs: ['create'], subresources: [],
  },
];

/** The API groups in the order kube-apiserver lists them (legacy core is served at /api). */
export const GROUPS = ['apps', 'batch', 'autoscaling', 'authorization.k8s.io', 'rbac.authorization.k8s.io', 'apiextensions.k8s.io'];

/** Finds a resource by group and plural. */
export function findResource(group: string, plural: string): ResourceInfo | undefined {
  return RESOURCES.find((r) => r.group === group && r.plural === plural);
}

/** Finds a resource by its plural alone (the store's key; plurals are unique across groups here). */
export function resourceByPlural(plural: string): ResourceInfo | undefined {
  return RESOURCES.find((r) => r.plural === plural);
}

/** Finds a resource by kind (for ownerReferences and events). */
export function resourceByKind(kind: string): ResourceInfo | undefined {
  return RESOURCES.find((r) => r.kind === kind);
}

/** `apps/v1` or `v1`. */
export function apiVersionOf(r: ResourceInfo): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

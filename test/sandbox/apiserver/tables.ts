/**
 * Server-side printing: the `meta.k8s.io/v1 Table` kube-apiserver answers when kubectl asks with
 * `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`. Columns follow pkg/printers/internalversion
 * (printers.go) for the resources kubectl users look at; others get NAME and AGE. A custom
 * resource gets NAME and its CRD's `additionalPrinterColumns`, each cell the column's JSON path
 * evaluated and typed as apiextensions-apiserver's tableconvertor does (a `date` as an age, an
 * `integer` only from a whole number, nothing where the path finds nothing), or NAME and AGE when
 * the CRD declares none.
 */
import type { KObject } from '../contract.ts';
import { readPath } from './jsonpath.ts';
import type { PrinterColumn, ResourceInfo } from './resources.ts';

interface Column {
  name: string;
  type: string;
  priority?: number;
  format?: string;
  cell: (obj: any) => unknown;
}

/** duration.HumanDuration from k8s.io/apimachinery/pkg/util/duration. */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (h < 24 * 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (d < 365 * 2) return `${d}d`;
  return `${Math.floor(d / 365)}y`;
}

function age(obj: KObject): string {
  const created = Date.parse(obj.metadata.creationTimestamp);
  return Number.isNaN(created) ? '<unknown>' : humanDuration(Date.now() - created);
}

const NAME: Column = { name: 'Name', type: 'string', format: 'name', cell: (o) => o.metadata.name };
const AGE: Column = { name: 'Age', type: 'string', cell: age };

/** The STATUS column of `kubectl get pods` (printPod). */
export function podStatusReason(pod: any): string {
  let reason: string = pod.status?.reason || pod.status?.phase || 'Pending';
  for (const c of pod.status?.containerStatuses ?? []) {
    if (c.state?.waiting?.reason) reason = c.state.waiting.reason;
    else if (c.state?.terminated?.reason) reason = c.state.terminated.reason;
    else if (c.state?.terminated) reason = c.state.terminated.signal ? `Signal:${c.state.terminated.signal}` : `ExitCode:${c.state.terminated.exitCode}`;
  }
  if (pod.metadata.deletionTimestamp) reason = pod.status?.reason === 'NodeLost' ? 'Unknown' : 'Terminating';
  return reason;
}

function joinOrNone(values: string[]): string {
  return values.length > 0 ? values.join(',') : '<none>';
}

function selectorText(sel: Record<string, string> | undefined): string {
  return joinOrNone(Object.entries(sel ?? {}).map(([k, v]) => `${k}=${v}`));
}

function servicePorts(svc: any): string {
  return joinOrNone((svc.spec?.ports ?? []).map((p: any) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`));
}

function containersOf(o: any): string {
  return (o.spec?.template?.spec?.containers ?? []).map((c: any) => c.name).join(',');
}

function imagesOf(o: any): string {
  return (o.spec?.template?.spec?.containers ?? []).map((c: any) => c.image).join(',');
}

function endpointsText(ep: any): string {
  const all: string[] = [];
  for (const s of ep.subsets ?? []) {
    for (const a of s.addresses ?? []) for (const p of s.ports ?? [{}]) all.push(p.port ? `${a.ip}:${p.port}` : a.ip);
  }
  if (all.length === 0) return '<none>';
  return all.length > 3 ? `${all.slice(0, 3).join(',')} + ${all.length - 3} more...` : all.join(',');
}

function jobStatus(job: any): string {
  const conds: any[] = job.status?.conditions ?? [];
  const has = (t: string): boolean => conds.some((c) => c.type === t && c.status === 'True');
  if (has('Complete')) return 'Complete';
  if (has('Failed')) return 'Failed';
  if (job.metadata.deletionTimestamp) return 'Terminating';
  if (has('Suspended')) return 'Suspended';
  return 'Running';
}

function jobDuration(job: any): string {
  const start = Date.parse(job.status?.startTime ?? '');
  if (Number.isNaN(start)) return '';
  const end = Date.parse(job.status?.completionTime ?? '') || Date.now();
  return humanDuration(end - start);
}

const COLUMNS: Record<string, Column[]> = {
  pods: [
    NAME,
    { name: 'Ready', type: 'string', cell: (p) => `${(p.status?.containerStatuses ?? []).filter((c: any) => c.ready).length}/${p.spec?.containers?.length ?? 0}` },
    { name: 'Status', type: 'string', cell: podStatusReason },
    { name: 'Restarts', type: 'string', cell: (p) => String((p.status?.containerStatuses ?? []).reduce((n: number, c: any) => n + (c.restartCount ?? 0), 0)) },
    AGE,
    { name: 'IP', type: 'string', priority: 1, cell: (p) => p.status?.podIP ?? '<none>' },
    { name: 'Node', type: 'string', priority: 1, cell: (p) => p.spec?.nodeName ?? '<none>' },
    { name: 'Nominated Node', type: 'string', priority: 1, cell: (p) => p.status?.nominatedNodeName ?? '<none>' },
    { name: 'Readiness Gates', type: 'string', priority: 1, cell: () => '<none>' },
  ],
  services: [
    NAME,
    { name: 'Type', type: 'string', cell: (s) => s.spec?.type ?? 'ClusterIP' },
    { name: 'Cluster-IP', type: 'string', cell: (s) => s.spec?.clusterIP ?? '<none>' },
    { name: 'External-IP', type: 'string', cell: (s) => joinOrNone(s.spec?.externalIPs ?? []) },
    { name: 'Port(s)', type: 'string', cell: servicePorts },
    AGE,
    { name: 'Selector', type: 'string', priority: 1, cell: (s) => selectorText(s.spec?.selector) },
  ],
  deployments: [
    NAME,
    { name: 'Ready', type: 'string', cell: (d) => `${d.status?.readyReplicas ?? 0}/${d.spec?.replicas ?? 0}` },
    { name: 'Up-to-date', type: 'integer', cell: (d) => d.status?.updatedReplicas ?? 0 },
    { name: 'Available', type: 'integer', cell: (d) => d.status?.availableReplicas ?? 0 },
    AGE,
    { name: 'Containers', type: 'string', priority: 1, cell: containersOf },
    { name: 'Images', type: 'string', priority: 1, cell: imagesOf },
    { name: 'Selector', type: 'string', priority: 1, cell: (d) => selectorText(d.spec?.selector?.matchLabels) },
  ],
  replicasets: [
    NAME,
    { name: 'Desired', type: 'integer', cell: (r) => r.spec?.replicas ?? 0 },
    { name: 'Current', type: 'integer', cell: (r) => r.status?.replicas ?? 0 },
    { name: 'Ready', type: 'integer', cell: (r) => r.status?.readyReplicas ?? 0 },
    AGE,
    { name: 'Containers', type: 'string', priority: 1, cell: containersOf },
    { name: 'Images', type: 'string', priority: 1, cell: imagesOf },
    { name: 'Selector', type: 'string', priority: 1, cell: (r) => selectorText(r.spec?.selector?.matchLabels) },
  ],
  statefulsets: [
    NAME,
    { name: 'Ready', type: 'string', cell: (s) => `${s.status?.readyReplicas ?? 0}/${s.spec?.replicas ?? 0}` },
    AGE,
    { name: 'Containers', type: 'string', priority: 1, cell: containersOf },
    { name: 'Images', type: 'string', priority: 1, cell: imagesOf },
  ],
  daemonsets: [
    NAME,
    { name: 'Desired', type: 'integer', cell: (d) => d.status?.desiredNumberScheduled ?? 0 },
    { name: 'Current', type: 'integer', cell: (d) => d.status?.currentNumberScheduled ?? 0 },
    { name: 'Ready', type: 'integer', cell: (d) => d.status?.numberReady ?? 0 },
    { name: 'Up-to-date', type: 'integer', cell: (d) => d.status?.updatedNumberScheduled ?? 0 },
    { name: 'Available', type: 'integer', cell: (d) => d.status?.numberAvailable ?? 0 },
    { name: 'Node Selector', type: 'string', cell: (d) => selectorText(d.spec?.template?.spec?.nodeSelector) },
    AGE,
  ],
  jobs: [
    NAME,
    { name: 'Status', type: 'string', cell: jobStatus },
    { name: 'Completions', type: 'string', cell: (j) => `${j.status?.succeeded ?? 0}/${j.spec?.completions ?? 1}` },
    { name: 'Duration', type: 'string', cell: jobDuration },
    AGE,
  ],
  namespaces: [NAME, { name: 'Status', type: 'string', cell: (n) => n.status?.phase ?? 'Active' }, AGE],
  nodes: [
    NAME,
    { name: 'Status', type: 'string', cell: (n) => ((n.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True') ? 'Ready' : 'NotReady') },
    { name: 'Roles', type: 'string', cell: () => 'control-plane' },
    AGE,
    { name: 'Version', type: 'string', cell: (n) => n.status?.nodeInfo?.kubeletVersion ?? '' },
    { name: 'Internal-IP', type: 'string', priority: 1, cell: (n) => (n.status?.addresses ?? []).find((a: any) => a.type === 'InternalIP')?.address ?? '<none>' },
  ],
  endpoints: [NAME, { name: 'Endpoints', type: 'string', cell: endpointsText }, AGE],
  configmaps: [NAME, { name: 'Data', type: 'integer', cell: (c) => Object.keys(c.data ?? {}).length + Object.keys(c.binaryData ?? {}).length }, AGE],
  secrets: [NAME, { name: 'Type', type: 'string', cell: (s) => s.type ?? 'Opaque' }, { name: 'Data', type: 'integer', cell: (s) => Object.keys(s.data ?? {}).length }, AGE],
  serviceaccounts: [NAME, { name: 'Secrets', type: 'integer', cell: (s) => (s.secrets ?? []).length }, AGE],
  events: [
    { name: 'Last Seen', type: 'string', cell: (e) => humanDuration(Date.now() - Date.parse(e.lastTimestamp ?? e.metadata.creationTimestamp)) },
    { name: 'Type', type: 'string', cell: (e) => e.type },
    { name: 'Reason', type: 'string', cell: (e) => e.reason },
    { name: 'Object', type: 'string', cell: (e) => `${String(e.involvedObject?.kind ?? '').toLowerCase()}/${e.involvedObject?.name}` },
    { name: 'Message', type: 'string', cell: (e) => e.message },
  ],
};

/** A cell as tableconvertor's cellForJSONValue types it; null when the value does not fit the type. */
function typedCell(type: string, value: unknown): unknown {
  if (value === undefined || value === null) return null;
  switch (type) {
    case 'integer': return typeof value === 'number' && Number.isInteger(value) ? value : null;
    case 'number': return typeof value === 'number' ? value : null;
    case 'boolean': return typeof value === 'boolean' ? value : null;
    case 'date': {
      const at = typeof value === 'string' ? Date.parse(value) : NaN;
      return Number.isNaN(at) ? null : humanDuration(Date.now() - at);
    }
    default: return typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
}

/** The default column of a CRD without additionalPrinterColumns. */
const CRD_AGE: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

function customColumns(r: ResourceInfo): Column[] {
  const declared = r.printerColumns && r.printerColumns.length > 0 ? r.printerColumns : [CRD_AGE];
  return [NAME, ...declared.map((c): Column => ({
    name: c.name, type: c.type, format: c.format, priority: c.priority,
    cell: (obj) => {
      try {
        return typedCell(c.type, readPath(obj, c.jsonPath));
      } catch {
        return null;
      }
    },
  }))];
}

/** Builds the Table for `objects` of resource `r`; `includeObject` is None, Metadata or Object. */
export function toTable(r: ResourceInfo, objects: KObject[], resourceVersion: string, includeObject: string): object {
  const columns = r.custom ? customColumns(r) : COLUMNS[r.plural] ?? [NAME, { ...AGE, name: 'Created At' }];
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: columns.map((c) => ({ name: c.name, type: c.type, format: c.format ?? '', description: c.name, priority: c.priority ?? 0 })),
    rows: objects.map((obj) => ({
      cells: columns.map((c) => c.cell(obj)),
      object: rowObject(obj, includeObject),
    })),
  };
}

function rowObject(obj: KObject, includeObject: string): unknown {
  if (includeObject === 'None') return undefined;
  if (includeObject === 'Object') return obj;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
}

/** True when the Accept header asks for a Table. */
export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? '').split(',')[0].includes('as=Table');
}

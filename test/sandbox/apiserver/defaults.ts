/**
 * Field defaulting as kube-apiserver does it on create (pkg/apis/core/v1/defaults.go,
 * pkg/apis/apps/v1/defaults.go, pkg/apis/batch/v1/defaults.go), plus the sandbox's "scheduler"
 * (every pod goes to the one node) and the Service ClusterIP allocator.
 */
import type { KObject } from '../contract.ts';
import { CLUSTER_DNS_IP, NODE_NAME, SERVICE_CIDR } from './constants.ts';

function defaultContainer(c: any): void {
  const image: string = c.image ?? '';
  const tag = image.includes('@') ? 'digest' : (image.split('/').pop() ?? '').split(':')[1];
  c.imagePullPolicy ??= !tag || tag === 'latest' ? 'Always' : 'IfNotPresent';
  c.terminationMessagePath ??= '/dev/termination-log';
  c.terminationMessagePolicy ??= 'File';
  c.resources ??= {};
  for (const p of c.ports ?? []) p.protocol ??= 'TCP';
  for (const e of c.env ?? []) {
    if (e.valueFrom?.fieldRef) e.valueFrom.fieldRef.apiVersion ??= 'v1';
  }
}

/** Defaults a pod spec in place (also a workload's template spec). */
export function defaultPodSpec(spec: any): void {
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.securityContext ??= {};
  spec.schedulerName ??= 'default-scheduler';
  spec.enableServiceLinks ??= true;
  for (const c of spec.containers ?? []) defaultContainer(c);
  for (const c of spec.initContainers ?? []) defaultContainer(c);
  for (const c of spec.ephemeralContainers ?? []) defaultContainer(c);
  for (const v of spec.volumes ?? []) {
    if (v.configMap) v.configMap.defaultMode ??= 420;
    if (v.secret) v.secret.defaultMode ??= 420;
  }
}

/** A pod as the API server stores it on create: defaulted, scheduled to the node, Pending. */
export function defaultPod(pod: KObject): void {
  const spec = (pod.spec ??= {});
  defaultPodSpec(spec);
  spec.serviceAccountName ??= spec.serviceAccount ?? 'default';
  spec.serviceAccount ??= spec.serviceAccountName;
  spec.nodeName ??= NODE_NAME;
  spec.priority ??= 0;
  spec.preemptionPolicy ??= 'PreemptLowerPriority';
  spec.tolerations ??= [
    { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  ];
  pod.status = { phase: 'Pending', qosClass: 'BestEffort' };
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

/** Picks a free ClusterIP in SERVICE_CIDR, skipping the network address, .1 (the `kubernetes` Service), the DNS address and used ones. */
export function allocateClusterIP(used: Set<string>): string {
  const [base, bits] = SERVICE_CIDR.split('/');
  const size = 2 ** (32 - Number(bits));
  const start = ipToInt(base);
  for (let i = 0; i < size - 2; i++) {
    const offset = 2 + ((i * 7919) % (size - 3));
    const ip = intToIp(start + offset);
    if (!used.has(ip) && ip !== CLUSTER_DNS_IP) return ip;
  }
  throw new Error(`service CIDR ${SERVICE_CIDR} is exhausted`);
}

/** Defaults a Service in place; `used` are the ClusterIPs already taken. */
export function defaultService(svc: KObject, used: Set<string>): void {
  const spec = (svc.spec ??= {});
  spec.type ??= 'ClusterIP';
  spec.sessionAffinity ??= 'None';
  for (const p of spec.ports ?? []) {
    p.protocol ??= 'TCP';
    p.targetPort ??= p.port;
  }
  if (spec.clusterIP !== 'None') {
    spec.clusterIP ??= allocateClusterIP(used);
    spec.clusterIPs ??= [spec.clusterIP];
    spec.ipFamilies ??= ['IPv4'];
    spec.ipFamilyPolicy ??= 'SingleStack';
  } else {
    spec.clusterIPs ??= ['None'];
  }
  spec.internalTrafficPolicy ??= 'Cluster';
  svc.status = { loadBalancer: {} };
}

function defaultTemplate(obj: KObject): void {
  const template = (obj.spec.template ??= {});
  template.metadata ??= {};
  defaultPodSpec((template.spec ??= {}));
}

/** Defaults workload objects (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job) in place. */
export function defaultWorkload(resource: string, obj: KObject): void {
  const spec = (obj.spec ??= {});
  defaultTemplate(obj);
  if (resource === 'deployments') {
    spec.replicas ??= 1;
    spec.strategy ??= { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } };
    spec.revisionHistoryLimit ??= 10;
    spec.progressDeadlineSeconds ??= 600;
  } else if (resource === 'replicasets' || resource === 'statefulsets') {
    spec.replicas ??= 1;
    if (resource === 'statefulsets') {
      spec.podManagementPolicy ??= 'OrderedReady';
      spec.updateStrategy ??= { type: 'RollingUpdate', rollingUpdate: { partition: 0 } };
      spec.revisionHistoryLimit ??= 10;
    }
  } else if (resource === 'daemonsets') {
    spec.updateStrategy ??= { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } };
    spec.revisionHistoryLimit ??= 10;
  } else if (resource === 'jobs') {
    defaultJob(obj);
  }
  obj.status ??= {};
}

/** CronJob defaults (pkg/apis/batch/v1/defaults.go SetDefaults_CronJob) and its pod template's. */
export function defaultCronJob(cronJob: KObject): void {
  const spec = (cronJob.spec ??= {});
  spec.concurrencyPolicy ??= 'Allow';
  spec.suspend ??= false;
  spec.successfulJobsHistoryLimit ??= 3;
  spec.failedJobsHistoryLimit ??= 1;
  const jobSpec = ((spec.jobTemplate ??= {}).spec ??= {});
  const template = (jobSpec.template ??= {});
  template.metadata ??= {};
  defaultPodSpec((template.spec ??= {}));
  cronJob.status ??= {};
}

/** Job defaults and its generated selector (pkg/registry/batch/job/strategy.go generateSelector). */
function defaultJob(job: KObject): void {
  const spec = job.spec;
  spec.backoffLimit ??= 6;
  spec.completions ??= 1;
  spec.parallelism ??= 1;
  spec.completionMode ??= 'NonIndexed';
  spec.suspend ??= false;
  if (spec.manualSelector) return;
  const uid = job.metadata.uid;
  const name = job.metadata.name;
  const labels = { 'batch.kubernetes.io/controller-uid': uid, 'batch.kubernetes.io/job-name': name, 'controller-uid': uid, 'job-name': name };
  spec.selector = { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } };
  spec.template.metadata.labels = { ...(spec.template.metadata.labels ?? {}), ...labels };
  delete spec.manualSelector;
}

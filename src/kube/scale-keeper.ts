/**
 * The scale keeper: what restores a scaled-down workload when the CLI cannot (killed with -9, a
 * laptop that never comes back). Pure: the manifests of its Job, ServiceAccount, Role and
 * RoleBinding; agent/scale-keeper.ts is the program.
 *
 * The keeper is a small Job in the workload's namespace, running the agent image with the argument
 * `scale-keeper`, under a ServiceAccount made for this session. Its Role grants only what the
 * restore needs, each rule limited by `resourceNames` to one object
 * (https://kubernetes.io/docs/reference/access-authn-authz/rbac/#referring-to-resources):
 * `get` on the copy's Job, and `get`/`patch` on the one workload. It polls the copy's Job; when the
 * Job is gone, finished or failed (its lease ran out: copy-session.ts), or the keeper is asked to
 * stop (SIGTERM), it applies the restore patch of scale-down.ts and exits.
 *
 * The ServiceAccount, Role and RoleBinding are owned by the keeper's Job (ownerReferences), so the
 * garbage collector removes them with it; the Job removes itself after it finishes
 * (ttlSecondsAfterFinished). The Job is created suspended, and resumed once its ServiceAccount and
 * RoleBinding exist, so its pod never starts without its permissions.
 */
import type { V1Job, V1OwnerReference, V1Role, V1RoleBinding, V1ServiceAccount } from '@kubernetes/client-node';
import { CopyLabel } from './copy-target.ts';
import { labelValue } from './agent-job.ts';
import type { ScalableWorkload } from './scale-down.ts';

/** The keeper's settings, as environment variables of its container. */
export const KeeperEnv = {
  namespace: 'MIRRORD_KEEPER_NAMESPACE',
  copyJob: 'MIRRORD_KEEPER_COPY_JOB',
  session: 'MIRRORD_KEEPER_SESSION',
  workloadPath: 'MIRRORD_KEEPER_WORKLOAD_PATH',
  pollMs: 'MIRRORD_KEEPER_POLL_MS',
} as const;

/** The argument that makes the agent image run the keeper. */
export const KEEPER_COMMAND = 'scale-keeper';
/** How often the keeper reads the copy's Job. */
export const KEEPER_POLL_MS = 2000;
/** Time the keeper has for its restore after SIGTERM. */
const KEEPER_GRACE_SECONDS = 30;
const NONROOT_ID = 65532;

export function keeperName(sessionId: string): string {
  return `mirrord-keeper-${sessionId}`;
}

export interface KeeperOptions {
  sessionId: string;
  namespace: string;
  image: string;
  copyJob: string;
  workload: ScalableWorkload;
  workloadPath: string;
  user: string;
  cliVersion: string;
}

function labels(options: KeeperOptions): Record<string, string> {
  return {
    [CopyLabel.component]: 'scale-keeper',
    [CopyLabel.managedBy]: 'kubectl-mirrord',
    [CopyLabel.session]: options.sessionId,
    [CopyLabel.user]: labelValue(options.user),
  };
}

/** The keeper's Job, suspended (see the file comment). */
export function buildKeeperJob(options: KeeperOptions): V1Job {
  const name = keeperName(options.sessionId);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: options.namespace, labels: labels(options), annotations: { 'kubectl-mirrord/version': options.cliVersion, 'kubectl-mirrord/restores': options.workload.text } },
    spec: {
      suspend: true,
      backoffLimit: 3,
      ttlSecondsAfterFinished: 60,
      activeDeadlineSeconds: 7 * 24 * 60 * 60,
      template: {
        metadata: { labels: labels(options), annotations: { 'sidecar.istio.io/inject': 'false', 'linkerd.io/inject': 'disabled' } },
        spec: {
          serviceAccountName: name,
          automountServiceAccountToken: true,
          restartPolicy: 'Never',
          enableServiceLinks: false,
          terminationGracePeriodSeconds: KEEPER_GRACE_SECONDS,
          nodeSelector: { 'kubernetes.io/os': 'linux' },
          securityContext: { runAsNonRoot: true, runAsUser: NONROOT_ID, runAsGroup: NONROOT_ID, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [{
            name: 'keeper',
            image: options.image,
            args: [KEEPER_COMMAND],
            env: [
              { name: KeeperEnv.namespace, value: options.namespace },
              { name: KeeperEnv.copyJob, value: options.copyJob },
              { name: KeeperEnv.session, value: options.sessionId },
              { name: KeeperEnv.workloadPath, value: options.workloadPath },
              { name: KeeperEnv.pollMs, value: String(KEEPER_POLL_MS) },
            ],
            resources: { requests: { cpu: '5m', memory: '24Mi' }, limits: { memory: '128Mi' } },
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } },
          }],
        },
      },
    },
  };
}

function ownedBy(job: { name: string; uid: string }): V1OwnerReference[] {
  return [{ apiVersion: 'batch/v1', kind: 'Job', name: job.name, uid: job.uid, controller: false, blockOwnerDeletion: false }];
}

/** The ServiceAccount, Role and RoleBinding, owned by the keeper's Job `job`. */
export function buildKeeperAccess(options: KeeperOptions, job: { name: string; uid: string }): { serviceAccount: V1ServiceAccount; role: V1Role; roleBinding: V1RoleBinding } {
  const name = keeperName(options.sessionId);
  const metadata = () => ({ name, namespace: options.namespace, labels: labels(options), ownerReferences: ownedBy(job) });
  return {
    serviceAccount: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: metadata() },
    role: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: metadata(),
      rules: [
        { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get'], resourceNames: [options.copyJob] },
        { apiGroups: [options.workload.group], resources: [options.workload.plural], verbs: ['get', 'patch'], resourceNames: [options.workload.name] },
      ],
    },
    roleBinding: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: metadata(),
      subjects: [{ kind: 'ServiceAccount', name, namespace: options.namespace }],
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
    },
  };
}

/**
 * Checks made before anything is created, so a command that cannot work fails at once with a clear
 * message and leaves nothing in the cluster: the API server answers, the namespace exists, and the
 * user may do every request the agent's life needs (SelfSubjectAccessReview, the API kubectl
 * auth can-i uses).
 */
import { AuthorizationV1Api, CoreV1Api } from '@kubernetes/client-node';
import { ClusterError } from '../errors.ts';
import { errorFromKubeCall } from '../kube-api/api-errors.ts';
import type { KubeContext } from '../kube-api/kubeconfig.ts';

/** One permission the agent's life needs. */
export interface Permission {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  /** Why it is needed, for the message. */
  why: string;
}

/** create the Job, watch its pod, open the portforward, delete the Job on Ctrl-C. */
export const AGENT_PERMISSIONS: readonly Permission[] = [
  { verb: 'create', group: 'batch', resource: 'jobs', why: 'to start the agent' },
  { verb: 'get', group: '', resource: 'pods', why: "to follow the agent's pod" },
  { verb: 'watch', group: '', resource: 'pods', why: "to follow the agent's pod" },
  { verb: 'create', group: '', resource: 'pods', subresource: 'portforward', why: 'to connect to the agent' },
  { verb: 'delete', group: 'batch', resource: 'jobs', why: 'to remove the agent on exit' },
];

/** `create pods/portforward`, `create jobs.batch`: how kubectl auth can-i spells them. */
export function permissionText(p: Permission): string {
  const resource = p.group === '' ? p.resource : `${p.resource}.${p.group}`;
  return `${p.verb} ${resource}${p.subresource ? `/${p.subresource}` : ''}`;
}

/**
 * Confirms the namespace exists. A 403 on reading namespaces is not an answer (many users may not
 * read Namespace objects), so it passes.
 * @throws ClusterError `ENAMESPACE`; KubeconfigError when the API server is unreachable.
 */
export async function checkNamespace(ctx: KubeContext): Promise<void> {
  const core = ctx.kc.makeApiClient(CoreV1Api);
  try {
    await core.readNamespace({ name: ctx.namespace });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 403) return;
    if (code === 404) {
      throw new ClusterError('ENAMESPACE', `namespace "${ctx.namespace}" not found in context "${ctx.contextName}"`, {
        hint: 'check -n/--namespace (kubectl get namespaces lists them)',
      });
    }
    throw errorFromKubeCall(err, `read namespace "${ctx.namespace}"`, ctx.server);
  }
}

/**
 * Asks the API server whether each permission is granted in the namespace.
 * @throws ClusterError `EFORBIDDEN` naming every missing verb and resource.
 */
export async function checkPermissions(ctx: KubeContext, permissions: readonly Permission[] = AGENT_PERMISSIONS): Promise<void> {
  const authz = ctx.kc.makeApiClient(AuthorizationV1Api);
  const answers = await Promise.all(
    permissions.map(async (p) => {
      try {
        const review = await authz.createSelfSubjectAccessReview({
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SelfSubjectAccessReview',
            spec: { resourceAttributes: { namespace: ctx.namespace, verb: p.verb, group: p.group, resource: p.resource, subresource: p.subresource } },
          },
        });
        return review.status?.allowed === true;
      } catch (err) {
        throw errorFromKubeCall(err, 'check permissions (SelfSubjectAccessReview)', ctx.server);
      }
    }),
  );
  const missing = permissions.filter((_, i) => !answers[i]);
  if (missing.length === 0) return;
  const list = missing.map((p) => `${permissionText(p)} (${p.why})`).join(', ');
  throw new ClusterError('EFORBIDDEN', `you may not ${list} in namespace "${ctx.namespace}"`, {
    hint: `ask a cluster admin for a Role granting ${missing.map(permissionText).join(', ')}; check with kubectl auth can-i ${permissionText(missing[0])} -n ${ctx.namespace}`,
  });
}

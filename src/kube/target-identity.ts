/**
 * Who the target container's processes run as, so an exec agent can run as the same user and read
 * `/proc/<pid>/environ` and `/proc/<pid>/root` of the target's main process without CAP_SYS_PTRACE
 * (which Pod Security "baseline" forbids).
 *
 * What Linux asks of the reader (ptrace access mode PTRACE_MODE_READ_FSCREDS, proc(5) and
 * kernel/ptrace.c __ptrace_may_access): its fsuid equal to the target's real, effective and saved
 * uid, its fsgid equal to the target's gids, and (security/commoncap.c cap_ptrace_access_check)
 * its effective capabilities a superset of the target's permitted ones. So the agent takes the
 * target's uid, gid AND capabilities: a root target keeps the runtime's default capabilities,
 * and an agent with every capability dropped may not read it even as uid 0. It never gets more
 * than the target has.
 *
 * Where the ids come from, best first:
 * 1. the container's status `user.linux` (the uid and gid the runtime really used, KEP-3619,
 *    reported by kubelets with SupplementalGroupsPolicy, beta and on by default since 1.33);
 * 2. the container's securityContext, then the pod's (runAsUser, runAsGroup);
 * 3. 0: the image's USER then decides the target's uid, and the API does not show it. An agent
 *    guessing wrong gets EPERM from targetEnv, whose message names both uids.
 */
import type { V1Capabilities, V1Pod } from '@kubernetes/client-node';

export interface TargetIdentity {
  uid: number;
  gid: number;
  /** The target container's securityContext.capabilities, as written (undefined: the runtime's defaults). */
  capabilities: V1Capabilities | undefined;
  /** Where uid and gid came from, for messages. */
  source: 'container status' | 'securityContext' | 'assumed';
}

/** The identity of `container` in `pod` (see the file comment for the order). */
export function targetIdentity(pod: V1Pod, container: string): TargetIdentity {
  const spec = pod.spec?.containers?.find((c) => c.name === container);
  const capabilities = spec?.securityContext?.capabilities;
  const linux = pod.status?.containerStatuses?.find((s) => s.name === container)?.user?.linux;
  if (linux && Number.isInteger(linux.uid) && Number.isInteger(linux.gid)) return { uid: linux.uid, gid: linux.gid, capabilities, source: 'container status' };
  const uid = spec?.securityContext?.runAsUser ?? pod.spec?.securityContext?.runAsUser;
  const gid = spec?.securityContext?.runAsGroup ?? pod.spec?.securityContext?.runAsGroup;
  if (uid !== undefined) return { uid, gid: gid ?? 0, capabilities, source: 'securityContext' };
  return { uid: 0, gid: gid ?? 0, capabilities, source: 'assumed' };
}

/** "uid 1000, gid 1000 (from the container status)" for messages. */
export function describeIdentity(identity: TargetIdentity): string {
  const from = identity.source === 'assumed'
    ? 'assumed: the target sets no runAsUser, so its image decides, which the API does not show'
    : `from the target's ${identity.source}`;
  return `uid ${identity.uid}, gid ${identity.gid} (${from})`;
}

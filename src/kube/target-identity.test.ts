import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { buildEphemeralAgent } from './ephemeral-agent.ts';
import { podSecurityError } from './ephemeral-errors.ts';
import { describeIdentity, targetIdentity } from './target-identity.ts';

const base = { sessionId: 'abcd', name: 'mirrord-agent-abcd', image: 'agent:1', targetContainer: 'app', port: 23456, tokenSha256: 'f'.repeat(64), idleTimeoutMs: 60_000 };

function pod(spec: Partial<NonNullable<V1Pod['spec']>>, appSecurity?: object, user?: { uid: number; gid: number }): V1Pod {
  return {
    metadata: { name: 'web-1' },
    spec: { containers: [{ name: 'app', securityContext: appSecurity }], ...spec },
    status: { containerStatuses: [{ name: 'app', image: 'i', imageID: '', ready: true, restartCount: 0, ...(user ? { user: { linux: user } } : {}) }] },
  } as V1Pod;
}

test('the target\'s identity: the status\'s user first, then the container\'s, then the pod\'s securityContext, else uid 0', () => {
  assert.deepEqual(targetIdentity(pod({}, { runAsUser: 5 }, { uid: 1000, gid: 2000 }), 'app'), { uid: 1000, gid: 2000, capabilities: undefined, source: 'container status' });
  assert.deepEqual(targetIdentity(pod({ securityContext: { runAsUser: 7, runAsGroup: 8 } }, { runAsUser: 9 }), 'app'), { uid: 9, gid: 8, capabilities: undefined, source: 'securityContext' });
  assert.deepEqual(targetIdentity(pod({ securityContext: { runAsUser: 7 } }), 'app'), { uid: 7, gid: 0, capabilities: undefined, source: 'securityContext' });
  const root = targetIdentity(pod({}, { capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } }), 'app');
  assert.deepEqual(root, { uid: 0, gid: 0, capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] }, source: 'assumed' });
  assert.match(describeIdentity(root), /uid 0, gid 0 \(assumed: the target sets no runAsUser/);
});

test('an exec agent runs as the target\'s uid and gid with the target\'s capabilities and no escalation; -R still gets root with NET_ADMIN and NET_RAW; exec with incoming gets both', () => {
  const runAs = { uid: 1000, gid: 3000, capabilities: { drop: ['ALL'] }, source: 'securityContext' as const };
  const exec = buildEphemeralAgent({ ...base, netAdmin: false, runAs, targetContainerId: 'containerd://abc123' });
  assert.deepEqual(exec.securityContext, { runAsUser: 1000, runAsGroup: 3000, runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
  assert.equal(exec.env!.find((e) => e.name === 'MIRRORD_TARGET_CONTAINER_ID')?.value, 'containerd://abc123');
  const rootTarget = buildEphemeralAgent({ ...base, netAdmin: false, runAs: { uid: 0, gid: 0, capabilities: undefined, source: 'assumed' } });
  assert.deepEqual(rootTarget.securityContext, { runAsUser: 0, runAsGroup: 0, runAsNonRoot: false, allowPrivilegeEscalation: false },
    'a root target keeps the runtime\'s default capabilities, which the kernel requires of its reader');
  // exec with incoming traffic: root (iptables), the redirect capabilities, and SYS_PTRACE to read a
  // target of another uid; the target's drop stays (it permits the target nothing the agent lacks).
  const steal = buildEphemeralAgent({ ...base, netAdmin: true, runAs });
  assert.deepEqual(steal.securityContext, { runAsUser: 0, runAsNonRoot: false, allowPrivilegeEscalation: false, capabilities: { add: ['NET_ADMIN', 'NET_RAW', 'SYS_PTRACE'], drop: ['ALL'] } });
  const stealRoot = buildEphemeralAgent({ ...base, netAdmin: true, runAs: { uid: 0, gid: 0, capabilities: { add: ['SYS_TIME'], drop: ['NET_RAW', 'MKNOD'] }, source: 'assumed' } });
  assert.deepEqual(stealRoot.securityContext!.capabilities, { add: ['SYS_TIME', 'NET_ADMIN', 'NET_RAW'], drop: ['MKNOD'] }, 'a root target\'s adds are kept; a drop of a redirect capability is not');
  const reverse = buildEphemeralAgent({ ...base, netAdmin: true });
  assert.deepEqual(reverse.securityContext!.capabilities, { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] }, '-R: root with NET_ADMIN and NET_RAW');
});

test('a policy that refuses even the target\'s own identity says what was asked and why it is needed', () => {
  const runAs = { uid: 1000, gid: 1000, capabilities: undefined, source: 'container status' as const };
  const err = podSecurityError('pods "web-1" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true', 'prod', 'restricted', runAs);
  assert.equal(err.code, 'EPODSECURITY');
  assert.match(err.message, /namespace "prod" enforces Pod Security "restricted", which refused the agent container even though it asked for nothing beyond the target's own identity \(uid 1000, gid 1000 \(from the target's container status\)/);
  assert.match(err.hint ?? '', /same uid, or CAP_SYS_PTRACE/);
});

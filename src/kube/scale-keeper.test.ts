import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { scalableWorkload, workloadPath } from './scale-down.ts';
import { buildKeeperAccess, buildKeeperJob, KEEPER_COMMAND } from './scale-keeper.ts';

const workload = scalableWorkload('deployment', 'shop', 'web');
const options = { sessionId: 'ab12', namespace: 'shop', image: 'agent:1', copyJob: 'mirrord-copy-ab12', workload, workloadPath: workloadPath(workload), user: 'bob', cliVersion: '0.1.0' };

test('the keeper Job starts suspended, runs the agent image as scale-keeper under its own ServiceAccount, unprivileged', () => {
  const job = buildKeeperJob(options);
  assert.equal(job.metadata?.name, 'mirrord-keeper-ab12');
  assert.equal(job.spec?.suspend, true);
  const pod = job.spec!.template.spec!;
  assert.equal(pod.serviceAccountName, 'mirrord-keeper-ab12');
  assert.equal(pod.automountServiceAccountToken, true);
  assert.deepEqual(pod.containers[0].args, [KEEPER_COMMAND]);
  assert.equal(pod.containers[0].securityContext?.allowPrivilegeEscalation, false);
  assert.deepEqual(pod.containers[0].securityContext?.capabilities?.drop, ['ALL']);
  const env = Object.fromEntries(pod.containers[0].env!.map((e) => [e.name, e.value]));
  assert.equal(env.MIRRORD_KEEPER_WORKLOAD_PATH, '/apis/apps/v1/namespaces/shop/deployments/web');
  assert.equal(env.MIRRORD_KEEPER_COPY_JOB, 'mirrord-copy-ab12');
  assert.equal(job.spec!.template.metadata!.labels!['kubectl-mirrord/session'], 'ab12');
});

test('its Role names one object per rule; ServiceAccount, Role and RoleBinding are owned by the keeper Job', () => {
  const { serviceAccount, role, roleBinding } = buildKeeperAccess(options, { name: 'mirrord-keeper-ab12', uid: 'u1' });
  assert.deepEqual(role.rules, [
    { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get'], resourceNames: ['mirrord-copy-ab12'] },
    { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'patch'], resourceNames: ['web'] },
  ]);
  assert.deepEqual(roleBinding.subjects, [{ kind: 'ServiceAccount', name: 'mirrord-keeper-ab12', namespace: 'shop' }]);
  assert.deepEqual(roleBinding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'mirrord-keeper-ab12' });
  for (const obj of [serviceAccount, role, roleBinding]) assert.deepEqual(obj.metadata?.ownerReferences?.map((o) => [o.kind, o.uid]), [['Job', 'u1']]);
});

test('the agent entry point runs the keeper: without its settings it names them and exits 2', async () => {
  const run = promisify(execFile);
  const err = await run(process.execPath, [fileURLToPath(new URL('../../agent/main.ts', import.meta.url)), KEEPER_COMMAND], { env: { PATH: process.env.PATH } }).then(() => undefined, (e) => e as { code: number; stderr: string });
  assert.ok(err, 'it fails');
  assert.equal(err.code, 2);
  assert.match(err.stderr, /scale-keeper needs MIRRORD_KEEPER_NAMESPACE, MIRRORD_KEEPER_COPY_JOB, MIRRORD_KEEPER_SESSION, MIRRORD_KEEPER_WORKLOAD_PATH/);
});

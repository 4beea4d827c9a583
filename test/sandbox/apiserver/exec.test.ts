/**
 * pods/exec over WebSocket against the fake node, through the product's own exec client
 * (src/kube/pod-exec.ts): ephemeral containers can be named, the container is checked before the
 * upgrade as kube-apiserver does, exit codes arrive in the Status, RBAC answers 403.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { MirrordError } from '../../../src/errors.ts';
import { execInPod } from '../../../src/kube/pod-exec.ts';
import { eventually, startTestServer, type TestServer } from './test-server.test-support.ts';

let ts: TestServer;

before(async () => {
  ts = await startTestServer();
  const core = ts.kc.makeApiClient(CoreV1Api);
  await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'web' }, spec: { containers: [{ name: 'app', image: 'i' }, { name: 'sidecar', image: 'i' }] } } });
  await eventually(async () => (await core.readNamespacedPod({ name: 'web', namespace: 'default' })).status?.phase === 'Running');
  await core.patchNamespacedPodEphemeralcontainers(
    { name: 'web', namespace: 'default', body: { spec: { ephemeralContainers: [{ name: 'mirrord-agent-1a2b3c4d', image: 'agent', targetContainerName: 'app' }] } } },
    setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
  );
});
after(async () => {
  await ts?.close();
});

const target = (container: string, command = ['agent.mjs', 'stop']) => ({ namespace: 'default', pod: 'web', container, command });

test('exec in an ephemeral container: output and exit code', async () => {
  const ok = await execInPod(ts.kc, target('mirrord-agent-1a2b3c4d'));
  assert.deepEqual([ok.exitCode, ok.stdout], [0, 'ran agent.mjs stop in web/mirrord-agent-1a2b3c4d\n']);
  const failed = await execInPod(ts.kc, target('app', ['false']));
  assert.equal(failed.exitCode, 1);
  assert.match(failed.message ?? '', /command terminated with non-zero exit code/);
});

test('an unknown container is refused before the upgrade, with kube-apiserver\'s words', async () => {
  await assert.rejects(execInPod(ts.kc, target('nope')), (err: unknown) => err instanceof MirrordError && /container nope is not valid for pod web/.test(err.message));
  await assert.rejects(execInPod(ts.kc, target('')), (err: unknown) => err instanceof MirrordError && /a container name must be specified for pod web, choose one of: \[app sidecar\]/.test(err.message));
});

test('RBAC: create pods/exec denied answers 403, named as such', async () => {
  writeFileSync(ts.rbacPath, JSON.stringify({ deny: [{ user: 'restricted', verb: 'create', resource: 'pods', subresource: 'exec' }] }));
  try {
    await assert.rejects(execInPod(ts.restrictedKc, target('mirrord-agent-1a2b3c4d')), (err: unknown) => err instanceof MirrordError && err.code === 'EFORBIDDEN');
  } finally {
    writeFileSync(ts.rbacPath, '{"deny":[]}');
  }
});

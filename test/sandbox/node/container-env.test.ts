import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeStore } from './fake-store.ts';
import { buildEnv, ContainerConfigError, expandVars } from './container-env.ts';
import { capabilitySet, DEFAULT_CAPABILITIES } from './container-launch.ts';
import { ImageRegistry, repositoryOf, tagOf } from './images.ts';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

test('expandVars expands known names, keeps unknown ones and unescapes $$', () => {
  const vars = new Map([['A', 'x'], ['B', 'y']]);
  assert.equal(expandVars('$(A)-$(B)-$(C)-$$(A)', vars), 'x-y-$(C)-$(A)');
});

test('buildEnv: envFrom with prefix, then env in order, fieldRef, secretKeyRef; missing refs fail like the kubelet', () => {
  const s = new FakeStore();
  s.put('configmaps', { metadata: { name: 'cm' }, data: { A: '1', B: '2' } });
  s.put('secrets', { metadata: { name: 'sec' }, data: { token: Buffer.from('t0k').toString('base64') } });
  const pod = s.put('pods', { metadata: { name: 'p' }, spec: { enableServiceLinks: false, containers: [] } });
  const env = buildEnv({
    envFrom: [{ configMapRef: { name: 'cm' }, prefix: 'CM_' }],
    env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'sec', key: 'token' } } }, { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }, { name: 'BOTH', value: '$(CM_A)/$(IP)' }],
  }, pod, { podIP: '10.244.0.9', hostIP: '10.244.0.1' }, s, []);
  assert.equal(env.get('CM_A'), '1');
  assert.equal(env.get('TOKEN'), 't0k');
  assert.equal(env.get('BOTH'), '1/10.244.0.9');
  assert.equal(env.get('HOSTNAME'), 'p');
  assert.throws(() => buildEnv({ envFrom: [{ configMapRef: { name: 'missing' } }] }, pod, { podIP: '', hostIP: '' }, s, []),
    (err: unknown) => err instanceof ContainerConfigError && err.message === 'configmap "missing" not found');
  assert.doesNotThrow(() => buildEnv({ envFrom: [{ secretRef: { name: 'missing', optional: true } }] }, pod, { podIP: '', hostIP: '' }, s, []));
});

test('capabilitySet: runtime defaults, plus add, minus drop, privileged keeps everything', () => {
  assert.deepEqual(capabilitySet(undefined), DEFAULT_CAPABILITIES);
  const admin = capabilitySet({ capabilities: { add: ['NET_ADMIN', 'CAP_SYS_PTRACE'], drop: ['NET_RAW'] } })!;
  assert.ok(admin.includes('NET_ADMIN') && admin.includes('SYS_PTRACE') && !admin.includes('NET_RAW'));
  assert.deepEqual(capabilitySet({ capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } }), ['NET_BIND_SERVICE']);
  assert.equal(capabilitySet({ privileged: true }), undefined);
});

test('the image registry maps names regardless of tag or digest, and pulls the agent from its OCI archive', () => {
  const repo = fileURLToPath(new URL('../../..', import.meta.url));
  const images = ImageRegistry.forRepo(repo, '/srv/images');
  assert.equal(repositoryOf('localhost:5000/a/b:v1@sha256:00'), 'localhost:5000/a/b');
  assert.equal(tagOf('localhost:5000/a/b:v1@sha256:00'), 'v1');
  assert.equal(tagOf('localhost:5000/a/b'), undefined);
  assert.equal(images.resolve('ghcr.io/kubectl-mirrord/agent:0.3.1')!.oci, '/srv/images/kubectl-mirrord-agent_oci.tar');
  assert.deepEqual(images.resolve('busybox:1.36')!.cmd, ['/bin/sh']);
  assert.equal(images.resolve('example.com/unknown:1'), undefined);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../contract.ts';
import { podSecurityError } from './pod-security.ts';

function ns(level?: string): KObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'n', uid: '', resourceVersion: '', creationTimestamp: '', labels: level ? { 'pod-security.kubernetes.io/enforce': level } : {} } };
}

function pod(spec: object): KObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'agent-x', namespace: 'n', uid: '', resourceVersion: '', creationTimestamp: '' }, spec };
}

const agent = { containers: [{ name: 'agent', image: 'a', securityContext: { capabilities: { add: ['NET_ADMIN'] } } }] };

test('baseline rejects non-default capabilities with upstream wording', () => {
  const err = podSecurityError(ns('baseline'), pod(agent));
  assert.equal(err?.code, 403);
  assert.equal(err?.message, 'pods "agent-x" is forbidden: violates PodSecurity "baseline:latest": non-default capabilities (container "agent" must not include "NET_ADMIN" in securityContext.capabilities.add)');
});

test('baseline lists every violation in check order', () => {
  const spec = { hostPID: true, hostNetwork: true, volumes: [{ name: 'root', hostPath: { path: '/' } }], containers: [{ name: 'a', image: 'a', securityContext: { privileged: true } }, { name: 'b', image: 'b', securityContext: { privileged: true } }] };
  assert.equal(podSecurityError(ns('baseline'), pod(spec))?.message,
    'pods "agent-x" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostNetwork, hostPID), hostPath volumes (volume "root"), privileged (containers "a", "b" must not set securityContext.privileged=true)');
});

test('privileged and unlabeled namespaces allow anything; default capabilities pass baseline', () => {
  assert.equal(podSecurityError(ns('privileged'), pod(agent)), undefined);
  assert.equal(podSecurityError(ns(), pod(agent)), undefined);
  const ok = { containers: [{ name: 'c', image: 'c', securityContext: { capabilities: { add: ['NET_BIND_SERVICE', 'CHOWN'] } } }] };
  assert.equal(podSecurityError(ns('baseline'), pod(ok)), undefined);
});

test('restricted requires the hardened security context and accepts it', () => {
  const bare = { containers: [{ name: 'c', image: 'c' }] };
  assert.equal(podSecurityError(ns('restricted'), pod(bare))?.message,
    'pods "agent-x" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")');
  const hardened = {
    securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [{ name: 'c', image: 'c', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
  };
  assert.equal(podSecurityError(ns('restricted'), pod(hardened)), undefined);
});

test('ephemeral containers are checked too', () => {
  const spec = { containers: [{ name: 'c', image: 'c' }], ephemeralContainers: [{ name: 'dbg', image: 'd', securityContext: { capabilities: { add: ['SYS_ADMIN'] } } }] };
  assert.match(podSecurityError(ns('baseline'), pod(spec))?.message ?? '', /container "dbg" must not include "SYS_ADMIN"/);
});

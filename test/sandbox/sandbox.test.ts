/**
 * Fidelity of the whole sandbox (daemon, API server, real node) as real kubectl sees it. Needs root
 * on Linux; skipped otherwise. Reuses a running sandbox or starts one through the harness.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startSandbox, countRequests, type Sandbox } from './harness.ts';

const run = promisify(execFile);
const isRoot = process.platform === 'linux' && process.getuid?.() === 0;
const ns = `e2e-${process.pid}`;
let sandbox: Sandbox;

async function kubectl(...args: string[]): Promise<string> {
  const { stdout } = await run('kubectl', args, { env: { ...process.env, KUBECONFIG: sandbox.kubeconfigPath }, timeout: 90_000 });
  return stdout;
}

async function kubectlFails(...args: string[]): Promise<string> {
  try {
    await kubectl(...args);
  } catch (err) {
    return (err as { stderr: string }).stderr;
  }
  throw new Error(`kubectl ${args.join(' ')} succeeded but should have failed`);
}

const manifest = `apiVersion: v1
kind: Namespace
metadata:
  name: ${ns}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo
  namespace: ${ns}
spec:
  replicas: 1
  selector:
    matchLabels: {app: echo}
  template:
    metadata:
      labels: {app: echo}
    spec:
      containers:
      - name: echo
        image: http-echo
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: echo
  namespace: ${ns}
spec:
  selector: {app: echo}
  ports: [{port: 80, targetPort: http}]
`;

async function applyManifest(): Promise<string> {
  const { writeFileSync, mkdtempSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const file = join(mkdtempSync(join(tmpdir(), 'sbx-')), 'app.yaml');
  writeFileSync(file, manifest);
  return kubectl('apply', '-f', file);
}

before(async () => {
  if (isRoot) sandbox = await startSandbox();
});
after(async () => {
  if (!isRoot) return;
  await kubectl('delete', 'namespace', ns, '--wait=false').catch(() => undefined);
  await sandbox.stop();
});

test('kubectl get across kinds and namespaces', { skip: !isRoot && 'needs root on Linux' }, async () => {
  const out = await kubectl('get', 'pods,svc,deploy', '-A');
  assert.match(out, /^NAMESPACE\s+NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE$/m);
  assert.match(out, /default\s+service\/kubernetes\s+ClusterIP\s+10\.96\.0\.1\s+<none>\s+443\/TCP/);
  assert.match(await kubectl('get', 'nodes'), /^sandbox\s+Ready\s+/m);
});

test('kubectl apply twice: created, then unchanged; wait, get -o yaml, logs', { skip: !isRoot && 'needs root on Linux' }, async () => {
  assert.match(await applyManifest(), /deployment\.apps\/echo created/);
  const second = await applyManifest();
  assert.match(second, /deployment\.apps\/echo unchanged/);
  assert.match(second, /service\/echo unchanged/);
  await kubectl('-n', ns, 'wait', '--for=condition=Ready', 'pod', '-l', 'app=echo', '--timeout=60s');
  await kubectl('-n', ns, 'rollout', 'status', 'deploy/echo', '--timeout=60s');
  const pod = (await kubectl('-n', ns, 'get', 'pod', '-l', 'app=echo', '-o', 'name')).trim();
  const yaml = await kubectl('-n', ns, 'get', pod, '-o', 'yaml');
  assert.match(yaml, /phase: Running/);
  assert.match(yaml, /nodeName: sandbox/);
  assert.match(await kubectl('-n', ns, 'get', 'endpoints', 'echo'), /10\.244\.\d+\.\d+:8080/);
  await kubectl('-n', ns, 'logs', pod);
});

test('kubectl apply -f of a kind: List applies its items, twice (created, then unchanged), and delete -f removes them', { skip: !isRoot && 'needs root on Linux' }, async () => {
  const { writeFileSync, mkdtempSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const file = join(mkdtempSync(join(tmpdir(), 'sbx-')), 'list.yaml');
  const item = (name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns }, data: { name } });
  // kubectl validates a List on the client against /openapi/v2 (it is no resource the v3 document
  // lists), so this fails with "the server could not find the requested resource" without it.
  writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [item('list-a'), item('list-b')] }));
  assert.match(await kubectl('apply', '-f', file), /configmap\/list-a created\nconfigmap\/list-b created/);
  assert.match(await kubectl('apply', '-f', file), /configmap\/list-a unchanged\nconfigmap\/list-b unchanged/);
  assert.equal(await kubectl('-n', ns, 'get', 'configmap', 'list-b', '-o', 'jsonpath={.data.name}'), 'list-b');
  assert.match(await kubectl('delete', '-f', file), /configmap "list-a" deleted\nconfigmap "list-b" deleted/);
  assert.match(await kubectlFails('-n', ns, 'get', 'configmap', 'list-a'), /NotFound/);
});

test('kubectl debug adds an ephemeral container', { skip: !isRoot && 'needs root on Linux' }, async () => {
  const pod = (await kubectl('-n', ns, 'get', 'pod', '-l', 'app=echo', '-o', 'name')).trim();
  await kubectl('-n', ns, 'debug', pod, '--image=busybox', '--target=echo', '--attach=false', '--container=dbg', '--', 'sleep', '1');
  assert.equal(await kubectl('-n', ns, 'get', pod, '-o', 'jsonpath={.spec.ephemeralContainers[0].name}'), 'dbg');
});

test('kubectl errors carry the upstream wording', { skip: !isRoot && 'needs root on Linux' }, async () => {
  assert.match(await kubectlFails('-n', ns, 'get', 'pod', 'nope'), /Error from server \(NotFound\): pods "nope" not found/);
  assert.match(await kubectlFails('-n', 'does-not-exist', 'run', 'x', '--image=busybox'), /namespaces "does-not-exist" not found/);
});

test('kubectl delete removes the pod through the node; metrics count requests', { skip: !isRoot && 'needs root on Linux' }, async () => {
  const pod = (await kubectl('-n', ns, 'get', 'pod', '-l', 'app=echo', '-o', 'name')).trim();
  assert.match(await kubectl('-n', ns, 'delete', pod, '--timeout=60s'), /deleted/);
  assert.match(await kubectlFails('-n', ns, 'get', pod), /NotFound/);
  assert.ok(await countRequests({ verb: 'DELETE', resource: 'pods' }) >= 1);
});

/**
 * What exec stands on, on the sandbox: the ephemeral agent started as the target container's user
 * (runAsTarget) reads the target's environment and files through /proc/<pid>/root (a Secret volume
 * as the kubelet's AtomicWriter lays it out, with its `..data` links), resolves short names with
 * the pod's search domains, and its connections leave from the target pod's IP; the image's own
 * user (65532) may not read a root target's environment, and says why. Also the context exec tests
 * run programs in: no route to pods or Services (test/support/exec-blocked.ts), and the backends of
 * test/e2e/fixtures/exec-backends.yaml (http-echo reporting its peer, PostgreSQL).
 *
 * Needs root on Linux; starts (or reuses) the sandbox through the harness.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startSandbox, type Sandbox } from './harness.ts';
import { loadKubeContext } from '../../src/kube-api/kubeconfig.ts';
import { TargetedAgentManager } from '../../src/kube/targeted-agent.ts';
import { resolveTarget } from '../../src/kube/target-resolve.ts';
import { kubeTargetApi } from '../../src/kube/target-api.ts';
import { parseTarget } from '../../src/kube/target-spec.ts';
import { DEFAULT_AGENT_IMAGE, VERSION } from '../../src/version.ts';
import { Requests } from '../../src/protocol/requests.ts';
import { FILE_STREAM_DESTINATION } from '../../src/protocol/file-requests.ts';
import type { Session } from '../../src/session/session.ts';
import type { MuxStream } from '../../src/session/stream.ts';
import { readAll } from '../support/session-harness.ts';
import { runBlocked } from '../support/exec-blocked.ts';

const run = promisify(execFile);
const REPO = join(import.meta.dirname, '..', '..');
const ns = `exec-agent-${process.pid}`;
const nsRestricted = `exec-agent-r-${process.pid}`;
let sandbox: Sandbox;

async function kubectl(...args: string[]): Promise<string> {
  const { stdout } = await run('kubectl', args, { env: { ...process.env, KUBECONFIG: sandbox.kubeconfigPath }, timeout: 120_000 });
  return stdout;
}

/** kubectl apply of `manifest` from stdin, in `namespace`. */
async function apply(namespace: string | undefined, manifest: string): Promise<void> {
  const child = execFile('kubectl', ['apply', ...(namespace ? ['-n', namespace] : []), '-f', '-'], { env: { ...process.env, KUBECONFIG: sandbox.kubeconfigPath } });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  child.stdin!.end(manifest);
  const [code] = await once(child, 'exit');
  assert.equal(code, 0, `kubectl apply in ${namespace ?? 'the cluster'}: ${stderr}`);
}

const target = (name: string, podSecurity: string, appSecurity: string) => `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
data:
  GREETING: hello from the pod
---
apiVersion: v1
kind: Secret
metadata:
  name: ${name}
stringData:
  api-key: abcdefghijklmnopqrst
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: ${name}
  template:
    metadata:
      labels:
        app: ${name}
    spec:
      securityContext: ${podSecurity}
      containers:
        - name: app
          image: ghcr.io/kubectl-mirrord/http-echo:latest
          securityContext: ${appSecurity}
          env:
            - name: GREETING
              valueFrom:
                configMapKeyRef:
                  name: ${name}
                  key: GREETING
          volumeMounts:
            - name: api-key
              mountPath: /etc/app
      volumes:
        - name: api-key
          secret:
            secretName: ${name}
`;

before(async () => {
  sandbox = await startSandbox();
  await apply(undefined, `apiVersion: v1
kind: Namespace
metadata:
  name: ${ns}
---
apiVersion: v1
kind: Namespace
metadata:
  name: ${nsRestricted}
  labels:
    pod-security.kubernetes.io/enforce: restricted
`);
  await kubectl('apply', '-n', ns, '-f', join(REPO, 'test/e2e/fixtures/exec-backends.yaml'));
  for (const [namespace, manifest] of [
    [ns, target('target', '{}', '{}')],
    [nsRestricted, target('target', '{runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, seccompProfile: {type: RuntimeDefault}}', '{allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}')],
  ] as const) await apply(namespace, manifest);
  for (const d of ['echo', 'postgres', 'target']) await kubectl('wait', '-n', ns, '--for=condition=Available', `deployment/${d}`, '--timeout=90s');
  await kubectl('wait', '-n', nsRestricted, '--for=condition=Available', 'deployment/target', '--timeout=90s');
});

after(async () => {
  if (!sandbox) return;
  await kubectl('delete', 'namespace', ns, '--wait=false').catch(() => undefined);
  await kubectl('delete', 'namespace', nsRestricted, '--wait=false').catch(() => undefined);
  await sandbox.stop();
});

async function podOf(namespace: string, app: string): Promise<any> {
  const list = JSON.parse(await kubectl('get', 'pods', '-n', namespace, '-l', `app=${app}`, '-o', 'json'));
  return list.items.find((p: any) => p.status.phase === 'Running' && !p.metadata.deletionTimestamp);
}

/** An ephemeral agent in `deployment/target` of `namespace`; its session and manager. */
async function agentFor(namespace: string, runAsTarget: boolean, mode: 'ephemeral' | 'job' = 'ephemeral'): Promise<{ session: Session; manager: TargetedAgentManager }> {
  const ctx = loadKubeContext({ kubeconfigPath: sandbox.kubeconfigPath, namespace });
  const manager = new TargetedAgentManager(ctx, {
    image: DEFAULT_AGENT_IMAGE, idleTimeoutMs: 3_000, startupTimeoutMs: 90_000, cliVersion: VERSION,
    mode, netAdmin: false, runAsTarget,
    resolve: () => resolveTarget(kubeTargetApi(ctx), parseTarget('deployment/target'), namespace),
  });
  return { session: await manager.start(), manager };
}

/** Reads a file through fileRead, taking the agent's stream. */
async function readRemote(session: Session, path: string): Promise<string> {
  const streams = new Map<number, MuxStream>();
  const take = (s: MuxStream) => {
    if (s.open.destination.host !== FILE_STREAM_DESTINATION.host) return;
    s.on('error', () => {});
    s.accept();
    streams.set(s.id, s);
  };
  session.on('stream', take);
  try {
    const answer = await session.call(Requests.fileRead, { path, maxBytes: 1 << 20 });
    const stream = streams.get(answer.stream);
    assert.ok(stream, 'the agent opened the file stream before it answered');
    const bytes = await readAll(stream);
    stream.end();
    assert.equal(bytes.length, answer.stat.size);
    return bytes.toString('utf8');
  } finally {
    session.off('stream', take);
  }
}

/** GET / of the echo Service through an agent stream (as the exec layer's connect would go), parsed. */
async function echoThroughAgent(session: Session): Promise<any> {
  const stream = session.openStream({ host: 'echo', port: 80 });
  stream.end('GET / HTTP/1.0\r\nHost: echo\r\n\r\n');
  const reply = (await readAll(stream)).toString('utf8');
  return JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4));
}

test('the exec agent of a root target reads its environment and its Secret volume through ..data, resolves with the pod\'s search domains, connects from the pod\'s IP', async () => {
  const pod = await podOf(ns, 'target');
  const { session, manager } = await agentFor(ns, true);
  try {
    const spec = JSON.parse(await kubectl('get', 'pod', '-n', ns, pod.metadata.name, '-o', 'json')).spec;
    const agentSpec = spec.ephemeralContainers.at(-1);
    assert.equal(agentSpec.securityContext.runAsUser, 0, 'as the target\'s (assumed) uid');
    assert.equal(agentSpec.securityContext.capabilities, undefined, 'no capability added or dropped: the target\'s defaults');

    const { env } = await session.call(Requests.targetEnv, {});
    assert.equal(env.GREETING, 'hello from the pod');
    assert.equal(env.HOSTNAME, pod.metadata.name);
    assert.equal(await readRemote(session, '/etc/app/api-key'), 'abcdefghijklmnopqrst');
    const link = await session.call(Requests.readLink, { path: '/etc/app/api-key' });
    assert.equal(link.target, '..data/api-key', 'the kubelet wrote the key as AtomicWriter does');
    const listing = await session.call(Requests.dirList, { path: '/etc/app' });
    const names = listing.entries.map((e) => e.name);
    assert.ok(names.includes('..data') && names.includes('api-key') && names.some((n) => /^\.\.\d{4}_/.test(n)), names.join(' '));
    assert.match(await readRemote(session, '/etc/resolv.conf'), new RegExp(`search ${ns}\\.svc\\.cluster\\.local`));
    await assert.rejects(session.call(Requests.fileStat, { path: '/etc/app/nope', follow: true }), { code: 'EPOSIX', message: /^ENOENT: / });

    const svc = JSON.parse(await kubectl('get', 'service', '-n', ns, 'echo', '-o', 'json'));
    assert.deepEqual((await session.call(Requests.dnsLookup, { host: 'echo', family: 4 })).addresses, [svc.spec.clusterIP], 'a short name, through the pod\'s search domains');
    const seen = await echoThroughAgent(session);
    assert.equal(seen.peerIp, pod.status.podIP, 'the echo server saw the target pod\'s IP');
  } finally {
    session.destroy();
    await manager.cleanup();
  }
});

test('the image\'s own user (65532) may not read a root target\'s environment, and the answer says why', async () => {
  const { session, manager } = await agentFor(ns, false);
  try {
    await assert.rejects(session.call(Requests.targetEnv, {}), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'EPERM');
      assert.match(err.message, /the agent \(uid 65532 gid \d+\) may not read \/proc\/<pid>\/environ of the target's main process \(pid \d+, uid 0 gid 0\)/);
      return true;
    });
  } finally {
    session.destroy();
    await manager.cleanup();
  }
});

test('in a namespace enforcing "restricted", the exec agent of a non-root target is admitted as uid 1000 and reads the environment', async () => {
  const { session, manager } = await agentFor(nsRestricted, true);
  try {
    const { env } = await session.call(Requests.targetEnv, {});
    assert.equal(env.GREETING, 'hello from the pod');
    assert.equal(await readRemote(session, '/etc/app/api-key'), 'abcdefghijklmnopqrst');
  } finally {
    session.destroy();
    await manager.cleanup();
  }
});

test('a program in the exec test context has no route to a pod or a Service; the same curl outside it has', async () => {
  const echo = await podOf(ns, 'echo');
  const svc = JSON.parse(await kubectl('get', 'service', '-n', ns, 'echo', '-o', 'json'));
  const direct = await run('curl', ['-sS', '-m', '10', `http://${echo.status.podIP}:8080/`]);
  assert.equal(JSON.parse(direct.stdout).peerIp, '10.244.0.1', 'from the host, the echo server sees the node (the bridge)');
  for (const url of [`http://${echo.status.podIP}:8080/`, `http://${svc.spec.clusterIP}/`]) {
    const blocked = await runBlocked(['curl', '-sS', '-m', '10', url]);
    assert.equal(blocked.code, 7, `curl ${url} in the blocked context: ${blocked.stderr}`);
    assert.match(blocked.stderr, /Failed to connect|unreachable/i);
  }
  const dns = await runBlocked(['dig', '+time=2', '+tries=1', '@10.96.0.10', `echo.${ns}.svc.cluster.local`]);
  assert.notEqual(dns.code, 0, 'no direct cluster DNS either');
});

test('the PostgreSQL backend answers psql from the host and not from the blocked context', async () => {
  const pg = await podOf(ns, 'postgres');
  const conn = `host=${pg.status.podIP} port=5432 user=app dbname=app connect_timeout=5`;
  const ok = await run('psql', [conn, '-tAc', 'select 40 + 2'], { env: { ...process.env, PGPASSWORD: 'exec-test-password' } });
  assert.equal(ok.stdout.trim(), '42');
  const blocked = await runBlocked(['psql', conn, '-tAc', 'select 1'], { env: { ...process.env, PGPASSWORD: 'exec-test-password' } });
  assert.notEqual(blocked.code, 0);
  assert.match(blocked.stderr, /unreachable|could not connect/i);
});

test('the Job agent (hostPID, its own pod) finds the target by its container id and resolves with the target\'s resolv.conf, not its own', async () => {
  const pod = await podOf(ns, 'target');
  const { session, manager } = await agentFor(ns, true, 'job');
  try {
    const { env } = await session.call(Requests.targetEnv, {});
    assert.equal(env.HOSTNAME, pod.metadata.name, 'the target\'s environment, not the Job pod\'s');
    assert.equal(await readRemote(session, '/etc/app/api-key'), 'abcdefghijklmnopqrst');
    assert.match(await readRemote(session, '/etc/hostname'), new RegExp(`^${pod.metadata.name}\\s*$`), 'the target pod\'s /etc/hostname');
    const svc = JSON.parse(await kubectl('get', 'service', '-n', ns, 'echo', '-o', 'json'));
    assert.deepEqual((await session.call(Requests.dnsLookup, { host: 'echo', family: 4 })).addresses, [svc.spec.clusterIP]);
    assert.deepEqual((await session.call(Requests.dnsLookup, { host: pod.metadata.name, family: 4 })).addresses, [pod.status.podIP], 'the target\'s /etc/hosts names its own pod');
    await assert.rejects(session.call(Requests.dnsLookup, { host: 'no-such-service', family: 4 }), { code: 'ENOTFOUND' });
  } finally {
    session.destroy();
    await manager.cleanup();
  }
});

test('when the namespace\'s policy forbids even the target\'s own identity, the refusal says what was asked and why it is needed', async () => {
  // The policy tightened after the root target started: running pods stay, new containers are checked.
  await apply(undefined, `apiVersion: v1
kind: Namespace
metadata:
  name: ${ns}
  labels:
    pod-security.kubernetes.io/enforce: restricted
`);
  await assert.rejects(agentFor(ns, true), (err: Error & { code?: string; hint?: string }) => {
    assert.equal(err.code, 'EPODSECURITY');
    assert.match(err.message, new RegExp(`namespace "${ns}" enforces Pod Security "restricted", which refused the agent container even though it asked for nothing beyond the target's own identity \\(uid 0, gid 0`));
    assert.match(err.hint ?? '', /\/proc\/<pid>\/environ and \/proc\/<pid>\/root need the same uid, or CAP_SYS_PTRACE/);
    return true;
  });
});

/**
 * The sandbox node against a fake store, on the real host (needs root): pods as processes in their
 * own network namespaces, Services and DNS from inside pods, dialPod, env and volumes, capabilities
 * of ephemeral containers, deletion and cleanup.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import type { KObject, SandboxNode } from '../contract.ts';
import { FakeStore } from './fake-store.ts';
import { cleanupHost, createNode } from './index.ts';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const isRoot = process.getuid?.() === 0;
/**
 * The suite runs in a network namespace and a /run of its own (see the wrapper test at the end): it
 * then cannot disturb a sandbox running on the host, and has no route off the machine at all.
 */
const ISOLATED_ENV = 'KMSB_NODE_TEST_ISOLATED';
const isolated = process.env[ISOLATED_ENV] === '1';
const skipHere = !isRoot ? 'needs root (network namespaces, iptables)' : !isolated && 'runs inside the isolated wrapper below';

function text(stream: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    stream.on('data', (c) => (out += c));
    stream.on('end', () => resolve(out));
    stream.on('error', reject);
  });
}

async function run(node: SandboxNode, ns: string, pod: string, command: string[], container?: string): Promise<{ code: number; out: string; err: string }> {
  const r = node.exec!(ns, pod, { command, stdin: false, tty: false, ...(container ? { container } : {}) });
  const [out, err, code] = await Promise.all([text(r.stdout), text(r.stderr), r.exit]);
  return { code, out, err };
}

/**
 * Host PIDs of container processes (not the nsenter/unshare launching them) in the pod's network
 * namespace whose command line contains `needle`.
 */
function podPids(uid: string, needle: string): number[] {
  const pids = execFileSync('ip', ['netns', 'pids', `kmsb-${uid}`], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  return pids.filter((p) => {
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      return !/(^|\/)(nsenter|unshare)$/.test(argv[0]) && argv.some((a) => a.includes(needle));
    } catch {
      return false;
    }
  });
}

/** Polls a container's log until it matches (the process writes it in its own time). */
async function waitForLog(node: SandboxNode, pod: string, container: string, pattern: RegExp, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let log = '';
  while (Date.now() < deadline) {
    log = await text(node.podLogs('default', pod, container, { follow: false }));
    if (pattern.test(log)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`log of ${pod}/${container} never matched ${pattern}: ${JSON.stringify(log)}`);
}

const running = (o: KObject | undefined) => o?.status?.phase === 'Running' && o.status.containerStatuses?.every((c: any) => c.ready);

describe('sandbox node', { skip: skipHere }, () => {
  const store = new FakeStore();
  const node = createNode({ stateDir: '/tmp/kmsb-node-test', repoRoot });

  before(async () => {
    await node.start(store);
    store.put('configmaps', { metadata: { name: 'cfg' }, data: { GREETING: 'hi there', MODE: 'test' } });
    store.put('secrets', { metadata: { name: 'sec' }, data: { 'api-key': Buffer.from('s3cret').toString('base64') } });
    store.put('pods', { metadata: { name: 'ip-info', labels: { app: 'ip-info' } }, spec: { containers: [{ name: 'app', image: 'ip-info', ports: [{ name: 'http', containerPort: 8080 }], readinessProbe: { httpGet: { path: '/health', port: 'http' } } }] } });
    store.put('pods', { metadata: { name: 'client' }, spec: { containers: [{
      name: 'main', image: 'busybox', command: ['sleep', 'infinity'],
      env: [{ name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'GREETING' } } }, { name: 'ME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }, { name: 'MSG', value: '$(GREETING) from $(ME)' }],
      envFrom: [{ prefix: 'CFG_', configMapRef: { name: 'cfg' } }],
      volumeMounts: [{ name: 'key', mountPath: '/etc/app' }, { name: 'scratch', mountPath: '/scratch' }],
    }], volumes: [{ name: 'key', secret: { secretName: 'sec' } }, { name: 'scratch', emptyDir: {} }] } });
    store.put('pods', { metadata: { name: 'echo' }, spec: { containers: [{ name: 'echo', image: 'http-echo', env: [{ name: 'LISTEN_HOST', value: '127.0.0.1' }, { name: 'PORT', value: '9000' }], readinessProbe: { exec: { command: ['curl', '-sf', '-o', '/dev/null', 'http://127.0.0.1:9000/'] } } }] } });
    for (const name of ['ip-info', 'client', 'echo']) await store.waitFor('pods', 'default', name, running);
    const ipInfo = store.get('pods', 'default', 'ip-info')!;
    store.put('services', { metadata: { name: 'ip-info' }, spec: { clusterIP: '10.96.0.50', clusterIPs: ['10.96.0.50'], ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }], selector: { app: 'ip-info' } } });
    store.put('endpoints', { metadata: { name: 'ip-info' }, subsets: [{ addresses: [{ ip: ipInfo.status.podIP }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] }] });
    store.put('services', { metadata: { name: 'empty' }, spec: { clusterIP: '10.96.0.51', ports: [{ port: 80, protocol: 'TCP' }] } });
  });

  after(async () => {
    await node.stop();
  });

  test('a second node on the same host refuses to start, and its stop leaves the first alone', async () => {
    const second = createNode({ stateDir: '/tmp/kmsb-node-test-2', repoRoot });
    await assert.rejects(second.start(new FakeStore()), { code: 'SANDBOX_NODE_BUSY' });
    await second.stop();
    assert.match(execFileSync('ip', ['link'], { encoding: 'utf8' }), /kmsb0/);
  });

  test('a pod runs in its own network namespace with its own IP and resolv.conf', () => {
    const pod = store.get('pods', 'default', 'client')!;
    assert.match(pod.status.podIP, /^10\.244\.\d+\.\d+$/);
    const addrs = execFileSync('ip', ['-n', `kmsb-${pod.metadata.uid}`, '-o', 'addr'], { encoding: 'utf8' });
    assert.match(addrs, new RegExp(`eth0\\s+inet ${pod.status.podIP.replace(/\./g, '\\.')}/16`));
    const [pid] = podPids(pod.metadata.uid, 'sleep');
    assert.ok(pid, 'the container process runs in the pod netns');
    assert.equal(readFileSync(`/proc/${pid}/root/etc/resolv.conf`, 'utf8'),
      'search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n');
    assert.match(readFileSync(`/proc/${pid}/root/etc/hosts`, 'utf8'), new RegExp(`${pod.status.podIP.replace(/\./g, '\\.')}\\s+client`));
    assert.match(pod.status.containerStatuses[0].containerID, /^containerd:\/\/[0-9a-f]{64}$/);
  });

  test('a pod reaches another through a Service by short name (DNS search path + ClusterIP)', async () => {
    const lookup = await run(node, 'default', 'client', ['getent', 'hosts', 'ip-info']);
    assert.equal(lookup.code, 0, lookup.err);
    assert.match(lookup.out, /^10\.96\.0\.50\s+ip-info\.default\.svc\.cluster\.local/);
    const r = await run(node, 'default', 'client', ['curl', '-sS', '--max-time', '5', 'http://ip-info/info?ip=10.1.2.3']);
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).private, true);
  });

  test('exec runs a command in the container, with stdin', async () => {
    const r = node.exec!('default', 'client', { command: ['sh', '-c', 'tr a-z A-Z; echo "$GREETING" >&2; exit 3'], stdin: true, tty: false });
    r.stdin!.end('hello');
    const [out, err, code] = await Promise.all([text(r.stdout), text(r.stderr), r.exit]);
    assert.deepEqual({ out, err, code }, { out: 'HELLO', err: 'hi there\n', code: 3 });
    assert.throws(() => node.exec!('default', 'client', { container: 'nope', command: ['true'], stdin: false, tty: false }), /container nope not found/);
  });

  test('a pod reaches itself through its own Service (hairpin)', async () => {
    const r = await run(node, 'default', 'ip-info', ['curl', '-sS', '--max-time', '5', 'http://ip-info.default.svc.cluster.local/health']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'ok\n');
  });

  test('a Service without endpoints refuses connections; unknown names are NXDOMAIN', async () => {
    const r = await run(node, 'default', 'client', ['curl', '-sS', '--max-time', '5', 'http://empty/']);
    assert.equal(r.code, 7, r.err);
    assert.match(r.err, /Connection refused|Couldn't connect/);
    const nx = await run(node, 'default', 'client', ['getent', 'hosts', 'nope.default.svc.cluster.local']);
    assert.equal(nx.code, 2);
  });

  test('dialPod reaches a port bound on the pod loopback only, which the host cannot reach via the pod IP', async () => {
    const socket = await node.dialPod('default', 'echo', 9000);
    socket.end('GET /hello HTTP/1.0\r\n\r\n');
    const reply = await text(socket);
    assert.match(reply, /^HTTP\/1\.1 200/);
    assert.match(reply, /"url":"\/hello"/);
    const ip = store.get('pods', 'default', 'echo')!.status.podIP;
    await assert.rejects(new Promise((resolve, reject) => net.connect(9000, ip).on('connect', resolve).on('error', reject)), { code: 'ECONNREFUSED' });
    await assert.rejects(node.dialPod('default', 'echo', 9001), /error forwarding port 9001 to pod [0-9a-f]{64}, uid : .*connect: connection refused/);
  });

  test('env, envFrom and volumes are visible in the container', () => {
    const pod = store.get('pods', 'default', 'client')!;
    const [pid] = podPids(pod.metadata.uid, 'sleep');
    const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    assert.ok(env.includes('GREETING=hi there'));
    assert.ok(env.includes('CFG_MODE=test'));
    assert.ok(env.includes('MSG=hi there from client'));
    // Service links are fixed when a container starts: this pod predates the ip-info Service.
    assert.ok(!env.some((e) => e.startsWith('IP_INFO_SERVICE_HOST=')), 'no links to a Service created later');
    assert.equal(readFileSync(`/proc/${pid}/root/etc/app/api-key`, 'utf8'), 's3cret');
    assert.deepEqual(readdirSync(`/proc/${pid}/root/scratch`), []);
  });

  test('a restricted pod (like the agent Job) runs as its user, without capabilities, on a read-only root', async () => {
    store.put('pods', { metadata: { name: 'restricted' }, spec: {
      restartPolicy: 'Never', securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532 },
      containers: [{ name: 'c', image: 'busybox', securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
        command: ['sh', '-c', 'id -u; id -g; grep -E "^(CapBnd|CapEff|NoNewPrivs)" /proc/self/status; touch /x 2>/dev/null || echo read-only'] }],
    } });
    await store.waitFor('pods', 'default', 'restricted', (o) => o?.status?.phase === 'Succeeded');
    const log = await text(node.podLogs('default', 'restricted', undefined, { follow: false }));
    assert.equal(log, '65532\n65532\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\nNoNewPrivs:\t1\nread-only\n');
    store.put('pods', { metadata: { name: 'rootish' }, spec: { securityContext: { runAsNonRoot: true }, containers: [{ name: 'c', image: 'busybox', command: ['true'] }] } });
    const o = await store.waitFor('pods', 'default', 'rootish', (p) => p?.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerConfigError');
    assert.match(o!.status.containerStatuses[0].state.waiting.message, /^container has runAsNonRoot and image will run as root/);
  });

  test('the node itself reaches a ClusterIP', async () => {
    const res = await fetch('http://10.96.0.50/health');
    assert.equal(await res.text(), 'ok\n');
  });

  test('podLogs returns a container\'s output, tailLines limits it', async () => {
    const all = await text(node.podLogs('default', 'echo', undefined, { follow: false }));
    assert.match(all, /http-echo listening on 127\.0\.0\.1:9000/);
    assert.equal(await text(node.podLogs('default', 'echo', undefined, { follow: false, tailLines: 0 })), '');
    store.put('pods', { metadata: { name: 'talker' }, spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox', command: ['sh', '-c', 'echo one; echo two; sleep 1; echo three'] }] } });
    await store.waitFor('pods', 'default', 'talker', (o) => o?.status?.phase === 'Running');
    await waitForLog(node, 'talker', 'c', /two/);
    assert.equal(await text(node.podLogs('default', 'talker', 'c', { follow: false, tailLines: 1 })), 'two\n');
    // Following ends when the container does, with everything it wrote.
    assert.equal(await text(node.podLogs('default', 'talker', 'c', { follow: true })), 'one\ntwo\nthree\n');
  });

  test('an ephemeral container with NET_ADMIN can use iptables in the pod; one without cannot', async () => {
    const pod = store.get('pods', 'default', 'client')!;
    const iptables = ['iptables', '-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '--dport', '1', '-j', 'RETURN'];
    pod.spec.ephemeralContainers = [
      { name: 'admin', image: 'busybox', command: iptables, targetContainerName: 'main', securityContext: { capabilities: { add: ['NET_ADMIN'] } } },
      { name: 'plain', image: 'busybox', command: iptables },
      { name: 'debug', image: 'busybox', targetContainerName: 'main', command: ['sh', '-c', 'tr "\\0" " " < /proc/1/cmdline'] },
    ];
    store.put('pods', pod);
    const done = await store.waitFor('pods', 'default', 'client', (o) => o?.status?.ephemeralContainerStatuses?.length === 3 && o.status.ephemeralContainerStatuses.every((c: any) => c.state.terminated));
    const byName = Object.fromEntries(done!.status.ephemeralContainerStatuses.map((c: any) => [c.name, c.state.terminated.exitCode]));
    assert.equal(byName.admin, 0);
    assert.notEqual(byName.plain, 0);
    const rules = execFileSync('ip', ['netns', 'exec', `kmsb-${pod.metadata.uid}`, 'iptables-save', '-t', 'nat'], { encoding: 'utf8' });
    assert.match(rules, /--dport 1 -j RETURN/, 'the rule landed in the pod netns');
    assert.doesNotMatch(execFileSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }), /--dport 1 -j RETURN/, 'not on the host');
    // With targetContainerName it shares the target's PID namespace: PID 1 is the target's process.
    assert.equal(await text(node.podLogs('default', 'client', 'debug', { follow: false })), 'sleep infinity ');
  });

  test('when a container\'s main process exits, containerd kills what is left in it, even in a shared PID namespace', async () => {
    const pod = store.get('pods', 'default', 'client')!;
    // A detached child outlives its parent: in the target's PID namespace it is reparented to the
    // target's PID 1, so only killing the container's cgroup ends it.
    pod.spec.ephemeralContainers = [...pod.spec.ephemeralContainers, {
      name: 'leaver', image: 'busybox', targetContainerName: 'main', command: ['sh', '-c', 'setsid sleep 300 & sleep 300 & echo started'],
    }];
    store.put('pods', pod);
    const done = await store.waitFor('pods', 'default', 'client', (o) => o?.status?.ephemeralContainerStatuses?.find((c: any) => c.name === 'leaver')?.state?.terminated);
    const status = done!.status.ephemeralContainerStatuses.find((c: any) => c.name === 'leaver');
    const id = (status.state.terminated.containerID as string).replace('containerd://', '');
    assert.match(id, /^[0-9a-f]{64}$/);
    const inContainer = () => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try { return readFileSync(`/proc/${p}/cgroup`, 'utf8').includes(id); } catch { return false; }
    });
    const deadline = Date.now() + 30_000;
    while (inContainer().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(inContainer(), [], 'no process of the exited container is left');
    assert.equal(await text(node.podLogs('default', 'client', 'leaver', { follow: false })), 'started\n');
  });

  test('an unknown image is ErrImagePull, then ImagePullBackOff', async () => {
    store.put('pods', { metadata: { name: 'bad-image' }, spec: { containers: [{ name: 'c', image: 'example.com/nope:1' }] } });
    const o = await store.waitFor('pods', 'default', 'bad-image', (p) => p?.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ImagePullBackOff');
    assert.equal(o!.status.containerStatuses[0].state.waiting.message, 'Back-off pulling image "example.com/nope:1"');
    assert.equal(o!.status.phase, 'Pending');
  });

  test('a failing container under restartPolicy Never ends Failed with its exit code', async () => {
    store.put('pods', { metadata: { name: 'fails' }, spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox', command: ['sh', '-c', 'exit 3'] }] } });
    const o = await store.waitFor('pods', 'default', 'fails', (p) => p?.status?.phase === 'Failed');
    assert.equal(o!.status.containerStatuses[0].state.terminated.exitCode, 3);
    assert.equal(o!.status.containerStatuses[0].state.terminated.reason, 'Error');
  });

  test('a crashing container under restartPolicy Always goes into CrashLoopBackOff', async () => {
    store.put('pods', { metadata: { name: 'crashy' }, spec: { containers: [{ name: 'c', image: 'busybox', command: ['sh', '-c', 'echo crash; exit 2'] }] } });
    const o = await store.waitFor('pods', 'default', 'crashy', (p) => p?.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CrashLoopBackOff');
    const c = o!.status.containerStatuses[0];
    assert.equal(c.restartCount, 1);
    assert.equal(c.lastState.terminated.exitCode, 2);
    assert.match(c.state.waiting.message, /^back-off 10s restarting failed container=c/);
    assert.equal(o!.status.phase, 'Running');
    store.markDeleted('pods', 'default', 'crashy', 0);
  });

  test('a hostNetwork pod shares the node\'s network namespace and IP', async () => {
    store.put('pods', { metadata: { name: 'hostnet' }, spec: { hostNetwork: true, containers: [{ name: 'c', image: 'http-echo', env: [{ name: 'LISTEN_HOST', value: '127.0.0.1' }, { name: 'PORT', value: '9201' }], readinessProbe: { tcpSocket: { host: '127.0.0.1', port: 9201 } } }] } });
    const o = await store.waitFor('pods', 'default', 'hostnet', running);
    assert.equal(o!.status.podIP, '10.244.0.1');
    const res = await fetch('http://127.0.0.1:9201/from-node');
    assert.equal(((await res.json()) as { url: string }).url, '/from-node');
    const socket = await node.dialPod('default', 'hostnet', 9201);
    socket.end();
    store.markDeleted('pods', 'default', 'hostnet', 5);
    await store.waitFor('pods', 'default', 'hostnet', (p) => p === undefined);
    await assert.rejects(fetch('http://127.0.0.1:9201/'));
  });

  test('a failing liveness probe restarts the container', async () => {
    store.put('pods', { metadata: { name: 'live' }, spec: { terminationGracePeriodSeconds: 1, containers: [{
      name: 'c', image: 'busybox', command: ['sh', '-c', 'touch /tmp/alive; sleep 2; rm /tmp/alive; sleep infinity'],
      livenessProbe: { exec: { command: ['test', '-f', '/tmp/alive'] }, initialDelaySeconds: 1, periodSeconds: 1, failureThreshold: 1 },
    }] } });
    const o = await store.waitFor('pods', 'default', 'live', (p) => p?.status?.containerStatuses?.[0]?.restartCount >= 1);
    assert.ok(o!.status.containerStatuses[0].lastState.terminated, 'the killed run is the last state');
    store.markDeleted('pods', 'default', 'live', 0);
  });

  test('a startup probe holds readiness back until it passes; exec acts inside the container', async () => {
    const marker = `/tmp/kmsb-startup-${process.pid}`;
    store.put('pods', { metadata: { name: 'slow' }, spec: { containers: [{
      name: 'c', image: 'busybox', command: ['sleep', 'infinity'],
      startupProbe: { exec: { command: ['test', '-f', marker] }, periodSeconds: 1, failureThreshold: 300 },
    }] } });
    const early = await store.waitFor('pods', 'default', 'slow', (p) => p?.status?.phase === 'Running');
    assert.deepEqual([early!.status.containerStatuses[0].started, early!.status.containerStatuses[0].ready], [false, false]);
    // Right after Running: the exec must land in the container's /tmp, never in the host's.
    assert.equal((await run(node, 'default', 'slow', ['touch', marker])).code, 0);
    assert.equal(existsSync(marker), false, 'the exec wrote to the host filesystem');
    const later = await store.waitFor('pods', 'default', 'slow', running);
    assert.equal(later!.status.containerStatuses[0].started, true);
    store.markDeleted('pods', 'default', 'slow', 0);
  });

  test('shareProcessNamespace: containers see each other\'s processes', async () => {
    store.put('pods', { metadata: { name: 'shared' }, spec: { shareProcessNamespace: true, containers: [
      { name: 'a', image: 'busybox', command: ['sleep', '12345'] },
      { name: 'b', image: 'busybox', command: ['sh', '-c', 'until cat /proc/[0-9]*/cmdline 2>/dev/null | grep -q 12345; do sleep 0.1; done; echo seen; sleep infinity'] },
    ] } });
    await store.waitFor('pods', 'default', 'shared', running);
    await waitForLog(node, 'shared', 'b', /^seen$/m);
    store.markDeleted('pods', 'default', 'shared', 0);
  });

  test('init containers run to completion, in order, before the containers', async () => {
    store.put('pods', { metadata: { name: 'init' }, spec: {
      restartPolicy: 'Never', volumes: [{ name: 'work', emptyDir: {} }],
      initContainers: [
        { name: 'one', image: 'busybox', command: ['sh', '-c', 'echo one >> /work/order'], volumeMounts: [{ name: 'work', mountPath: '/work' }] },
        { name: 'two', image: 'busybox', command: ['sh', '-c', 'echo two >> /work/order'], volumeMounts: [{ name: 'work', mountPath: '/work' }] },
      ],
      containers: [{ name: 'main', image: 'busybox', command: ['cat', '/work/order'], volumeMounts: [{ name: 'work', mountPath: '/work' }] }],
    } });
    const o = await store.waitFor('pods', 'default', 'init', (p) => p?.status?.phase === 'Succeeded');
    assert.deepEqual(o!.status.initContainerStatuses.map((c: any) => c.state.terminated.reason), ['Completed', 'Completed']);
    assert.equal(await text(node.podLogs('default', 'init', 'main', { follow: false })), 'one\ntwo\n');
    store.put('pods', { metadata: { name: 'init-fails' }, spec: { restartPolicy: 'Never',
      initContainers: [{ name: 'bad', image: 'busybox', command: ['false'] }], containers: [{ name: 'main', image: 'busybox', command: ['true'] }] } });
    const failed = await store.waitFor('pods', 'default', 'init-fails', (p) => p?.status?.phase === 'Failed');
    assert.equal(failed!.status.containerStatuses[0].state.waiting.reason, 'PodInitializing');
  });

  test('deleting a pod stops its processes and removes it from the store', async () => {
    const pod = store.get('pods', 'default', 'echo')!;
    const pids = podPids(pod.metadata.uid, 'http-echo');
    assert.ok(pids.length > 0);
    store.markDeleted('pods', 'default', 'echo', 5);
    await store.waitFor('pods', 'default', 'echo', (o) => o === undefined);
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
    assert.doesNotMatch(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), new RegExp(pod.metadata.uid));
  });
});

/** A node with one pod, in a child process that is then SIGKILLed: what a crashed daemon leaves. */
async function crashANode(stateDir: string): Promise<void> {
  const script = `
    import { createNode } from ${JSON.stringify(new URL('./index.ts', import.meta.url).href)};
    import { FakeStore } from ${JSON.stringify(new URL('./fake-store.ts', import.meta.url).href)};
    const store = new FakeStore();
    await createNode({ stateDir: ${JSON.stringify(stateDir)}, repoRoot: ${JSON.stringify(repoRoot)} }).start(store);
    store.put('pods', { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'busybox', command: ['sleep', 'infinity'] }] } });
    await store.waitFor('pods', 'default', 'p', (o) => o?.status?.phase === 'Running');
    store.put('services', { metadata: { name: 's' }, spec: { clusterIP: '10.96.0.77', ports: [{ port: 80 }] } });
    store.put('endpoints', { metadata: { name: 's' }, subsets: [{ addresses: [{ ip: store.get('pods', 'default', 'p').status.podIP }], ports: [{ port: 80 }] }] });
    await new Promise((r) => setTimeout(r, 300));
    process.stdout.write('up\\n');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d) => String(d).includes('up') && resolve());
    child.on('exit', (code) => reject(new Error(`crash fixture exited early with ${code}`)));
  });
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
}

test('cleanupHost leaves nothing of the node behind, even after a crash', { skip: skipHere }, async () => {
  await crashANode('/tmp/kmsb-node-test');
  assert.match(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), /kmsb-/, 'the crashed node left a pod behind');
  assert.match(execFileSync('iptables-save', { encoding: 'utf8' }), /10\.96\.0\.77/);
  await cleanupHost();
  await cleanupHost();
  assert.doesNotMatch(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), /kmsb-/);
  assert.doesNotMatch(execFileSync('ip', ['link'], { encoding: 'utf8' }), /kmsb/);
  assert.doesNotMatch(execFileSync('iptables-save', { encoding: 'utf8' }), /KMSB-/);
  assert.doesNotMatch(execFileSync('ip', ['route'], { encoding: 'utf8' }), /10\.244\.|10\.96\./);
  assert.doesNotMatch(execFileSync('ip', ['rule'], { encoding: 'utf8' }), /2440/);
  assert.doesNotMatch(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }), /kmsb-node-test/);
});

test('the node suite, in a network namespace and /run of its own', { skip: (!isRoot || isolated) && 'needs root; already isolated' }, async () => {
  const script = 'mount -t tmpfs tmpfs /run && ip link set lo up && exec "$0" --test --test-reporter=spec "$1"';
  // Without NODE_TEST_CONTEXT the inner runner reports as a top-level run, not into this one.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const child = spawn('unshare', ['--net', '--mount', '--propagation', 'private', 'sh', '-c', script, process.execPath, fileURLToPath(import.meta.url)], {
    env: { ...env, [ISOLATED_ENV]: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, output);
  assert.match(output, /ℹ pass \d+\nℹ fail 0/);
});

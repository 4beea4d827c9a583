/**
 * UDP through the session, end to end on the sandbox with real clients: dig through
 * `-L ...:kube-dns.kube-system:53/udp`, PySocks (python3-socks) asking the cluster DNS through
 * SOCKS5 UDP ASSOCIATE, a UDP echo pod taking 10,000 numbered datagrams through `-L .../udp`, and
 * an unpaced blast of 100,000 whose drops are reported and whose memory stays bounded on both sides.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startSandbox } from '../sandbox/harness.ts';
import type { Sandbox } from '../sandbox/harness.ts';
import { REPO, agentPid, kubectl, kubectlJson, startCli, summaryPort } from './cli-process.ts';
import { blast, pingPong } from '../support/udp-traffic.ts';

const run = promisify(execFile);
const ECHO_PORT = 9000;
const PYTHON = '/usr/bin/python3';
const PYSOCKS = join(REPO, 'test/support/pysocks-udp.py');

const MANIFEST = `
apiVersion: v1
kind: Pod
metadata: { name: udp-echo, namespace: default, labels: { app: udp-echo } }
spec:
  containers:
    - name: udp-echo
      image: ghcr.io/kubectl-mirrord/udp-echo:latest
      env: [{ name: PORT, value: "${ECHO_PORT}" }]
      ports: [{ name: echo, containerPort: ${ECHO_PORT}, protocol: UDP }]
`;

let sandbox: Sandbox;
let dir: string;
let echoIp: string;
let ipInfoClusterIp: string;

before(async () => {
  sandbox = await startSandbox();
  dir = mkdtempSync(join(tmpdir(), 'kmrd-udp-'));
  writeFileSync(join(dir, 'udp-echo.yaml'), MANIFEST);
  const kc = sandbox.kubeconfigPath;
  await kubectl(kc, ['apply', '-f', join(REPO, 'test/sandbox/demo.yaml'), '-f', join(dir, 'udp-echo.yaml')]);
  await kubectl(kc, ['wait', '--for=condition=Ready', 'pod/udp-echo', '--timeout=60s']);
  echoIp = (await kubectlJson(kc, ['get', 'pod', 'udp-echo'])).status.podIP;
  ipInfoClusterIp = (await kubectlJson(kc, ['get', 'service', 'ip-info'])).spec.clusterIP;
});

after(async () => {
  await sandbox?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Peak and current resident memory of a process, in MiB (VmHWM, VmRSS of /proc/PID/status). */
function memory(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024;
  return { peak: field('VmHWM'), now: field('VmRSS') };
}

test('the sandbox has kube-dns in kube-system in front of the cluster DNS, as real clusters do', async () => {
  const svc = await kubectlJson(sandbox.kubeconfigPath, ['get', 'service', 'kube-dns', '-n', 'kube-system']);
  assert.equal(svc.spec.clusterIP, '10.96.0.10');
  assert.deepEqual(svc.spec.ports.map((p: { protocol: string; port: number }) => `${p.port}/${p.protocol}`), ['53/UDP', '53/TCP']);
});

test('dig through -L 0:kube-dns.kube-system:53/udp answers the ClusterIP; PySocks asks through SOCKS5 UDP ASSOCIATE', async () => {
  const cli = startCli(['port-forward', '-L', '0:kube-dns.kube-system:53/udp', '--socks', '0', '-v'], sandbox.kubeconfigPath);
  try {
    await cli.waitFor(/Ctrl-C to stop/, 60_000);
    const out = cli.output();
    assert.match(out, /127\.0\.0\.1:\d+\s+→ kube-dns\.kube-system:53 udp/, 'the summary line says udp');
    const dnsPort = summaryPort(out, '→ kube-dns.kube-system:53 udp');
    const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(dnsPort), '+short', '+tries=1', '+time=5', 'ip-info.default.svc.cluster.local']);
    assert.equal(stdout.trim(), ipInfoClusterIp);
    // A name that does not exist comes back NXDOMAIN, from the cluster's resolver.
    const missing = await run('dig', ['@127.0.0.1', '-p', String(dnsPort), '+tries=1', '+time=5', 'no-such.default.svc.cluster.local']);
    assert.match(missing.stdout, /status: NXDOMAIN/);

    const socks = summaryPort(out, 'SOCKS5');
    const py = await run(PYTHON, [PYSOCKS, String(socks), '10.96.0.10', '53', '--dns', 'ip-info.default.svc.cluster.local'], { timeout: 20_000 });
    const answer = JSON.parse(py.stdout);
    assert.deepEqual(answer.addresses, [ipInfoClusterIp]);
    assert.deepEqual(answer.from, ['10.96.0.10', 53], 'the reply header names the real source');
    assert.equal(await cli.interrupt(), 130);
  } finally {
    cli.child.kill('SIGKILL');
  }
});

test('10,000 distinct datagrams through -L .../udp to a UDP echo pod, 32 in flight: every one comes back', async () => {
  const cli = startCli(['port-forward', '-L', `0:${echoIp}:${ECHO_PORT}/udp`], sandbox.kubeconfigPath);
  try {
    await cli.waitFor(/Ctrl-C to stop/, 60_000);
    const port = summaryPort(cli.output(), `→ ${echoIp}:${ECHO_PORT} udp`);
    const result = await pingPong('127.0.0.1', port, 10_000, 512, 32);
    assert.equal(result.sent, 10_000);
    assert.equal(result.answered, 10_000, `${10_000 - result.answered} datagrams did not come back`);
    assert.equal(result.corrupt, 0);
    assert.equal(await cli.interrupt(), 130);
  } finally {
    cli.child.kill('SIGKILL');
  }
});

test('a blast of 100,000 unpaced datagrams: drops are counted and reported, memory stays bounded on both sides', async () => {
  const cli = startCli(['port-forward', '-L', `0:${echoIp}:${ECHO_PORT}/udp`, '-v', '--udp-idle-timeout', '3s'], sandbox.kubeconfigPath);
  try {
    const [, podName] = await cli.waitFor(/agent ready in [\d.]+ s \(pod (\S+)\)/, 60_000);
    await cli.waitFor(/Ctrl-C to stop/);
    const port = summaryPort(cli.output(), `→ ${echoIp}:${ECHO_PORT} udp`);
    const agent = await agentPid(sandbox.kubeconfigPath, podName);
    // A first exchange so both processes have every code path warm before the baseline.
    assert.equal((await pingPong('127.0.0.1', port, 200, 1024, 8)).answered, 200);
    const before = { cli: memory(cli.child.pid!), agent: memory(agent) };
    const result = await blast('127.0.0.1', port, 100_000, 1024);
    const peak = { cli: memory(cli.child.pid!), agent: memory(agent) };
    // The blast stream's end (idle after 3 s) reports its counts with -v.
    const pattern = /udp ↑(\d+) ↓(\d+) datagrams \([^)]*\), (\d+) dropped(?:; the kernel dropped (\d+) on the listener)?/g;
    const blastLine = () => [...cli.output().matchAll(pattern)].find((m) => Number(m[1]) + Number(m[3]) > 1000);
    for (let i = 0; i < 300 && !blastLine(); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    const m = blastLine();
    assert.ok(m, `no -v line for the blast stream in:\n${cli.output()}`);
    const counted = { up: Number(m[1]), down: Number(m[2]), dropped: Number(m[3]), kernel: Number(m[4] ?? 0) };
    process.stderr.write(`# blast: ${JSON.stringify({ result, counted, before, peak })}\n# ${m[0]}\n`);
    assert.equal(result.sent, 100_000);
    assert.ok(counted.up + counted.dropped <= 100_000, 'the CLI never counts more than it was sent');
    // Every datagram is accounted for: sent on, dropped by the CLI, or dropped by the kernel (the
    // warm-up's 200 share the listener's kernel count).
    assert.ok(counted.up + counted.dropped + counted.kernel >= 100_000, 'every datagram was sent on or counted as dropped');
    assert.ok(counted.down >= result.answered, 'every answer the client got was counted by the CLI');
    assert.ok(counted.up > 0 && result.answered > 0, 'the blast got through, at least in part');
    // 100,000 datagrams of 1 KiB are 100 MiB each way. Queues bounded by the window keep the growth
    // of either process below that; and a second blast must find the memory the first one left
    // (the heap and buffers sized by the first), not grow by as much again as an unbounded queue
    // would. RSS includes garbage not yet collected, so the first bound is loose and the second
    // is the sharp one.
    for (const side of ['cli', 'agent'] as const) {
      const growth = peak[side].peak - before[side].now;
      assert.ok(growth < 96, `${side} grew ${growth.toFixed(1)} MiB during the blast (peak ${peak[side].peak.toFixed(1)} MiB)`);
    }
    await blast('127.0.0.1', port, 100_000, 1024);
    const again = { cli: memory(cli.child.pid!), agent: memory(agent) };
    process.stderr.write(`# second blast: ${JSON.stringify(again)}\n`);
    for (const side of ['cli', 'agent'] as const) {
      const more = again[side].peak - peak[side].peak;
      assert.ok(more < 24, `${side} grew another ${more.toFixed(1)} MiB in a second blast (peak ${again[side].peak.toFixed(1)} MiB)`);
    }
    // The stream is gone and the next datagram opens a new one.
    assert.equal((await pingPong('127.0.0.1', port, 100, 512, 8)).answered, 100);
    assert.equal(await cli.interrupt(), 130);
  } finally {
    cli.child.kill('SIGKILL');
  }
});

test('-L with /sctp is refused before anything starts, naming the accepted forms', async () => {
  const cli = startCli(['port-forward', '-L', '5353:kube-dns.kube-system:53/sctp'], sandbox.kubeconfigPath);
  assert.equal(await cli.exited, 2);
  assert.match(cli.output(), /error: invalid -L '5353:kube-dns\.kube-system:53\/sctp': unknown protocol '\/sctp': only \/tcp and \/udp are forwarded/);
  assert.match(cli.output(), /hint: -L accepts \[local_port:\]host:port\[\/tcp\|\/udp\]/);
});

/**
 * `kubectl mirrord exec -f FILE` with `feature.network.outgoing.filter` and
 * `feature.network.dns.filter`, end to end on the sandbox with curl, python3 and getent.
 *
 * Programs run in the blocked context (test/support/exec-blocked.ts): this machine has no route
 * to the sandbox's pod and Service ranges, so traffic the filter keeps local cannot reach a
 * Service, and traffic through the pod shows the target pod's IP to http-echo.
 *
 * Needs root on Linux, make and a C compiler (the layer is built first), and the sandbox lock.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { startSandbox, type Sandbox } from '../sandbox/harness.ts';
import { BIN, REPO, kubectl, kubectlJson } from './cli-process.ts';
import { runBlocked, type BlockedResult } from '../support/exec-blocked.ts';
import { buildLayer } from '../support/layer-build.ts';

const TARGET = 'deployment/ip-visit-counter';
let sandbox: Sandbox;
let podIp: string;
let echoIp: string;
let scratch: string;
let hostEcho: net.Server;
let hostEchoPort: number;

before(async () => {
  buildLayer();
  sandbox = await startSandbox();
  await kubectl(sandbox.kubeconfigPath, ['apply', '-f', join(REPO, 'test/sandbox/demo.yaml')]);
  await kubectl(sandbox.kubeconfigPath, ['apply', '-f', join(REPO, 'test/e2e/fixtures/exec-backends.yaml')]);
  for (const d of ['ip-visit-counter', 'ip-info', 'echo']) {
    await kubectl(sandbox.kubeconfigPath, ['wait', '--for=condition=Available', `deployment/${d}`, '--timeout=120s']);
  }
  const pods = await kubectlJson(sandbox.kubeconfigPath, ['get', 'pods', '-l', 'app=ip-visit-counter']);
  const running = pods.items.filter((p: any) => p.status.phase === 'Running' && !p.metadata.deletionTimestamp);
  assert.equal(running.length, 1, 'one target pod');
  podIp = running[0].status.podIP;
  echoIp = (await kubectlJson(sandbox.kubeconfigPath, ['get', 'service', 'echo'])).spec.clusterIP;
  scratch = mkdtempSync(join(tmpdir(), 'exec-filter-e2e-'));
  // A server on this machine's loopback: a program under exec reaches it only if the filter keeps
  // the connect local (the loopback rule would otherwise send it to the pod's loopback).
  hostEcho = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => hostEcho.listen(0, '127.0.0.1', r));
  hostEchoPort = (hostEcho.address() as net.AddressInfo).port;
});

after(async () => {
  await new Promise((r) => hostEcho?.close(r));
  await sandbox?.stop();
});

function config(name: string, network: unknown): string {
  const file = join(scratch, name);
  writeFileSync(file, JSON.stringify({ feature: { network } }));
  return file;
}

async function exec(configFile: string, argv: string[]): Promise<BlockedResult> {
  return runBlocked(['kubectl', 'mirrord', 'exec', '-t', TARGET, '-f', configFile, '--', ...argv], {
    env: { ...process.env, PATH: `${BIN}:${process.env.PATH}`, KUBECONFIG: sandbox.kubeconfigPath, NO_COLOR: '1' },
    timeoutMs: 150_000,
  });
}

function echoPeer(stdout: string): string {
  const line = stdout.split('\n').find((l) => l.includes('peerIp'));
  assert.ok(line, `an http-echo answer in ${JSON.stringify(stdout)}`);
  return JSON.parse(line).peerIp;
}

test('outgoing local ["ip-info"]: curl to ip-info fails on this machine (no such name here); echo still goes through the pod', async () => {
  const file = config('local.json', { outgoing: { filter: { local: ['ip-info'] } } });
  const script = 'curl -sS --max-time 20 http://ip-info/ >/dev/null; echo "ip-info exit $?"; curl -sS --max-time 20 http://echo/';
  const r = await exec(file, ['sh', '-c', script]);
  assert.equal(r.code, 0, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.match(r.stdout, /^ip-info exit 6$/m, 'curl: could not resolve host (resolved on this machine)');
  assert.match(r.stderr, /Could not resolve host: ip-info/);
  assert.equal(echoPeer(r.stdout), podIp);
});

test('outgoing remote ["echo"]: echo through the pod; ip-info (resolved in the cluster) and a loopback port connect from this machine', async () => {
  const file = config('remote.json', { outgoing: { filter: { remote: ['echo'] } } });
  const script = [
    'import errno, socket, urllib.request',
    'print(urllib.request.urlopen("http://echo/", timeout=20).read().decode().strip())',
    'print(socket.gethostbyname("ip-info"))',
    'try:',
    '    socket.create_connection(("ip-info", 80), timeout=20); print("ip-info connected")',
    'except OSError as e:',
    '    print("ip-info", errno.errorcode.get(e.errno, str(e)))',
    `s = socket.create_connection(("127.0.0.1", ${hostEchoPort}), timeout=20); s.sendall(b"local"); print(s.recv(5).decode())`,
  ].join('\n');
  const r = await exec(file, ['python3', '-c', script]);
  assert.equal(r.code, 0, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.equal(echoPeer(r.stdout), podIp);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[1], /^\d+\.\d+\.\d+\.\d+$/, 'ip-info still resolves in the cluster');
  // This machine has no route to the Service range: the connect left from here, not the pod.
  assert.match(lines[2], /^ip-info (ENETUNREACH|EHOSTUNREACH|ETIMEDOUT|timed out)$/);
  assert.equal(lines[3], 'local');
});

test('dns remote ["echo"]: getent resolves echo in the cluster and ip-info on this machine', async () => {
  const file = config('dns.json', { dns: { filter: { remote: ['echo'] } } });
  const r = await exec(file, ['sh', '-c', 'getent hosts echo; getent hosts ip-info; echo "ip-info exit $?"']);
  assert.equal(r.code, 0, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.match(r.stdout, new RegExp(`^${echoIp.replace(/\./g, '\\.')}\\s+echo`, 'm'));
  assert.match(r.stdout, /^ip-info exit 2$/m);
});

test('a bad entry is a config error naming it and the accepted forms (exit 2), whatever the program', async () => {
  const cases: Array<[string, unknown, string[], RegExp]> = [
    ['bad-out.json', { outgoing: { filter: { local: ['ip-info', 'tcp://[fd00::1'] } } }, ['curl', 'http://echo/'], /outgoing\.filter\.local\[1\] "tcp:\/\/\[fd00::1" is not a valid entry/],
    ['bad-proto.json', { outgoing: { filter: { remote: ['sctp://echo'] } } }, ['python3', '-c', 'print(1)'], /outgoing\.filter\.remote\[0\] "sctp:\/\/echo" is not a valid entry: the protocol "sctp:\/\/"/],
    ['bad-dns.json', { dns: { filter: { local: ['echo:99999'] } } }, ['getent', 'hosts', 'echo'], /dns\.filter\.local\[0\] "echo:99999" is not a valid entry: the port "99999"/],
  ];
  for (const [name, network, argv, message] of cases) {
    const r = await exec(config(name, network), argv);
    assert.equal(r.code, 2, `${argv[0]}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, message);
    assert.match(r.stderr, /hint: entries: .*name\|address\|subnet\/mask\[:port\]/);
    assert.equal(r.stdout, '', `${argv[0]} never ran`);
  }
});

/**
 * The layer's network paths in real programs against the fake proxy: UDP through a relay
 * (sendto/recvfrom and connected), the loopback rule (the program's own listener stays local,
 * another loopback port goes to the pod, ignore_localhost keeps all local), fork children,
 * getent, curl and node. No cluster.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer as createTcpServer, type Server } from 'node:net';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { buildLayer } from '../support/layer-build.ts';
import { startFakeLayerProxy, type FakeLayerProxy, type FakeLayerProxyOptions } from '../support/fake-layer-proxy.ts';
import { LayerFlag } from '../../src/protocol/layer-messages.ts';

const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
let layer: string;
let proxy: FakeLayerProxy;
let echo: Server;
let http: HttpServer;
let udpEcho: UdpSocket;
let echoPort: number;
let options: FakeLayerProxyOptions;

interface Run { code: number | null; stdout: string; stderr: string }

function run(cmd: string, args: string[], env: Record<string, string | undefined>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: env as NodeJS.ProcessEnv, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

const env = (p: FakeLayerProxy): Record<string, string | undefined> => ({
  PATH: process.env.PATH, LANG: 'C', LD_PRELOAD: layer, KUBECTL_MIRRORD_LAYER_SOCKET: p.socketPath,
});

before(async () => {
  layer = buildLayer();
  echo = createTcpServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  echoPort = (echo.address() as { port: number }).port;
  http = createHttpServer((_req, res) => res.end('hello over http\n'));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  udpEcho = createSocket('udp4');
  udpEcho.on('message', (msg, rinfo) => udpEcho.send(Buffer.concat([Buffer.from('echo:'), msg]), rinfo.port, rinfo.address));
  await new Promise<void>((r) => udpEcho.bind(0, '127.0.0.1', () => r()));
  options = {
    files: { '/etc/km-net/token': { kind: 'file', contents: 'tok' } },
    dns: { 'my-service': ['10.1.2.3'], 'web': ['10.1.2.4'] },
    destinations: {
      '10.1.2.3:80': { port: echoPort },
      '10.1.2.4:8080': { port: (http.address() as { port: number }).port },
      '10.1.2.3:53': { udpPort: udpEcho.address().port },
      '10.1.2.9:80': { port: echoPort, delayMs: 3000 },
      'fd00:0:0:0:0:0:0:7:80': { port: echoPort },
    },
    remotePaths: ['^/etc/km-net(/.*)?$'],
    // A pattern regcomp refuses: logged as a warning, never a hang (the LOG goes out while
    // HELLO_OK is being handled).
    notFoundPaths: ['['],
  };
  proxy = await startFakeLayerProxy(options);
});

after(async () => {
  await proxy?.close();
  await new Promise((r) => echo?.close(r));
  await new Promise((r) => http?.close(r));
  udpEcho?.close();
});

test('a pattern the layer cannot compile is a warning in the log, and the program runs', async () => {
  const r = await run('cat', ['/etc/km-net/token'], env(proxy));
  assert.deepEqual(r, { code: 0, stdout: 'tok', stderr: '' });
  assert.ok(proxy.logs.some((l) => l.level === 2 && l.message.includes('not a POSIX extended regex')));
});

test('UDP: sendto/recvfrom and a connected socket go through the relay and report the real peer', async () => {
  const script = `
import socket, json
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(10)
s.sendto(b'one', ('10.1.2.3', 53))
data, src = s.recvfrom(100)
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.settimeout(10)
c.connect(('10.1.2.3', 53)); c.send(b'two')
print(json.dumps({'data': data.decode(), 'src': list(src), 'peer': list(c.getpeername()), 'recv': c.recv(100).decode()}))`;
  const r = await run(python, ['-c', script], env(proxy));
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { data: 'echo:one', src: ['10.1.2.3', 53], peer: ['10.1.2.3', 53], recv: 'echo:two' });
  assert.equal(proxy.relayed.filter((d) => d === 'udp 10.1.2.3:53').length, 2);
});

test('loopback: the program\'s own listener stays local; another loopback port goes to the pod', async () => {
  const script = `
import socket, errno, json
own = socket.socket(); own.bind(('127.0.0.1', 0)); own.listen(1)
c = socket.create_connection(own.getsockname(), timeout=10); a, _ = own.accept()
c.sendall(b'x'); got = a.recv(1).decode()
try:
    socket.create_connection(('127.0.0.1', ${echoPort}), timeout=10); other = 'connected'
except OSError as e:
    other = errno.errorcode[e.errno]
print(json.dumps({'own': got, 'other': other}))`;
  const before = proxy.requests.length;
  const r = await run(python, ['-c', script], env(proxy));
  assert.equal(r.code, 0, r.stderr);
  // The fake pod has nothing on that loopback port, so the pod's answer is a refusal, although
  // a server listens there on this machine.
  assert.deepEqual(JSON.parse(r.stdout), { own: 'x', other: 'ECONNREFUSED' });
  const connects = proxy.requests.slice(before).filter((q) => q.name === 'connect');
  assert.equal(connects.length, 1, 'only the other port asked the proxy');
});

test('ignore_localhost keeps every loopback destination local', async () => {
  const local = await startFakeLayerProxy({ ...options, flags: LayerFlag.outgoingTcp | LayerFlag.outgoingIgnoreLocalhost });
  try {
    const script = `import socket; s = socket.create_connection(('127.0.0.1', ${echoPort}), timeout=10); s.sendall(b'hi'); print(s.recv(2).decode())`;
    const r = await run(python, ['-c', script], env(local));
    assert.deepEqual(r, { code: 0, stdout: 'hi\n', stderr: '' });
    assert.equal(local.requests.filter((q) => q.name === 'connect').length, 0);
  } finally {
    await local.close();
  }
});

test('a fork child has its own connection and working layer state', async () => {
  const script = `
import os, socket, sys
pid = os.fork()
if pid == 0:
    ok = socket.gethostbyname('my-service') == '10.1.2.3' and open('/etc/km-net/token').read() == 'tok'
    s = socket.create_connection(('10.1.2.3', 80), timeout=10); s.sendall(b'f'); ok = ok and s.recv(1) == b'f'
    os._exit(0 if ok else 3)
_, status = os.waitpid(pid, 0)
print(pid, os.waitstatus_to_exitcode(status))`;
  const r = await run(python, ['-c', script], env(proxy));
  assert.equal(r.code, 0, r.stderr);
  const [child, code] = r.stdout.trim().split(' ').map(Number);
  assert.equal(code, 0);
  assert.ok(proxy.hellos.some((h) => h.pid === child), 'the child said HELLO with its own pid');
});

test('getent hosts and getent ahosts resolve through the proxy', async () => {
  const hosts = await run('getent', ['hosts', 'my-service'], env(proxy));
  assert.equal(hosts.code, 0, hosts.stderr);
  assert.match(hosts.stdout, /^10\.1\.2\.3\s+my-service$/m);
  const ahosts = await run('getent', ['ahosts', 'my-service'], env(proxy));
  assert.match(ahosts.stdout, /^10\.1\.2\.3\s+STREAM my-service$/m);
  const missing = await run('getent', ['hosts', 'no-such-service'], env(proxy));
  assert.equal(missing.code, 2);
});

test('curl fetches from a remote name through the relay', async () => {
  const r = await run('curl', ['-s', '--max-time', '20', 'http://web:8080/'], env(proxy));
  assert.deepEqual(r, { code: 0, stdout: 'hello over http\n', stderr: '' });
  assert.ok(proxy.relayed.includes('10.1.2.4:8080'));
});

test('node: http.get by name (non-blocking connect), remoteAddress, and a spawn({ env: {} }) child', async () => {
  const script = `
const http = require('http'); const net = require('net'); const { spawnSync } = require('child_process');
http.get('http://web:8080/', (res) => {
  let body = ''; res.on('data', (d) => body += d); res.on('end', () => {
    const s = net.connect(80, '10.1.2.3', () => {
      const peer = s.remoteAddress + ':' + s.remotePort;
      s.end('n'); s.on('data', (d) => {
        const child = spawnSync('cat', ['/etc/km-net/token'], { env: {} }).stdout.toString();
        console.log(JSON.stringify({ body, peer, echo: d.toString(), child }));
      });
    });
  });
});`;
  const r = await run(process.execPath, ['-e', script], env(proxy));
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { body: 'hello over http\n', peer: '10.1.2.3:80', echo: 'n', child: 'tok' });
});

test('threads share the link: parallel lookups and reads each get their own answer; fork under load does not hang', async () => {
  const script = `
import os, socket, threading, sys
bad = []
# Warm the idna codec first: a fork child that has to import it while another thread holds
# CPython's import lock hangs in CPython itself, with or without the layer.
socket.gethostbyname('my-service')
def work():
    for i in range(100):
        if socket.gethostbyname('web' if i % 2 else 'my-service') != ('10.1.2.4' if i % 2 else '10.1.2.3'): bad.append('dns')
        if open('/etc/km-net/token').read() != 'tok': bad.append('file')
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
codes = []
for _ in range(10):
    pid = os.fork()
    if pid == 0:
        os._exit(0 if socket.gethostbyname('my-service') == '10.1.2.3' else 5)
    codes.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
for t in threads: t.join()
print(len(bad), codes)`;
  const r = await run(python, ['-c', script], env(proxy));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), `0 ${JSON.stringify(Array(10).fill(0)).replaceAll(',', ', ')}`);
});

test('AF_UNIX sockets stay local', async () => {
  const script = `
import socket, os, tempfile
path = os.path.join(tempfile.mkdtemp(), 's')
srv = socket.socket(socket.AF_UNIX); srv.bind(path); srv.listen(1)
c = socket.socket(socket.AF_UNIX); c.connect(path); a, _ = srv.accept()
c.sendall(b'u'); print(a.recv(1).decode())`;
  const before = proxy.requests.length;
  const r = await run(python, ['-c', script], env(proxy));
  assert.deepEqual(r, { code: 0, stdout: 'u\n', stderr: '' });
  assert.equal(proxy.requests.length, before);
});

test('IPv6 sockets: a ::ffff: mapped destination and a real IPv6 one go out, and getpeername says so', async () => {
  const script = `
import socket, json
out = {}
for dest in ['::ffff:10.1.2.3', 'fd00::7']:
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM); s.settimeout(10)
    s.connect((dest, 80)); s.sendall(b'6')
    out[dest] = [s.getpeername()[0], s.recv(1).decode()]
print(json.dumps(out))`;
  const r = await run(python, ['-c', script], env(proxy));
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { '::ffff:10.1.2.3': ['::ffff:10.1.2.3', '6'], 'fd00::7': ['fd00::7', '6'] });
  assert.ok(proxy.relayed.includes('fd00:0:0:0:0:0:0:7:80'));
});

test('a thread waiting for a slow CONNECT holds up no other thread\'s lookups and reads', async () => {
  const script = `
import socket, threading, time, json
done = {}
def slow():
    s = socket.create_connection(('10.1.2.9', 80), timeout=30); s.sendall(b's'); done['slow'] = (s.recv(1).decode(), time.monotonic())
t = threading.Thread(target=slow); t.start()
time.sleep(0.3)
ok = all(socket.gethostbyname('my-service') == '10.1.2.3' and open('/etc/km-net/token').read() == 'tok' for _ in range(50))
fast = time.monotonic()
t.join()
print(json.dumps({'ok': ok, 'slow': done['slow'][0], 'fast_first': fast < done['slow'][1]}))`;
  const r = await run(python, ['-c', script], env(proxy));
  assert.equal(r.code, 0, r.stderr);
  // Ordering, not timing: the 50 lookups and reads finished before the slow connect's answer came.
  assert.deepEqual(JSON.parse(r.stdout), { ok: true, slow: 's', fast_first: true });
});

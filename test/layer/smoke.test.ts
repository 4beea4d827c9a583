/**
 * The layer preloaded into real programs (cat, ls, python3, node), against the fake proxy of
 * test/support/fake-layer-proxy.ts: remote files, ENOENT, a DNS answer, an outgoing connect
 * relayed to a local echo server, and the inert and unreachable cases. No cluster.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { existsSync } from 'node:fs';
import { buildLayer } from '../support/layer-build.ts';
import { startFakeLayerProxy, type FakeLayerProxy } from '../support/fake-layer-proxy.ts';

const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const secret = 'secret-api-key-12345';
let layer: string;
let proxy: FakeLayerProxy;
let echo: Server;

interface Run { code: number | null; stdout: string; stderr: string }

function run(cmd: string, args: string[], env: Record<string, string | undefined>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: env as NodeJS.ProcessEnv, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const baseEnv = (): Record<string, string | undefined> => ({ PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C' });
const layered = (): Record<string, string | undefined> => ({ ...baseEnv(), LD_PRELOAD: layer, KUBECTL_MIRRORD_LAYER_SOCKET: proxy.socketPath });

before(async () => {
  layer = buildLayer();
  echo = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  const echoPort = (echo.address() as { port: number }).port;
  proxy = await startFakeLayerProxy({
    files: {
      '/etc/km-test': { kind: 'dir' },
      '/etc/km-test/..data': { kind: 'link', target: '..2026_12_02' },
      '/etc/km-test/..2026_12_02': { kind: 'dir' },
      '/etc/km-test/..2026_12_02/api-key': { kind: 'file', contents: secret, mode: 0o640, uid: 4242 },
      '/etc/km-test/api-key': { kind: 'link', target: '..data/api-key' },
      '/etc/km-test/big': { kind: 'file', contents: Buffer.alloc(2 * 1024 * 1024, 1) },
    },
    dns: { 'my-service': ['10.1.2.3'], 'v6-service': ['fd00::7'] },
    reverse: { '10.1.2.3': 'my-service.default.svc.cluster.local' },
    destinations: { '10.1.2.3:80': { port: echoPort }, '10.1.2.3:81': 'refused' },
    remotePaths: ['^/etc/km-test(/.*)?$'],
    notFoundPaths: ['^/etc/km-test/hidden$'],
  });
});

after(async () => {
  await proxy?.close();
  await new Promise((r) => echo?.close(r));
});

test('cat reads a remote Secret file through its ..data symlink; the host has no such file', async () => {
  assert.equal(existsSync('/etc/km-test'), false, 'the test needs /etc/km-test to be absent on this machine');
  const r = await run('cat', ['/etc/km-test/api-key'], layered());
  assert.deepEqual(r, { code: 0, stdout: secret, stderr: '' });
});

test('a remote path that does not exist, and a not_found path, are ENOENT', async () => {
  const missing = await run('cat', ['/etc/km-test/nope'], layered());
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /\/etc\/km-test\/nope: No such file or directory/);
  const hidden = await run('cat', ['/etc/km-test/hidden'], layered());
  assert.match(hidden.stderr, /No such file or directory/);
  assert.ok(!proxy.requests.some((q) => JSON.stringify(q.body).includes('hidden')), 'not_found never asks the proxy');
});

test('ls lists a remote directory', async () => {
  const r = await run('ls', ['-a', '/etc/km-test'], layered());
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n').sort(), ['.', '..', '..2026_12_02', '..data', 'api-key', 'big'].sort());
  const long = await run('ls', ['-l', '/etc/km-test/..2026_12_02/api-key'], layered());
  assert.equal(long.code, 0, long.stderr);
  assert.match(long.stdout, /^-rw-r----- 1 4242 4321 20 /);
});

test('python3: stat, open, errno, DNS, a relayed connect with the real peer, a refusal', async () => {
  const script = `
import os, socket, errno, json
out = {}
st = os.stat('/etc/km-test/api-key')
out['stat'] = [oct(st.st_mode), st.st_uid, st.st_size]
out['lstat_is_link'] = os.path.islink('/etc/km-test/api-key')
out['read'] = open('/etc/km-test/api-key').read()
f = open('/etc/km-test/api-key', 'rb'); fst = os.fstat(f.fileno()); out['fstat'] = [fst.st_uid, fst.st_size]
try:
    os.write(f.fileno(), b'x'); out['write'] = 'wrote'
except OSError as e:
    out['write'] = errno.errorcode[e.errno]
f.close()
out['listdir'] = sorted(os.listdir('/etc/km-test'))
for p in ['/etc/km-test/nope', '/etc/km-test/big']:
    try:
        open(p, 'rb').read(); out[p] = 'ok'
    except OSError as e:
        out[p] = errno.errorcode[e.errno]
out['gai'] = sorted({a[4][0] for a in socket.getaddrinfo('my-service', 80)})
out['gai6'] = sorted({a[4][0] for a in socket.getaddrinfo('v6-service', 80, socket.AF_INET6)})
try:
    socket.getaddrinfo('no-such-service', 80); out['gai_missing'] = 'ok'
except socket.gaierror as e:
    out['gai_missing'] = e.errno == socket.EAI_NONAME
out['numeric'] = socket.getaddrinfo('127.0.0.1', 80)[0][4][0]
out['byname'] = socket.gethostbyname('my-service')
out['reverse'] = socket.gethostbyaddr('10.1.2.3')[0]
s = socket.create_connection(('my-service', 80), timeout=10)
out['peer'] = list(s.getpeername())
s.sendall(b'ping'); out['echo'] = s.recv(16).decode(); s.close()
try:
    socket.create_connection(('10.1.2.3', 81), timeout=10); out['refused'] = 'connected'
except OSError as e:
    out['refused'] = errno.errorcode[e.errno]
print(json.dumps(out))
`;
  const r = await run(python, ['-c', script], layered());
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out.stat, ['0o100640', 4242, 20]);
  assert.equal(out.lstat_is_link, true);
  assert.equal(out.read, secret);
  assert.deepEqual(out.fstat, [4242, 20]);
  assert.equal(out.write, 'EBADF', 'a remote file is read-only as opened');
  assert.deepEqual(out.listdir, ['..2026_12_02', '..data', 'api-key', 'big']);
  assert.equal(out['/etc/km-test/nope'], 'ENOENT');
  assert.equal(out['/etc/km-test/big'], 'EFBIG');
  assert.deepEqual(out.gai, ['10.1.2.3']);
  assert.deepEqual(out.gai6, ['fd00::7']);
  assert.equal(out.gai_missing, true);
  assert.equal(out.numeric, '127.0.0.1');
  assert.equal(out.byname, '10.1.2.3');
  assert.equal(out.reverse, 'my-service.default.svc.cluster.local');
  assert.deepEqual(out.peer, ['10.1.2.3', 80]);
  assert.equal(out.echo, 'ping');
  assert.equal(out.refused, 'ECONNREFUSED');
  assert.ok(proxy.relayed.includes('10.1.2.3:80'));
  assert.ok(proxy.logs.some((l) => l.level === 2 && l.message.includes('/etc/km-test/big')), 'EFBIG sends one warning');
  assert.ok(!proxy.requests.some((q) => q.name === 'getaddrinfo' && JSON.stringify(q.body).includes('127.0.0.1')), 'numeric hosts stay local');
});

test('node: readFileSync, statSync (statx through syscall()), readdirSync', async () => {
  const script = `
const fs = require('fs');
console.log(JSON.stringify({
  read: fs.readFileSync('/etc/km-test/api-key', 'utf8'),
  stat: [fs.statSync('/etc/km-test/api-key').size, fs.statSync('/etc/km-test/api-key').uid, fs.statSync('/etc/km-test').isDirectory()],
  dir: fs.readdirSync('/etc/km-test').sort(),
  missing: (() => { try { fs.statSync('/etc/km-test/nope'); return 'found'; } catch (e) { return e.code; } })(),
}));`;
  const r = await run(process.execPath, ['-e', script], layered());
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    read: secret, stat: [20, 4242, true], dir: ['..2026_12_02', '..data', 'api-key', 'big'], missing: 'ENOENT',
  });
});

test('a child started with an empty environment still loads the layer and connects', async () => {
  const before = proxy.hellos.length;
  const script = `import subprocess; print(subprocess.run(['/bin/cat', '/etc/km-test/api-key'], env={}, capture_output=True).stdout.decode())`;
  const r = await run(python, ['-c', script], layered());
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), secret);
  assert.ok(proxy.hellos.slice(before).some((h) => h.exe === '/usr/bin/cat' || h.exe.endsWith('/cat')), 'cat said HELLO');
});

test('without the socket variable the layer is inert and silent', async () => {
  const requests = proxy.requests.length;
  const r = await run(python, ['-c', 'import socket; print(socket.getaddrinfo("localhost", 1)[0][4][0])'], { ...baseEnv(), LD_PRELOAD: layer });
  assert.deepEqual(r, { code: 0, stdout: '127.0.0.1\n', stderr: '' });
  const cat = await run('cat', ['/etc/km-test/api-key'], { ...baseEnv(), LD_PRELOAD: layer });
  assert.equal(cat.code, 1);
  assert.equal(proxy.requests.length, requests);
});

test('with the variable set but no proxy: stdout clean, one stderr line, remote calls fail', async () => {
  const script = `
import socket, errno
try:
    socket.getaddrinfo('my-service', 80); print('resolved')
except socket.gaierror as e:
    print('EAI_AGAIN' if e.errno == socket.EAI_AGAIN else e.errno)
try:
    socket.create_connection(('10.1.2.3', 80), timeout=5); print('connected')
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))
print(socket.getaddrinfo('127.0.0.1', 1)[0][4][0])`;
  const r = await run(python, ['-c', script], { ...baseEnv(), LD_PRELOAD: layer, KUBECTL_MIRRORD_LAYER_SOCKET: '/nonexistent/proxy.sock' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'EAI_AGAIN\nECONNREFUSED\n127.0.0.1\n');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^kubectl-mirrord: cannot reach the exec proxy at \/nonexistent\/proxy\.sock/);
});

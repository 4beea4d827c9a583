/**
 * The layer in processes and fds, against the fake proxy: exec with an envp that lacks the
 * control variables, system() after the program removed them, the skip flag, the link's fd
 * (>= 100, close-on-exec, kept through closerange), *at calls relative to a remote directory
 * fd, and getnameinfo. No cluster.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { buildLayer, repoRoot } from '../support/layer-build.ts';
import { startFakeLayerProxy, type FakeLayerProxy, type FakeLayerProxyOptions } from '../support/fake-layer-proxy.ts';
import { LayerFlag } from '../../src/protocol/layer-messages.ts';

const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
let layer: string;
let proxy: FakeLayerProxy;
const bigDir: Record<string, { kind: 'file'; contents: string }> = {};
for (let i = 0; i < 100_000; i++) bigDir[`/etc/km-proc/big/f${i}`] = { kind: 'file', contents: '' };
const options: FakeLayerProxyOptions = {
  files: {
    '/etc/km-proc/big': { kind: 'dir' },
    ...bigDir,
    '/etc/km-proc': { kind: 'dir' },
    '/etc/km-proc/token': { kind: 'file', contents: 'tok' },
    '/etc/km-proc/sub': { kind: 'dir' },
    '/etc/km-proc/sub/inner': { kind: 'file', contents: 'inner' },
    '/etc/km-proc/link': { kind: 'link', target: 'sub/inner' },
  },
  dns: { 'my-service': ['10.1.2.3'] },
  reverse: { '10.1.2.3': 'my-service.default.svc.cluster.local' },
  remotePaths: ['^/etc/km-proc(/.*)?$'],
};

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
  proxy = await startFakeLayerProxy(options);
});

after(async () => {
  await proxy?.close();
});

test('execve with an empty envp, execv, and system() after unsetenv all start children with the layer', async () => {
  const script = `
import os, sys
mode = sys.argv[1]
if mode == 'execve':
    os.execve('/bin/cat', ['cat', '/etc/km-proc/token'], {})
if mode == 'execv':
    os.execv('/bin/cat', ['cat', '/etc/km-proc/token'])
if mode == 'system':
    for k in ('LD_PRELOAD', 'KUBECTL_MIRRORD_LAYER_SOCKET'):
        os.unsetenv(k); os.environ.pop(k, None)
    sys.exit(os.waitstatus_to_exitcode(os.system('cat /etc/km-proc/token')))`;
  for (const mode of ['execve', 'execv', 'system']) {
    const r = await run(python, ['-c', script, mode], env(proxy));
    assert.deepEqual(r, { code: 0, stdout: 'tok', stderr: '' }, mode);
  }
});

test('the skip flag passes everything through, and the process still says HELLO', async () => {
  const skipped = await startFakeLayerProxy({ ...options, flags: LayerFlag.remoteFs | LayerFlag.skip });
  try {
    const r = await run('cat', ['/etc/km-proc/token'], env(skipped));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /No such file or directory/);
    assert.equal(skipped.hellos.length, 1);
    assert.equal(skipped.requests.length, 0);
  } finally {
    await skipped.close();
  }
});

test('the link is one socket fd >= 100, close-on-exec, and survives closerange', async () => {
  const script = `
import os, fcntl, json
def links():
    out = []
    for name in os.listdir('/proc/self/fd'):
        try:
            if int(name) > 2 and os.readlink('/proc/self/fd/' + name).startswith('socket:'): out.append(int(name))
        except OSError: pass
    return out
before = links()
cloexec = all(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC for fd in before)
os.closerange(3, 4096)
print(json.dumps({'fds': before, 'cloexec': cloexec, 'after': open('/etc/km-proc/token').read()}))`;
  const r = await run(python, ['-c', script], env(proxy));
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.fds.length, 1, `one link socket: ${r.stdout}`);
  assert.ok(out.fds[0] >= 100, `fd ${out.fds[0]}`);
  assert.equal(out.cloexec, true);
  assert.equal(out.after, 'tok');
});

test('*at calls relative to a remote directory fd, fdopendir, and fstat of that fd', async () => {
  const script = `
import os, stat, json
d = os.open('/etc/km-proc', os.O_RDONLY | os.O_DIRECTORY)
out = {
  'isdir': stat.S_ISDIR(os.fstat(d).st_mode),
  'stat': os.stat('sub/inner', dir_fd=d).st_size,
  'read': open('sub/inner', opener=lambda p, f: os.open(p, f, dir_fd=d)).read(),
  'list': sorted(os.listdir(d)),
  'missing': os.path.exists('/etc/km-proc/sub/nope'),
}
sub = os.open('sub', os.O_RDONLY | os.O_DIRECTORY, dir_fd=d)
out['nested'] = open('inner', opener=lambda p, f: os.open(p, f, dir_fd=sub)).read()
try:
    os.open('/etc/km-proc/token', os.O_RDONLY | os.O_DIRECTORY); out['notdir'] = 'opened'
except NotADirectoryError:
    out['notdir'] = 'ENOTDIR'
print(json.dumps(out))`;
  const r = await run(python, ['-c', script], env(proxy));
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    isdir: true, stat: 5, read: 'inner', list: ['big', 'link', 'sub', 'token'], missing: false, nested: 'inner', notdir: 'ENOTDIR',
  });
});

test('getnameinfo reverse-resolves through the proxy; numeric and loopback stay local', async () => {
  const script = `
import socket, json
print(json.dumps({
  'nameinfo': socket.getnameinfo(('10.1.2.3', 80), 0),
  'numeric': socket.getnameinfo(('10.1.2.3', 80), socket.NI_NUMERICHOST),
  'unknown': socket.getnameinfo(('10.9.9.9', 80), 0)[0],
  'loopback': socket.getnameinfo(('127.0.0.1', 80), socket.NI_NUMERICSERV)[1],
  'byname_ex': socket.gethostbyname_ex('my-service'),
}))`;
  const before = proxy.requests.length;
  const r = await run(python, ['-c', script], env(proxy));
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    nameinfo: ['my-service.default.svc.cluster.local', 'http'], numeric: ['10.1.2.3', 'http'], unknown: '10.9.9.9', loopback: '80',
    byname_ex: ['my-service', [], ['10.1.2.3']],
  });
  const reverse = proxy.requests.slice(before).filter((q) => q.name === 'getnameinfo');
  assert.equal(reverse.length, 2, 'the numeric and loopback ones stayed local');
});

test('a path of 4 KiB or more is ENAMETOOLONG; a directory of 100,000 entries lists', async () => {
  const script = `
import os, errno, json
out = {}
for n in (4096, 5000, 70000):
    try:
        open('/etc/km-proc/' + 'a' * n); out[n] = 'opened'
    except OSError as e:
        out[n] = errno.errorcode[e.errno]
out['big'] = len(os.listdir('/etc/km-proc/big'))
print(json.dumps(out))`;
  const r = await run(python, ['-c', script], env(proxy));
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { 4096: 'ENAMETOOLONG', 5000: 'ENAMETOOLONG', 70000: 'ENAMETOOLONG', big: 100_000 });
  const ls = await run('sh', ['-c', 'ls /etc/km-proc/big | wc -l'], env(proxy));
  assert.equal(ls.stdout.trim(), '100000');
});

test('every stat ABI sees the remote file: __xstat family, statx, fstat of the fd, raw syscalls through syscall()', async () => {
  buildLayer('probe');
  const r = await run(`${repoRoot}build/layer/tests/stat_probe`, ['/etc/km-proc/token'], env(proxy));
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), [
    '__xstat 3 1234', '__lxstat 3 1234', 'statx 3 1234', 'syscall(statx) 3 1234', 'syscall(newfstatat) 3 1234',
    'syscall(openat) 0 0', '__fxstat 3 1234', 'statx(fd) 3 1234', 'read 3 0',
    'fopen tok', 'freopen tok', 'realpath /etc/km-proc/token',
  ]);
  // realpath follows remote symlinks (as a Secret volume's ..data links are).
  const linked = await run(`${repoRoot}build/layer/tests/stat_probe`, ['/etc/km-proc/link'], env(proxy));
  assert.match(linked.stdout, /^realpath \/etc\/km-proc\/sub\/inner$/m);
  assert.match(linked.stdout, /^fopen inner$/m);
  const missing = await run(`${repoRoot}build/layer/tests/stat_probe`, ['/etc/km-proc/nope'], env(proxy));
  assert.match(missing.stdout, /^__xstat ENOENT$/m);
  assert.match(missing.stdout, /^syscall\(openat\) ENOENT$/m);
  assert.match(missing.stdout, /^fopen ENOENT$/m);
  assert.match(missing.stdout, /^realpath ENOENT$/m);
});

test('on arm64 (qemu-aarch64-static), the cross-built layer serves the same probe', async () => {
  buildLayer('probe-arm64');
  const so = `${repoRoot}build/layer/aarch64/libkubectl_mirrord_layer.so`;
  const r = await run('qemu-aarch64-static', [
    '-L', '/usr/aarch64-linux-gnu', '-E', `LD_PRELOAD=${so}`, '-E', `KUBECTL_MIRRORD_LAYER_SOCKET=${proxy.socketPath}`,
    `${repoRoot}build/layer/aarch64/tests/stat_probe`, '/etc/km-proc/token',
  ], { PATH: process.env.PATH });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), [
    '__xstat 3 1234', '__lxstat 3 1234', 'statx 3 1234', 'syscall(statx) 3 1234', 'syscall(newfstatat) 3 1234',
    'syscall(openat) 0 0', '__fxstat 3 1234', 'statx(fd) 3 1234', 'read 3 0',
    'fopen tok', 'freopen tok', 'realpath /etc/km-proc/token',
  ]);
});

test('when the proxy goes away, remote paths fail with EIO (never the local file), lookups EAI_AGAIN, one stderr line', async () => {
  const dropping = await startFakeLayerProxy({ ...options, remotePaths: ['^/etc(/.*)?$'], dropAfterHello: true });
  try {
    const script = `
import socket, errno
for p in ['/etc/hostname', '/etc/hostname']:
    try:
        open(p).read(); print('read the local file')
    except OSError as e:
        print(errno.errorcode[e.errno])
try:
    socket.getaddrinfo('my-service', 80); print('resolved')
except socket.gaierror as e:
    print('EAI_AGAIN' if e.errno == socket.EAI_AGAIN else e.errno)`;
    const r = await run(python, ['-c', script], env(dropping));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'EIO\nEIO\nEAI_AGAIN\n');
    assert.match(r.stderr, /^kubectl-mirrord: lost the link to the exec proxy .*\n$/);
  } finally {
    await dropping.close();
  }
});

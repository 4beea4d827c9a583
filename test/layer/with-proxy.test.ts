/**
 * The layer against the real proxy side (src/exec/layer-server.ts, its TCP interceptor and UDP
 * relays) and the real agent (agent/server.ts) on 127.0.0.1, with no cluster. The "target" is a
 * process in a mount namespace of its own with a tmpfs holding a Secret-like volume written as
 * kubelet's AtomicWriter does (..data symlinks): this machine sees an empty directory at the same
 * path, so a file that arrives can only have come through the agent.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect as tcpConnect, type Server } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { AgentServer } from '../../agent/server.ts';
import { silentLog } from '../../agent/log.ts';
import { TargetProcess } from '../../agent/target-process.ts';
import { Session } from '../../src/session/session.ts';
import { LayerServer } from '../../src/exec/layer-server.ts';
import { TcpInterceptor } from '../../src/exec/tcp-interceptor.ts';
import { FileStreams } from '../../src/exec/file-streams.ts';
import { planExecFeatures } from '../../src/exec/exec-plan.ts';
import { buildLayer } from '../support/layer-build.ts';

const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const secret = 'secret-api-key-12345';
const isRoot = process.getuid?.() === 0;

let dir: string;
let mount: string;
let target: ChildProcess;
let agent: AgentServer;
let sessions: Session[] = [];
let server: LayerServer;
let interceptor: TcpInterceptor;
let echo: Server;
let layer: string;
const logs: string[] = [];

interface Run { code: number | null; stdout: string; stderr: string }

function run(cmd: string, args: string[]): Promise<Run> {
  const env = { PATH: process.env.PATH, LANG: 'C', LD_PRELOAD: layer, KUBECTL_MIRRORD_LAYER_SOCKET: join(dir, 'proxy.sock') };
  return new Promise((resolve) => {
    execFile(cmd, args, { env, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

before(async () => {
  if (!isRoot) return;
  layer = buildLayer();
  dir = mkdtempSync(join(tmpdir(), 'km-layer-proxy-'));
  mount = join(dir, 'volume');
  const volume = [
    `mkdir -p ${mount}`,
    `mount -t tmpfs tmpfs ${mount}`,
    `mkdir ${mount}/..2026_12_02_01_02_03.1`,
    `printf ${secret} > ${mount}/..2026_12_02_01_02_03.1/api-key`,
    `ln -s ..2026_12_02_01_02_03.1 ${mount}/..data`,
    `ln -s ..data/api-key ${mount}/api-key`,
    'echo ready',
    'exec sleep 600',
  ].join(' && ');
  target = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', volume], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(target.stdout!, 'data');

  const token = randomBytes(32);
  agent = new AgentServer({
    host: '127.0.0.1', port: 0, tokenSha256: createHash('sha256').update(token).digest(), idleTimeoutMs: 1_000,
    log: silentLog, onIdle: () => {}, target: new TargetProcess({ pid: target.pid }),
  });
  const { port } = await agent.listen();
  const files = new FileStreams();
  let current: Promise<Session> | undefined;
  const source = {
    session: () => (current ??= (async () => {
      const socket = tcpConnect(port, '127.0.0.1');
      await once(socket, 'connect');
      const session = await Session.connect(socket, { token });
      files.attach(session);
      sessions.push(session);
      return session;
    })()),
  };
  interceptor = await TcpInterceptor.listen((l) => logs.push(l));
  const features = planExecFeatures({}, undefined, true);
  server = await LayerServer.listen(join(dir, 'proxy.sock'), {
    source, files, interceptor, maxFileBytes: features.fs.maxFileBytes,
    log: (l) => logs.push(l), warnOnce: (l) => logs.push(`warn ${l}`),
  }, { features, mounts: [mount] });
  echo = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
});

after(async () => {
  if (!isRoot) return;
  await server?.close();
  await interceptor?.close();
  for (const s of sessions) s.destroy();
  sessions = [];
  await agent?.close();
  echo?.close();
  target?.kill();
  if (target) await once(target, 'exit').catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

const skip = isRoot ? false : 'needs root: the target is a process in its own mount namespace';

test('cat and ls see the volume that exists only inside the target, through its ..data symlinks', { skip }, async () => {
  assert.deepEqual(readdirSync(mount), [], 'this machine sees the mount point empty');
  const cat = await run('cat', [`${mount}/api-key`]);
  assert.deepEqual(cat, { code: 0, stdout: secret, stderr: '' }, logs.join('\n'));
  const ls = await run('ls', [mount]);
  assert.deepEqual(ls, { code: 0, stdout: 'api-key\n', stderr: '' }, logs.join('\n'));
  const missing = await run('cat', [`${mount}/nope`]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /No such file or directory/);
});

test('python3 and node read and stat the file; a connect to the pod\'s loopback goes through the agent', { skip }, async () => {
  const port = (echo.address() as { port: number }).port;
  const py = await run(python, ['-c', `
import os, socket
st = os.stat('${mount}/api-key')
s = socket.create_connection(('127.0.0.1', ${port}), timeout=10); s.sendall(b'hi')
print(open('${mount}/api-key').read(), st.st_size, s.recv(2).decode(), s.getpeername()[1])`]);
  assert.deepEqual(py, { code: 0, stdout: `${secret} 20 hi ${port}\n`, stderr: '' }, logs.join('\n'));
  const node = await run(process.execPath, ['-e', `
const fs = require('fs');
console.log(fs.readFileSync('${mount}/api-key', 'utf8'), fs.statSync('${mount}/api-key').size, fs.readdirSync('${mount}').join(','))`]);
  assert.deepEqual(node, { code: 0, stdout: `${secret} 20 ..2026_12_02_01_02_03.1,..data,api-key\n`, stderr: '' }, logs.join('\n'));
});

test('UDP to the pod\'s loopback goes through the proxy\'s relay and the agent, and answers come from the real peer', { skip }, async () => {
  const { createSocket } = await import('node:dgram');
  const udp = createSocket('udp4');
  udp.on('message', (m, from) => udp.send(Buffer.concat([Buffer.from('re:'), m]), from.port, from.address));
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  try {
    const port = udp.address().port;
    const py = await run(python, ['-c', `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(10)
s.sendto(b'q', ('127.0.0.1', ${port}))
data, src = s.recvfrom(64)
print(data.decode(), src[1])`]);
    assert.deepEqual(py, { code: 0, stdout: `re:q ${port}\n`, stderr: '' }, logs.join('\n'));
  } finally {
    udp.close();
  }
});

test('getent resolves through the agent\'s lookup', { skip }, async () => {
  const r = await run('getent', ['ahosts', 'localhost']);
  assert.equal(r.code, 0, `${r.stderr}\n${logs.join('\n')}`);
  assert.match(r.stdout, /^(127\.0\.0\.1|::1)\s+STREAM localhost$/m);
});

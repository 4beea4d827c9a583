/**
 * The outgoing and DNS filters in real programs (python3, curl, getent) under the layer, against
 * the fake proxy: what the filter keeps on this machine never reaches the proxy (no GETADDRINFO,
 * no CONNECT), and what it sends through the pod does. The fake pod's DNS answers `db` with
 * 127.0.0.1, so a connect to it that stays local reaches this machine's echo server, while one
 * through the pod is refused (the fake pod has nothing there). No cluster.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer as createTcpServer, type Server } from 'node:net';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { existsSync } from 'node:fs';
import { buildLayer } from '../support/layer-build.ts';
import { startFakeLayerProxy, type FakeLayerProxy, type FakeLayerProxyOptions } from '../support/fake-layer-proxy.ts';
import { checkConfig } from '../../src/config/config-schema.ts';
import type { TrafficFilter } from '../../src/config/traffic-filter.ts';

const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
let layer: string;
let echo: Server;
let http: HttpServer;
let echoPort: number;
let base: FakeLayerProxyOptions;

interface Run { code: number | null; stdout: string; stderr: string }

function run(cmd: string, args: string[], p: FakeLayerProxy): Promise<Run> {
  const env = { PATH: process.env.PATH, LANG: 'C', LD_PRELOAD: layer, KUBECTL_MIRRORD_LAYER_SOCKET: p.socketPath };
  return new Promise((resolve) => {
    execFile(cmd, args, { env, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

/** The filters exactly as the config check makes them from a mirrord-style file. */
function filters(network: Record<string, unknown>): { outgoingFilter?: TrafficFilter; dnsFilter?: TrafficFilter } {
  const exec = checkConfig({ feature: { network } }, 'm.json').exec;
  return { outgoingFilter: exec.outgoing?.filter, dnsFilter: exec.dnsFilter };
}

async function withProxy(extra: FakeLayerProxyOptions, body: (p: FakeLayerProxy) => Promise<void>): Promise<void> {
  const p = await startFakeLayerProxy({ ...base, ...extra });
  try {
    await body(p);
  } finally {
    await p.close();
  }
}

const lookups = (p: FakeLayerProxy): string[] => p.requests.filter((q) => q.name === 'getaddrinfo').map((q) => (q.body as { host: string }).host);
const connects = (p: FakeLayerProxy): number => p.requests.filter((q) => q.name === 'connect').length;

before(async () => {
  layer = buildLayer();
  echo = createTcpServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  echoPort = (echo.address() as { port: number }).port;
  http = createHttpServer((_req, res) => res.end('hello over http\n'));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  base = {
    dns: { 'my-service': ['10.1.2.3'], 'web': ['10.1.2.4'], 'db': ['127.0.0.1'] },
    destinations: { '10.1.2.4:8080': { port: (http.address() as { port: number }).port } },
  };
});

after(async () => {
  await new Promise((r) => echo?.close(r));
  await new Promise((r) => http?.close(r));
});

// Connects to (host, port) and echoes a byte: "echoed", or the errno's name.
const probe = (host: string, port: number) => `
import socket, errno
try:
    s = socket.create_connection((${JSON.stringify(host)}, ${port}), timeout=10); s.sendall(b'x')
    print('echoed' if s.recv(1) == b'x' else 'wrong')
except socket.gaierror as e:
    print('gaierror')
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e)))`;

test('outgoing local ["my-service"]: its lookup and connect stay on this machine (where the name does not exist); web still goes through the pod', async () => {
  await withProxy(filters({ outgoing: { filter: { local: ['my-service'] } } }), async (p) => {
    const r = await run(python, ['-c', probe('my-service', 80)], p);
    assert.deepEqual(r, { code: 0, stdout: 'gaierror\n', stderr: '' });
    const curl = await run('curl', ['-sS', '--max-time', '20', 'http://my-service/'], p);
    assert.equal(curl.code, 6, `curl: could not resolve host\n${curl.stderr}`);
    assert.ok(!lookups(p).includes('my-service'), `no lookup of my-service reached the proxy: ${lookups(p)}`);
    const web = await run('curl', ['-sS', '--max-time', '20', 'http://web:8080/'], p);
    assert.deepEqual(web, { code: 0, stdout: 'hello over http\n', stderr: '' });
    assert.ok(p.relayed.includes('10.1.2.4:8080'));
  });
});

test('outgoing local by subnet: a loopback destination that would go to the pod stays here', async () => {
  await withProxy({}, async (p) => {
    // Without a filter, the loopback rule sends it to the pod, which has nothing there.
    const r = await run(python, ['-c', probe('127.0.0.1', echoPort)], p);
    assert.deepEqual(r, { code: 0, stdout: 'ECONNREFUSED\n', stderr: '' });
  });
  await withProxy(filters({ outgoing: { filter: { local: ['tcp://127.0.0.0/8'] } } }), async (p) => {
    const r = await run(python, ['-c', probe('127.0.0.1', echoPort)], p);
    assert.deepEqual(r, { code: 0, stdout: 'echoed\n', stderr: '' });
    assert.equal(connects(p), 0);
  });
});

test('outgoing remote ["web:8080"]: only web goes through the pod; db (resolved in the cluster) is connected here', async () => {
  await withProxy(filters({ outgoing: { filter: { remote: ['web:8080'] } } }), async (p) => {
    const web = await run('curl', ['-sS', '--max-time', '20', 'http://web:8080/'], p);
    assert.deepEqual(web, { code: 0, stdout: 'hello over http\n', stderr: '' });
    const db = await run(python, ['-c', probe('db', echoPort)], p);
    assert.deepEqual(db, { code: 0, stdout: 'echoed\n', stderr: '' });
    assert.ok(lookups(p).includes('db'), 'db still resolves in the cluster');
    assert.equal(connects(p), 1, 'only web asked the proxy for a connect');
  });
});

test('outgoing remote by name, resolved with gethostbyname_ex (gethostbyname_r): the name is remembered from that path too', async () => {
  await withProxy(filters({ outgoing: { filter: { remote: ['tcp://db'] } } }), async (p) => {
    const script = `import socket; ip = socket.gethostbyname_ex('db')[2][0]; s = socket.socket(); s.settimeout(10)
try:
    s.connect((ip, ${echoPort})); print('connected')
except OSError as e:
    print(e.errno)`;
    const r = await run(python, ['-c', script], p);
    // Through the pod, whose loopback has nothing on that port: refused, not this machine's echo.
    assert.deepEqual(r, { code: 0, stdout: '111\n', stderr: '' });
    assert.equal(connects(p), 1);
  });
});

test('dns remote ["web"]: web resolves in the cluster, other names on this machine (getent)', async () => {
  await withProxy(filters({ dns: { filter: { remote: ['web'] } } }), async (p) => {
    const web = await run('getent', ['hosts', 'web'], p);
    assert.equal(web.code, 0, web.stderr);
    assert.match(web.stdout, /^10\.1\.2\.4\s+web$/m);
    const other = await run('getent', ['hosts', 'my-service'], p);
    assert.equal(other.code, 2, 'my-service does not exist on this machine');
    const local = await run('getent', ['ahosts', 'localhost'], p);
    assert.match(local.stdout, /^(127\.0\.0\.1|::1)\s+STREAM localhost$/m, 'this machine\'s /etc/hosts answered');
    assert.ok(lookups(p).includes('web') && lookups(p).every((h) => h === 'web'), `only web reached the proxy: ${lookups(p)}`);
  });
});

test('dns local ["my-service"]: my-service resolves on this machine, others in the cluster', async () => {
  await withProxy(filters({ dns: { filter: { local: ['my-service'] } } }), async (p) => {
    const mine = await run('getent', ['hosts', 'my-service'], p);
    assert.equal(mine.code, 2);
    const web = await run('getent', ['hosts', 'web'], p);
    assert.match(web.stdout, /^10\.1\.2\.4\s+web$/m);
    assert.ok(lookups(p).includes('web') && lookups(p).every((h) => h === 'web'), `only web reached the proxy: ${lookups(p)}`);
  });
});

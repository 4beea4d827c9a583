import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import { once } from 'node:events';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify, stripVTControlCharacters } from 'node:util';
import { connectionLogger } from '../ui/connection-log.ts';
import { startTestAgent } from '../../test/support/test-agent.ts';
import type { TestAgent } from '../../test/support/test-agent.ts';
import type { ConnectionEvent } from '../forward/connection-events.ts';
import { credentialsChecker, SocksServer, type SocksServerOptions } from './socks-server.ts';
import { replyForErrorCode, SocksReply } from './reply-codes.ts';
import type { SocksCredentials } from './socks-spec.ts';

const run = promisify(execFile);

async function setup(t: { after(fn: () => Promise<void>): void }, credentials?: SocksCredentials, options: SocksServerOptions = {}) {
  const agent: TestAgent = await startTestAgent();
  const events: ConnectionEvent[] = [];
  const socks = await SocksServer.bind({ address: '127.0.0.1', port: 0, text: '0' }, credentials, agent.source, (e) => events.push(e), options);
  const web = http.createServer((req, res) => res.end(`hello from ${req.url}`));
  web.listen(0, '::'); // dual-stack: reachable as 127.0.0.1 and ::1
  await once(web, 'listening');
  t.after(async () => {
    await socks.close();
    web.close();
    await agent.close();
  });
  return { agent, socks, events, webPort: (web.address() as AddressInfo).port };
}

/** Sends raw bytes and collects what comes back until the server closes or `bytes` arrived. */
async function exchange(port: number, steps: Buffer[], bytes: number): Promise<Buffer> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  const chunks: Buffer[] = [];
  let got = 0;
  const done = new Promise<void>((resolve) => {
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= bytes) resolve();
    });
    socket.on('close', () => resolve());
  });
  for (const step of steps) socket.write(step);
  await done;
  socket.destroy();
  return Buffer.concat(chunks);
}

function connectRequest(host: string, port: number): Buffer {
  const name = Buffer.from(host);
  const p = Buffer.alloc(2);
  p.writeUInt16BE(port);
  return Buffer.concat([Buffer.from([0x05, 0x01, 0x00, 0x03, name.length]), name, p]);
}

test('reply codes for stream failures', () => {
  assert.equal(replyForErrorCode('ECONNREFUSED'), 0x05);
  assert.equal(replyForErrorCode('EHOSTUNREACH'), 0x04);
  assert.equal(replyForErrorCode('ENETUNREACH'), 0x03);
  assert.equal(replyForErrorCode('ENOTFOUND'), 0x04);
  assert.equal(replyForErrorCode('ETIMEDOUT'), 0x06);
  assert.equal(replyForErrorCode('EACCES'), 0x02);
  assert.equal(replyForErrorCode('EAFNOSUPPORT'), 0x08);
  assert.equal(replyForErrorCode('ECONNRESET'), 0x01);
  assert.equal(replyForErrorCode(undefined), 0x01);
});

test('curl through the SOCKS server: hostname, IPv4 and IPv6 destinations', async (t) => {
  const { socks, events, webPort, agent } = await setup(t);
  for (const url of [`http://localhost:${webPort}/a`, `http://127.0.0.1:${webPort}/b`, `http://[::1]:${webPort}/c`]) {
    const { stdout } = await run('curl', ['-sS', '--max-time', '10', '--socks5-hostname', `127.0.0.1:${socks.port}`, url]);
    assert.equal(stdout, `hello from /${url.split('/').pop()}`);
  }
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(events.map((e) => e.destination), [`localhost:${webPort}`, `127.0.0.1:${webPort}`, `[::1]:${webPort}`]);
  assert.equal(agent.sessions.length, 1);
});

test('a refused destination gets reply 0x05, an unresolvable name 0x04, both as full replies', async (t) => {
  const { socks } = await setup(t);
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const dead = (probe.address() as AddressInfo).port;
  probe.close();
  const refused = await exchange(socks.port, [Buffer.from([5, 1, 0]), connectRequest('127.0.0.1', dead)], 12);
  assert.deepEqual([...refused], [5, 0, 5, SocksReply.connectionRefused, 0, 1, 0, 0, 0, 0, 0, 0]);
  const unknown = await exchange(socks.port, [Buffer.from([5, 1, 0]), connectRequest('no-such-host.invalid', 80)], 12);
  assert.deepEqual([...unknown], [5, 0, 5, SocksReply.hostUnreachable, 0, 1, 0, 0, 0, 0, 0, 0]);
  const { stderr } = await run('curl', ['-sS', '--max-time', '10', '--socks5-hostname', `127.0.0.1:${socks.port}`, 'http://no-such-host.invalid/']).catch((e) => e);
  assert.match(stderr, /SOCKS5 connection to no-such-host.invalid. \(4\)/);
});

test('BIND is answered "command not supported"', async (t) => {
  const { socks } = await setup(t);
  const bind = await exchange(socks.port, [Buffer.from([5, 1, 0, 5, 2, 0, 1, 127, 0, 0, 1, 0, 80])], 12);
  assert.deepEqual([...bind.subarray(0, 4)], [5, 0, 5, SocksReply.commandNotSupported]);
});

test('with credentials: the right user gets through, a wrong one or no auth does not', async (t) => {
  const { socks, webPort } = await setup(t, { username: 'alice', password: 'pa:ss' });
  const { stdout } = await run('curl', ['-sS', '--max-time', '10', '--proxy', `socks5h://alice:pa%3Ass@127.0.0.1:${socks.port}`, `http://localhost:${webPort}/ok`]);
  assert.equal(stdout, 'hello from /ok');
  const wrong = await run('curl', ['-sS', '--max-time', '10', '--proxy', `socks5h://alice:nope@127.0.0.1:${socks.port}`, `http://localhost:${webPort}/`]).catch((e) => e);
  assert.notEqual(wrong.code, 0);
  const noAuth = await exchange(socks.port, [Buffer.from([5, 1, 0])], 2);
  assert.deepEqual([...noAuth], [5, 0xff]);
});

/** Debian's interpreter, where python3-socks is installed (another python3 may be first in PATH). */
const PYTHON = '/usr/bin/python3';
const PYSOCKS_GET = `
import socks, sys
s = socks.socksocket()
user, password = sys.argv[3].split(':', 1) if len(sys.argv) > 3 else (None, None)
s.set_proxy(socks.SOCKS5, '127.0.0.1', int(sys.argv[1]), rdns=True, username=user, password=password)
s.settimeout(10)
try:
    s.connect(('localhost', int(sys.argv[2])))
except socks.ProxyError as e:
    print('refused:', e.msg)
    sys.exit(3)
s.sendall(b'GET /py HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n')
data = b''
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print(data.split(b'\\r\\n\\r\\n', 1)[1].decode())
`;

test('credentials are checked whole: user and password, any length, multi-byte', () => {
  const check = credentialsChecker({ username: 'alice', password: 'pa:ss' });
  assert.equal(check('alice', 'pa:ss'), true);
  for (const [user, password] of [['alice', 'pa:s'], ['alice', 'pa:sss'], ['alic', 'pa:ss'], ['bob', 'pa:ss'], ['', ''], ['alice', ''], ['pa:ss', 'alice']]) {
    assert.equal(check(user, password), false, `${user}/${password}`);
  }
  const utf8 = credentialsChecker({ username: 'zoë', password: 'пароль' });
  assert.equal(utf8('zoë', 'пароль'), true);
  assert.equal(utf8('zoe', 'пароль'), false);
});

test('PySocks with username/password: the right pair gets through, a wrong one is refused', { skip: !existsSync(PYTHON) && 'no /usr/bin/python3' }, async (t) => {
  const { socks, webPort } = await setup(t, { username: 'alice', password: 'pa:ss' });
  const ok = await run(PYTHON, ['-c', PYSOCKS_GET, String(socks.port), String(webPort), 'alice:pa:ss']);
  assert.equal(ok.stdout.trim(), 'hello from /py');
  const wrong = await run(PYTHON, ['-c', PYSOCKS_GET, String(socks.port), String(webPort), 'alice:pa:sx']).catch((e) => e);
  assert.equal(wrong.code, 3, wrong.stderr);
  assert.match(wrong.stdout, /refused: .*(authentication|rejected)/i);
});

test('a client that stalls in the handshake is dropped; a finished handshake is not', { timeout: 30_000 }, async (t) => {
  const { socks, webPort } = await setup(t, undefined, { handshakeTimeoutMs: 300 });
  // Nothing at all, then only the method selection: both are closed by the server.
  for (const steps of [[], [Buffer.from([5, 1, 0])]]) {
    const got = await exchange(socks.port, steps, Infinity);
    assert.deepEqual([...got], steps.length === 0 ? [] : [5, 0]);
  }
  // A CONNECT that completed stays open past the handshake timeout while it idles.
  const socket = net.connect(socks.port, '127.0.0.1');
  socket.write(Buffer.concat([Buffer.from([5, 1, 0]), connectRequest('localhost', webPort)]));
  let reply = Buffer.alloc(0);
  while (reply.length < 12) reply = Buffer.concat([reply, (await once(socket, 'data'))[0] as Buffer]);
  assert.equal(reply[3], SocksReply.succeeded);
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(socket.destroyed, false);
  socket.write('GET /late HTTP/1.0\r\n\r\n');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await once(socket, 'end');
  socket.destroy();
  assert.match(Buffer.concat(chunks).toString(), /hello from \/late$/);
});

test('SOCKS failures are one line each by default, with curl as the client; successes are silent', async (t) => {
  const agent = await startTestAgent();
  const lines: string[] = [];
  const socks = await SocksServer.bind({ address: '127.0.0.1', port: 0, text: '0' }, undefined, agent.source, connectionLogger(false, (l) => lines.push(stripVTControlCharacters(l))));
  const web = http.createServer((_req, res) => res.end('ok'));
  web.listen(0, '127.0.0.1');
  await once(web, 'listening');
  t.after(async () => {
    await socks.close();
    web.close();
    await agent.close();
  });
  const curl = (url: string) => run('curl', ['-sS', '--max-time', '10', '--socks5-hostname', `127.0.0.1:${socks.port}`, url]).then((r) => ({ code: 0, ...r }), (e) => e);
  assert.equal((await curl(`http://127.0.0.1:${(web.address() as AddressInfo).port}/`)).stdout, 'ok');
  for (let i = 0; i < 3; i++) assert.notEqual((await curl('http://no-such-host.invalid/')).code, 0);
  assert.deepEqual(lines, [`SOCKS port ${socks.port} → no-such-host.invalid:80: no such host in the cluster`]);
});

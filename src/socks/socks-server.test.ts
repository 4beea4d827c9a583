import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import { once } from 'node:events';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startTestAgent } from '../../test/support/test-agent.ts';
import type { TestAgent } from '../../test/support/test-agent.ts';
import type { ConnectionEvent } from '../forward/connection-events.ts';
import { SocksServer } from './socks-server.ts';
import { replyForErrorCode, SocksReply } from './reply-codes.ts';
import type { SocksCredentials } from './socks-spec.ts';

const run = promisify(execFile);

async function setup(t: { after(fn: () => Promise<void>): void }, credentials?: SocksCredentials) {
  const agent: TestAgent = await startTestAgent();
  const events: ConnectionEvent[] = [];
  const socks = await SocksServer.bind({ address: '127.0.0.1', port: 0, text: '0' }, credentials, agent.source, (e) => events.push(e));
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

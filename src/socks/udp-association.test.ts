/**
 * SOCKS5 UDP ASSOCIATE against the real agent on loopback and a real UDP echo server: PySocks
 * (Debian's python3-socks) as the real client, and a client of our own for what PySocks does not
 * do: two associations from one address kept apart, strangers, malformed headers, fragments,
 * the end of the control connection, authentication.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestAgent } from '../../test/support/test-agent.ts';
import type { ConnectionEvent } from '../forward/connection-events.ts';
import { SocksServer } from './socks-server.ts';
import type { SocksCredentials } from './socks-spec.ts';
import { encodeUdpDatagram, parseUdpDatagram } from './udp-header.ts';

const run = promisify(execFile);
const PYSOCKS = fileURLToPath(new URL('../../test/support/pysocks-udp.py', import.meta.url));
/** Debian's interpreter, where python3-socks is installed (another python3 may be first in PATH). */
const PYTHON = '/usr/bin/python3';

async function setup(t: { after(fn: () => Promise<void>): void }, credentials?: SocksCredentials) {
  const agent = await startTestAgent();
  const events: ConnectionEvent[] = [];
  const socks = await SocksServer.bind({ address: '127.0.0.1', port: 0, text: '0' }, credentials, agent.source, (e) => events.push(e));
  const echo = dgram.createSocket('udp4');
  echo.on('message', (msg, rinfo) => echo.send(Buffer.concat([Buffer.from('echo:'), msg]), rinfo.port, rinfo.address));
  await new Promise<void>((resolve) => echo.bind(0, '127.0.0.1', resolve));
  t.after(async () => {
    await socks.close();
    echo.close();
    await agent.close();
  });
  return { socks, events, echoPort: echo.address().port, agent };
}

/** Reads exactly `n` bytes from a socket. */
async function readBytes(socket: net.Socket, n: number): Promise<Buffer> {
  let buf = Buffer.alloc(0);
  while (buf.length < n) {
    const chunk = socket.read() as Buffer | null;
    if (chunk) buf = Buffer.concat([buf, chunk]);
    else await Promise.race([once(socket, 'readable'), once(socket, 'close').then(() => { throw new Error(`closed after ${buf.length} bytes`); })]);
  }
  if (buf.length > n) socket.unshift(buf.subarray(n));
  return buf.subarray(0, n);
}

interface OurClient {
  control: net.Socket;
  udp: dgram.Socket;
  relay: { host: string; port: number };
  reply: Buffer;
}

/** Our own client: method selection (and auth), UDP ASSOCIATE naming `dst`, the reply. */
async function associate(socksPort: number, options: { dst?: [number[], number]; auth?: SocksCredentials } = {}): Promise<OurClient> {
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  const control = net.connect(socksPort, '127.0.0.1');
  try {
    return await handshake(control, udp, options);
  } catch (err) {
    control.destroy();
    udp.close();
    throw err;
  }
}

async function handshake(control: net.Socket, udp: dgram.Socket, options: { dst?: [number[], number]; auth?: SocksCredentials }): Promise<OurClient> {
  await once(control, 'connect');
  control.pause();
  control.write(Buffer.from([5, 1, options.auth ? 2 : 0]));
  const method = await readBytes(control, 2);
  assert.deepEqual([...method], [5, options.auth ? 2 : 0]);
  if (options.auth) {
    const u = Buffer.from(options.auth.username);
    const p = Buffer.from(options.auth.password);
    control.write(Buffer.concat([Buffer.from([1, u.length]), u, Buffer.from([p.length]), p]));
    assert.deepEqual([...await readBytes(control, 2)], [1, 0]);
  }
  const [addr, port] = options.dst ?? [[127, 0, 0, 1], udp.address().port];
  const request = Buffer.from([5, 3, 0, 1, ...addr, 0, 0]);
  request.writeUInt16BE(port, 8);
  control.write(request);
  const reply = await readBytes(control, 10);
  const relay = { host: [...reply.subarray(4, 8)].join('.'), port: reply.readUInt16BE(8) };
  return { control, udp, relay, reply };
}

/** The data of a reply datagram, or a description of what was wrong with it. */
function dataOf(reply: Buffer | undefined): string {
  if (!reply) return 'nothing';
  const parsed = parseUdpDatagram(reply);
  return 'problem' in parsed ? `malformed: ${parsed.problem}` : parsed.data.toString();
}

function nextDatagram(udp: dgram.Socket, ms = 2000): Promise<Buffer | undefined> {
  return Promise.race([once(udp, 'message').then(([m]) => m as Buffer), sleep(ms).then(() => undefined)]);
}

test('PySocks (python3-socks) sends datagrams through UDP ASSOCIATE and reads the real source in the reply', { skip: !existsSync(PYTHON) && 'no /usr/bin/python3' }, async (t) => {
  const { socks, echoPort } = await setup(t);
  const { stdout } = await run(PYTHON, [PYSOCKS, String(socks.port), '127.0.0.1', String(echoPort), 'one', 'two', 'three'], { timeout: 20_000 });
  const lines = stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.data), ['echo:one', 'echo:two', 'echo:three']);
  for (const l of lines) assert.deepEqual(l.from, ['127.0.0.1', echoPort]);
});

test('UDP ASSOCIATE: BND.ADDR is the control connection\'s local address; two associations from one address stay apart', async (t) => {
  const { socks, echoPort, events } = await setup(t);
  const a = await associate(socks.port);
  const b = await associate(socks.port);
  t.after(() => { for (const c of [a, b]) { c.control.destroy(); c.udp.close(); } });
  assert.deepEqual([...a.reply.subarray(0, 4)], [5, 0, 0, 1], 'succeeded, IPv4 BND.ADDR');
  assert.equal(a.relay.host, '127.0.0.1', 'never 0.0.0.0');
  assert.notEqual(a.relay.port, b.relay.port, 'each association has its own relay');
  const to = { host: '127.0.0.1', port: echoPort };
  for (let i = 0; i < 20; i++) {
    const gotA = nextDatagram(a.udp);
    const gotB = nextDatagram(b.udp);
    a.udp.send(encodeUdpDatagram(to, Buffer.from(`a${i}`)), a.relay.port, a.relay.host);
    b.udp.send(encodeUdpDatagram(to, Buffer.from(`b${i}`)), b.relay.port, b.relay.host);
    const [ra, rb] = await Promise.all([gotA, gotB]);
    const pa = parseUdpDatagram(ra!);
    const pb = parseUdpDatagram(rb!);
    assert.ok(!('problem' in pa) && !('problem' in pb));
    assert.equal(pa.data.toString(), `echo:a${i}`);
    assert.equal(pb.data.toString(), `echo:b${i}`);
    assert.deepEqual(pa.destination, to, 'the reply header names the real source');
  }
  // B's client sending to A's relay is a stranger there: dropped, and A's traffic goes on.
  b.udp.send(encodeUdpDatagram(to, Buffer.from('intruder')), a.relay.port, a.relay.host);
  assert.equal(await nextDatagram(b.udp, 300), undefined, 'nothing comes back to the stranger');
  const stranger = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => stranger.bind(0, '127.0.0.1', resolve));
  for (let i = 0; i < 50; i++) stranger.send(Buffer.from([i, 255, 0, 7]), a.relay.port, a.relay.host);
  // From the client itself: a malformed header, a fragment, junk.
  a.udp.send(Buffer.from([0, 0]), a.relay.port, a.relay.host);
  a.udp.send(Buffer.from([0, 0, 0, 9, 1, 2, 3]), a.relay.port, a.relay.host);
  const fragment = encodeUdpDatagram(to, Buffer.from('frag'));
  fragment[2] = 1;
  a.udp.send(fragment, a.relay.port, a.relay.host);
  assert.equal(await nextDatagram(a.udp, 300), undefined, 'fragments and malformed datagrams are dropped');
  const still = nextDatagram(a.udp);
  a.udp.send(encodeUdpDatagram(to, Buffer.from('still here')), a.relay.port, a.relay.host);
  assert.equal(dataOf(await still), 'echo:still here');
  stranger.close();
  // Closing A's control connection ends A (logged with its counts), and only A.
  a.control.end();
  for (let i = 0; i < 100 && !events.some((e) => e.via === 'socks udp'); i++) await sleep(10);
  const closed = events.find((e) => e.via === 'socks udp');
  assert.ok(closed, 'the association logged its end');
  assert.deepEqual(closed.datagrams, { sent: 21, received: 21, dropped: 1 + 50 + 2 + 1 });
  const gotB = nextDatagram(b.udp);
  b.udp.send(encodeUdpDatagram(to, Buffer.from('b-after')), b.relay.port, b.relay.host);
  assert.equal(dataOf(await gotB), 'echo:b-after');
  a.udp.send(encodeUdpDatagram(to, Buffer.from('a-after')), a.relay.port, a.relay.host);
  assert.equal(await nextDatagram(a.udp, 300), undefined, 'the ended association relays nothing');
});

test('UDP ASSOCIATE with DST 0.0.0.0:0 locks to the first datagram\'s source port', async (t) => {
  const { socks, echoPort } = await setup(t);
  const c = await associate(socks.port, { dst: [[0, 0, 0, 0], 0] });
  const other = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => other.bind(0, '127.0.0.1', resolve));
  t.after(() => { c.control.destroy(); c.udp.close(); other.close(); });
  const to = { host: '127.0.0.1', port: echoPort };
  const got = nextDatagram(c.udp);
  c.udp.send(encodeUdpDatagram(to, Buffer.from('first')), c.relay.port, c.relay.host);
  assert.equal(dataOf(await got), 'echo:first');
  other.send(encodeUdpDatagram(to, Buffer.from('second source')), c.relay.port, c.relay.host);
  assert.equal(await nextDatagram(other, 300), undefined, 'another port of the same address is a stranger');
});

test('with --socks-auth the association needs the credentials', async (t) => {
  const auth = { username: 'alice', password: 'secret' };
  const { socks, echoPort } = await setup(t, auth);
  const c = await associate(socks.port, { auth });
  t.after(() => { c.control.destroy(); c.udp.close(); });
  const got = nextDatagram(c.udp);
  c.udp.send(encodeUdpDatagram({ host: '127.0.0.1', port: echoPort }, Buffer.from('authed')), c.relay.port, c.relay.host);
  assert.equal(dataOf(await got), 'echo:authed');
  await assert.rejects(associate(socks.port), /Expected values to be strictly deep-equal/, 'no-auth is refused with 0xff');
  if (existsSync(PYTHON)) {
    const { stdout } = await run(PYTHON, [PYSOCKS, String(socks.port), '127.0.0.1', String(echoPort), '--auth', 'alice:secret', 'py'], { timeout: 20_000 });
    assert.equal(JSON.parse(stdout).data, 'echo:py');
    const wrong = await run(PYTHON, [PYSOCKS, String(socks.port), '127.0.0.1', String(echoPort), '--auth', 'alice:wrong', 'py'], { timeout: 20_000 }).catch((e) => e);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /authentication failed/i);
  }
});

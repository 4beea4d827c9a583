/**
 * The agent's UDP relay against real UDP sockets on loopback: echo by address and by name, the
 * connected peer in OPEN_OK, and ICMP port unreachable as a reset with reason refused. A name that
 * does not resolve is in dns-failure.test.ts, where no query leaves the machine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { connect } from 'node:net';
import { Session } from '../src/session/session.ts';
import type { DatagramStream } from '../src/session/datagram-stream.ts';
import { StreamResetError } from '../src/protocol/errors.ts';
import { TOKEN } from '../test/support/session-harness.ts';
import { AgentServer } from './server.ts';
import { silentLog } from './log.ts';

async function withAgent(body: (session: Session) => Promise<void>): Promise<void> {
  const server = new AgentServer({
    host: '127.0.0.1', port: 0, tokenSha256: createHash('sha256').update(TOKEN).digest(),
    idleTimeoutMs: 1_000, log: silentLog, onIdle: () => {},
  });
  const { port } = await server.listen();
  const socket = connect({ host: '127.0.0.1', port, noDelay: true });
  await once(socket, 'connect');
  const session = await Session.connect(socket, { token: TOKEN });
  try {
    await body(session);
  } finally {
    session.destroy();
    await server.close();
  }
}

/** A UDP echo server on `::` (dual stack: it hears 127.0.0.1 and ::1 alike). */
async function udpEcho(): Promise<{ port: number; close(): void; peers: Set<string> }> {
  const socket = dgram.createSocket({ type: 'udp6' });
  const peers = new Set<string>();
  socket.on('message', (msg, rinfo) => {
    peers.add(`${rinfo.address}:${rinfo.port}`);
    socket.send(msg, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '::', resolve));
  return { port: socket.address().port, close: () => socket.close(), peers };
}

function nextMessage(stream: DatagramStream): Promise<Buffer> {
  return once(stream, 'message').then(([d]) => d as Buffer);
}

test('a datagram stream echoes through the agent, by address and by name, from one socket each', async () => {
  const echo = await udpEcho();
  try {
    await withAgent(async (session) => {
      assert.ok(session.supportsDatagrams, 'the agent agrees to udp');
      const stream = session.openDatagramStream({ host: '127.0.0.1', port: echo.port });
      const established = once(stream, 'established');
      // Sent right behind the OPEN, before the agent's socket exists: it waits there, not lost.
      stream.send(Buffer.from('first'));
      assert.equal((await nextMessage(stream)).toString(), 'first');
      assert.deepEqual((await established)[0], { host: '127.0.0.1', port: echo.port });
      let next = 0;
      let back = 0;
      await new Promise<void>((resolve) => {
        stream.on('message', () => {
          back++;
          if (back === 1000) resolve();
          else if (next < 1000) stream.send(Buffer.alloc(512, next++ & 0xff));
        });
        for (; next < 32; next++) stream.send(Buffer.alloc(512, next));
      });
      assert.equal(echo.peers.size, 1, 'every datagram of the stream left from one agent socket');

      const byName = session.openDatagramStream({ host: 'localhost', port: echo.port });
      byName.send(Buffer.from('by name'));
      assert.equal((await nextMessage(byName)).toString(), 'by name');
      assert.ok(['127.0.0.1', '::1'].includes(byName.peer?.host ?? ''), `localhost resolved to ${byName.peer?.host}`);
    });
  } finally {
    echo.close();
  }
});

test('ICMP port unreachable resets the stream with ECONNREFUSED', async () => {
  const probe = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
  const closedPort = probe.address().port;
  probe.close();
  await withAgent(async (session) => {
    const stream = session.openDatagramStream({ host: '127.0.0.1', port: closedPort });
    stream.send(Buffer.from('anyone?'));
    const [err] = await once(stream, 'close');
    assert.ok(err instanceof StreamResetError);
    assert.equal(err.code, 'ECONNREFUSED');
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${closedPort} is not listening on UDP \\(ICMP port unreachable\\)`));
  });
});

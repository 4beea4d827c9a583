/**
 * Datagram streams over a real session pair (in-memory and TCP, either side opening): datagram
 * boundaries survive, the window drop rule, idle expiry on both sides, FIN both ways, the udp
 * capability, and bad datagram frames from a raw peer.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHash } from 'node:crypto';
import { Capability, FrameType, INITIAL_WINDOW, MAX_DATAGRAM, MAX_DATAGRAM_IDLE_MS, ResetReason, Transport } from '../protocol/constants.ts';
import { ProtocolError, StreamResetError } from '../protocol/errors.ts';
import { decodeOpenOk, decodeReset, encodeDataHeader, encodeOpen } from '../protocol/frames.ts';
import { Session } from './session.ts';
import { ALL_CAPABILITIES } from './handshake.ts';
import { DEFAULT_DATAGRAM_IDLE_MS, type DatagramStream } from './datagram-stream.ts';
import {
  RawPeer, TOKEN, closed, connectPair, track, variants, verifyToken, memoryTransport, type Pair,
} from '../../test/support/session-harness.ts';

const DEST = { host: '10.0.0.53', port: 53 };

/** The acceptor echoes every datagram stream, answering as if connected to `peer`. */
function echoDatagrams(session: Session, peer = { host: '10.0.0.53', port: 53 }): DatagramStream[] {
  const streams: DatagramStream[] = [];
  session.on('datagramStream', (stream: DatagramStream) => {
    streams.push(stream);
    stream.accept(peer);
    stream.on('message', (datagram: Buffer) => stream.send(datagram));
  });
  return streams;
}

function collect(stream: DatagramStream, count: number): Promise<Buffer[]> {
  const got: Buffer[] = [];
  return new Promise((resolve) => {
    stream.on('message', (d: Buffer) => {
      got.push(d);
      if (got.length === count) resolve(got);
    });
  });
}

function suite(transport: () => Promise<[import('node:stream').Duplex, import('node:stream').Duplex]>, swapped: boolean): void {
  const withPair = (name: string, body: (pair: Pair) => Promise<void>, options = {}) => test(name, async () => {
    const pair = await connectPair(transport, swapped, options);
    try {
      await body(pair);
    } finally {
      pair.destroy();
    }
  });

  withPair('the udp capability is agreed and each datagram arrives whole, never split or joined', async ({ opener, acceptor }) => {
    assert.ok(opener.supportsDatagrams && acceptor.supportsDatagrams);
    echoDatagrams(acceptor);
    const stream = opener.openDatagramStream(DEST);
    const established = once(stream, 'established');
    // Sizes around the frame and chunk boundaries, the empty datagram, and the largest one.
    const sizes = [0, 1, 7, 512, 1400, 9000, 65_507, MAX_DATAGRAM, 0, 3];
    const sent = sizes.map((n, i) => Buffer.alloc(n, i + 1));
    const echoed = collect(stream, sent.length);
    for (const d of sent) assert.equal(stream.send(d), true);
    const [peer] = await established;
    assert.deepEqual(peer, { host: '10.0.0.53', port: 53 }, 'OPEN_OK carries the peer the acceptor connected to');
    assert.deepEqual(stream.peer, { host: '10.0.0.53', port: 53 });
    const got = await echoed;
    assert.deepEqual(got.map((d) => d.length), sizes);
    got.forEach((d, i) => assert.ok(d.equals(sent[i]), `datagram ${i} has its own bytes`));
    assert.equal(stream.counts.sent, sizes.length);
    assert.equal(stream.counts.received, sizes.length);
    assert.equal(stream.open.transport, Transport.udp);
  });

  withPair('10,000 distinct datagrams with 32 in flight all come back, in order on one stream', async ({ opener, acceptor }) => {
    echoDatagrams(acceptor);
    const stream = opener.openDatagramStream(DEST);
    const total = 10_000;
    let next = 0;
    let received = 0;
    const digest = (i: number) => createHash('sha256').update(String(i)).digest();
    await new Promise<void>((resolve, reject) => {
      stream.on('message', (d: Buffer) => {
        if (!d.equals(digest(received))) reject(new Error(`datagram ${received} came back as something else`));
        received++;
        if (received === total) resolve();
        else if (next < total) stream.send(digest(next++));
      });
      for (; next < 32; next++) stream.send(digest(next));
    });
    assert.equal(stream.counts.dropped.window, 0);
  });

  withPair('a datagram beyond the credit is dropped and counted, not queued', async ({ opener, acceptor }) => {
    const streams = echoDatagrams(acceptor);
    const stream = opener.openDatagramStream(DEST);
    const size = 1024;
    const fits = INITIAL_WINDOW / size;
    const drops: string[] = [];
    stream.on('drop', (why: string) => drops.push(why));
    // All in one turn, before any credit can come back: the window takes exactly `fits` of them.
    const accepted = Array.from({ length: fits + 50 }, (_, i) => stream.send(Buffer.alloc(size, i & 0xff)));
    assert.equal(accepted.filter(Boolean).length, fits);
    assert.deepEqual(accepted.slice(fits), Array(50).fill(false));
    assert.equal(stream.counts.dropped.window, 50);
    assert.equal(stream.queued.bytes, INITIAL_WINDOW, 'the queue never holds more than the credit');
    assert.equal(stream.send(Buffer.alloc(MAX_DATAGRAM + 1)), false);
    assert.equal(stream.counts.dropped.tooLarge, 1);
    assert.deepEqual(drops, [...Array(50).fill('window'), 'tooLarge']);
    await collect(stream, fits);
    assert.equal(streams[0].counts.received, fits, 'the acceptor got exactly what fitted');
    // Credit came back as the acceptor consumed: the stream takes datagrams again.
    assert.equal(stream.send(Buffer.alloc(size)), true);
  });

  withPair('close() sends FIN, the peer answers FIN, both sides release the stream', async ({ opener, acceptor }) => {
    const streams = echoDatagrams(acceptor);
    const stream = opener.openDatagramStream(DEST);
    stream.send(Buffer.from('last words'));
    await once(stream, 'message');
    const openerClosed = once(stream, 'close');
    const acceptorClosed = once(streams[0], 'close');
    stream.close();
    assert.deepEqual(await openerClosed, [undefined]);
    assert.deepEqual(await acceptorClosed, [undefined]);
    assert.equal(stream.send(Buffer.from('late')), false, 'a closed stream drops');
    assert.equal(stream.counts.dropped.closed, 1);
    assert.equal(opener.streamCount, 0);
    assert.equal(acceptor.streamCount, 0);
  });

  withPair('an idle datagram stream ends on both sides after datagramIdleMs; traffic keeps it alive', async ({ opener, acceptor }) => {
    const streams = echoDatagrams(acceptor);
    const stream = opener.openDatagramStream(DEST);
    const openerClosed = once(stream, 'close');
    let lastTraffic = 0;
    // Traffic every 40 ms for 400 ms: never 150 ms quiet, so the stream stays.
    for (let i = 0; i < 10; i++) {
      stream.send(Buffer.from([i]));
      await once(stream, 'message');
      lastTraffic = performance.now();
      await sleep(40);
    }
    assert.equal(stream.closed, false);
    assert.equal(streams[0].closed, false);
    const acceptorClosed = once(streams[0], 'close');
    // Whichever side's timer fires first ends the stream; the other answers its FIN.
    await Promise.race([once(stream, 'idle'), once(streams[0], 'idle')]);
    assert.ok(performance.now() - lastTraffic >= 150 - 5, 'it ended only after a quiet idle period');
    assert.deepEqual(await openerClosed, [undefined]);
    assert.deepEqual(await acceptorClosed, [undefined]);
    assert.equal(opener.streamCount + acceptor.streamCount, 0);
  }, { datagramIdleMs: 150 });

  withPair('the opener\'s idle timeout travels in OPEN: the acceptor ends the stream by it too', async ({ opener, acceptor }) => {
    const streams = echoDatagrams(acceptor);
    // The sessions' default is 120 s; only this stream is asked to live 150 ms idle.
    const stream = opener.openDatagramStream(DEST, { idleMs: 150 });
    stream.send(Buffer.from('x'));
    await once(stream, 'message');
    assert.equal(streams[0].open.idleTimeoutMs, 150);
    assert.equal(streams[0].idleMs, 150, 'the acceptor took the opener\'s timeout');
    const closedBoth = Promise.all([once(stream, 'close'), once(streams[0], 'close')]);
    const started = performance.now();
    await Promise.race([once(streams[0], 'idle'), once(stream, 'idle')]);
    assert.ok(performance.now() - started < 1000, 'ended after about 150 ms, not the default');
    await closedBoth;
  });

  withPair('a reset reaches the opener with its reason, and a stream nobody accepts is EACCES', async ({ opener, acceptor }) => {
    const stream = opener.openDatagramStream(DEST);
    const [err] = await once(stream, 'close');
    assert.ok(err instanceof StreamResetError);
    assert.equal(err.code, 'EACCES');
    acceptor.on('datagramStream', (s: DatagramStream) => s.reject(ResetReason.refused, '10.0.0.53:53 refused (ICMP port unreachable)'));
    const second = opener.openDatagramStream(DEST);
    const [err2] = await once(second, 'close');
    assert.equal(err2.code, 'ECONNREFUSED');
    assert.match(err2.message, /ICMP port unreachable/);
  });
}

for (const variant of variants) {
  describe(`datagram streams over ${variant.name}`, () => suite(variant.transport, variant.swapped));
}

test('a peer without the udp capability: openDatagramStream fails at once with EAFNOSUPPORT, not a hang', async () => {
  const [clientEnd, agentEnd] = await memoryTransport();
  const [client, agent] = await Promise.all([
    Session.connect(clientEnd, { token: TOKEN, client: 'new-cli' }),
    Session.accept(agentEnd, { verifyToken, agent: 'old-agent/0.0.1', capabilities: ALL_CAPABILITIES & ~Capability.udp }),
  ]);
  try {
    assert.equal(client.supportsDatagrams, false);
    assert.throws(() => client.openDatagramStream(DEST), (err: unknown) => {
      assert.ok(err instanceof StreamResetError);
      assert.equal(err.code, 'EAFNOSUPPORT');
      assert.match(err.message, /old-agent\/0\.0\.1 does not support UDP/);
      return true;
    });
  } finally {
    client.destroy();
    agent.destroy();
  }
});

describe('a raw peer on datagram streams', () => {
  async function agentWithRawClient(capabilities = ALL_CAPABILITIES) {
    const [clientEnd, agentEnd] = await memoryTransport();
    const raw = new RawPeer(clientEnd);
    const accepting = Session.accept(agentEnd, { verifyToken, capabilities });
    await raw.helloAsClient();
    return { session: track(await accepting), raw };
  }
  const openUdp = (id: number) => encodeOpen(id, { window: INITIAL_WINDOW, transport: Transport.udp, destination: DEST });

  test('OPEN with UDP to a session that did not agree udp is reset unsupported', async () => {
    const { session, raw } = await agentWithRawClient(ALL_CAPABILITIES & ~Capability.udp);
    try {
      raw.send(openUdp(1));
      const reset = decodeReset((await raw.frame(FrameType.reset)).payload);
      assert.equal(reset.reason, ResetReason.unsupported);
      assert.match(reset.message, /UDP was not agreed in the handshake/);
    } finally {
      session.destroy();
    }
  });

  test('an idleTimeout of 0 means the acceptor\'s default; above a day is cut to a day', async () => {
    const { session, raw } = await agentWithRawClient();
    const streams: DatagramStream[] = [];
    session.on('datagramStream', (s: DatagramStream) => { streams.push(s); s.accept(); });
    try {
      raw.send(
        encodeOpen(1, { window: INITIAL_WINDOW, transport: Transport.udp, destination: DEST, idleTimeoutMs: 0 }),
        encodeOpen(3, { window: INITIAL_WINDOW, transport: Transport.udp, destination: DEST, idleTimeoutMs: 0xffffffff }),
      );
      while (streams.length < 2) await sleep(5);
      assert.equal(streams[0].idleMs, DEFAULT_DATAGRAM_IDLE_MS);
      assert.equal(streams[1].idleMs, MAX_DATAGRAM_IDLE_MS);
    } finally {
      session.destroy();
    }
  });

  test('OPEN with an unknown transport is reset unsupported, naming it', async () => {
    const { session, raw } = await agentWithRawClient();
    try {
      raw.send(encodeOpen(1, { window: INITIAL_WINDOW, transport: 9 as Transport, destination: DEST }));
      const reset = decodeReset((await raw.frame(FrameType.reset)).payload);
      assert.equal(reset.reason, ResetReason.unsupported);
      assert.match(reset.message, /transport 9 is not supported/);
    } finally {
      session.destroy();
    }
  });

  test('a datagram DATA frame larger than MAX_DATAGRAM ends the session naming the limit', async () => {
    const { session, raw } = await agentWithRawClient();
    session.on('datagramStream', (s: DatagramStream) => s.accept());
    raw.send(openUdp(1));
    const ok = decodeOpenOk((await raw.frame(FrameType.openOk)).payload);
    assert.equal(ok.peer, undefined, 'accept() without a peer sends no peer field');
    raw.send(encodeDataHeader(1, MAX_DATAGRAM + 1, false));
    const err = await closed(session);
    assert.ok(err instanceof ProtocolError);
    assert.match(err.message, new RegExp(`exceeds the largest datagram \\(${MAX_DATAGRAM} bytes\\)`));
  });
});

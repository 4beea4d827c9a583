/**
 * The session suite: one function, run over an in-memory pair and loopback TCP, each with the
 * client opening streams and with the agent opening them (incoming traffic). Handshake failures
 * are in session-handshake.test.ts, flow control and fairness in session-flow.test.ts, a peer that
 * breaks the protocol in session-bad-peer.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { RequestOp, ResetReason } from '../protocol/constants.ts';
import { ProtocolError, StreamResetError } from '../protocol/errors.ts';
import { ALL_CAPABILITIES } from './handshake.ts';
import type { Session } from './session.ts';
import { RequestError } from '../protocol/request-errors.ts';
import type { MuxStream } from './stream.ts';
import {
  closed, connectOver, connectPair, echoStreams, mutableLink, readAll, variants, writeAll, type Pair,
  type TransportFactory,
} from '../../test/support/session-harness.ts';

const dest = { host: '10.0.0.1', port: 80 };
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Runs `body` with a fresh connected pair, and always tears the pair down. */
async function withPair(transport: TransportFactory, swapped: boolean, body: (pair: Pair) => Promise<void>): Promise<void> {
  const pair = await connectPair(transport, swapped);
  try {
    await body(pair);
  } finally {
    pair.destroy();
  }
}

/** Resolves with the next stream the session accepts, answering OPEN_OK unless told not to. */
function nextStream(session: Session, accept = true): Promise<MuxStream> {
  return new Promise((resolve) => session.once('stream', (stream: MuxStream) => {
    stream.on('error', () => {});
    if (accept) stream.accept();
    resolve(stream);
  }));
}

function streamError(stream: MuxStream): Promise<StreamResetError> {
  return new Promise((resolve) => stream.once('error', (err) => resolve(err as StreamResetError)));
}

function sessionSuite(transport: TransportFactory, swapped: boolean): void {
  const run = (name: string, body: (pair: Pair) => Promise<void>) => test(name, () => withPair(transport, swapped, body));

  run('the handshake agrees capabilities and names both peers', async ({ client, agent }) => {
    assert.equal(client.capabilities, ALL_CAPABILITIES);
    assert.equal(agent.capabilities, ALL_CAPABILITIES);
    assert.equal(client.peerName, 'test-agent');
    assert.equal(agent.peerName, 'test-client');
    assert.equal(client.role, 'client');
    assert.equal(agent.role, 'agent');
  });

  run('bytes written before the open is accepted arrive ahead of OPEN_OK', async ({ opener, acceptor }) => {
    const incoming = nextStream(acceptor, false);
    const stream = opener.openStream(dest);
    stream.write('early bytes');
    const remote = await incoming;
    assert.deepEqual(remote.open.destination, dest);
    const [chunk] = await once(remote, 'data');
    assert.equal(chunk.toString(), 'early bytes');
    assert.equal(stream.established, false, 'no OPEN_OK was sent yet');
    remote.accept();
    await once(stream, 'established');
    assert.equal(stream.established, true);
    stream.destroy();
  });

  run('streams use the opener\'s id parity', async ({ opener, acceptor }) => {
    echoStreams(acceptor);
    const ids = [opener.openStream(dest), opener.openStream(dest)].map((s) => { s.destroy(); return s.id; });
    const parity = opener.role === 'client' ? 1 : 0;
    assert.deepEqual(ids.map((id) => id % 2), [parity, parity]);
    assert.equal(ids[1] - ids[0], 2);
  });

  run('10 MB echo arrives intact (sha256)', async ({ opener, acceptor }) => {
    echoStreams(acceptor);
    const data = randomBytes(10 * 1024 * 1024);
    const stream = opener.openStream(dest);
    const [echoed] = await Promise.all([readAll(stream), writeAll(stream, data)]);
    assert.equal(echoed.length, data.length);
    assert.equal(sha256(echoed), sha256(data));
  });

  run('half-close: the opener ends first and still reads the answer', async ({ opener, acceptor }) => {
    const incoming = nextStream(acceptor);
    const stream = opener.openStream(dest);
    stream.end('question');
    const remote = await incoming;
    assert.equal((await readAll(remote)).toString(), 'question', 'the FIN ended the acceptor\'s readable side');
    assert.equal(remote.writable, true, 'the acceptor can still send');
    const bothClosed = Promise.all([once(stream, 'close'), once(remote, 'close')]);
    remote.end('answer');
    assert.equal((await readAll(stream)).toString(), 'answer');
    await bothClosed;
    assert.equal(opener.streamCount, 0, 'a stream finished both ways is forgotten');
    assert.equal(acceptor.streamCount, 0);
  });

  run('half-close: the acceptor ends first while the opener keeps sending', async ({ opener, acceptor }) => {
    const incoming = nextStream(acceptor);
    const stream = opener.openStream(dest);
    stream.write('one ');
    const remote = await incoming;
    remote.end('bye');
    assert.equal((await readAll(stream)).toString(), 'bye');
    const bothClosed = Promise.all([once(stream, 'close'), once(remote, 'close')]);
    stream.end('two');
    assert.equal((await readAll(remote)).toString(), 'one two');
    await bothClosed;
  });

  run('a reset carries its reason as a Node-style code', async ({ opener, acceptor }) => {
    const cases: Array<[ResetReason, string]> = [
      [ResetReason.refused, 'ECONNREFUSED'], [ResetReason.dnsFailure, 'ENOTFOUND'],
      [ResetReason.hostUnreachable, 'EHOSTUNREACH'], [ResetReason.timeout, 'ETIMEDOUT'],
      [ResetReason.notAllowed, 'EACCES'], [ResetReason.connectionReset, 'ECONNRESET'],
    ];
    for (const [reason, code] of cases) {
      const incoming = nextStream(acceptor, false);
      const stream = opener.openStream(dest);
      const failed = streamError(stream);
      (await incoming).reject(reason, `refused with ${code}`);
      const err = await failed;
      assert.ok(err instanceof StreamResetError);
      assert.equal(err.code, code);
      assert.equal(err.reason, reason);
      assert.equal(err.byPeer, true);
      assert.equal(err.message, `refused with ${code}`);
    }
    assert.equal(opener.streamCount, 0);
  });

  run('destroying a stream resets it on the other side', async ({ opener, acceptor }) => {
    const incoming = nextStream(acceptor);
    const stream = opener.openStream(dest);
    stream.on('error', () => {});
    const remote = await incoming;
    const cancelled = streamError(remote);
    stream.destroy();
    assert.equal((await cancelled).code, 'ECANCELED');

    const incoming2 = nextStream(acceptor);
    const stream2 = opener.openStream(dest);
    stream2.on('error', () => {});
    const remote2 = await incoming2;
    const reset = streamError(remote2);
    stream2.destroy(Object.assign(new Error('peer went away'), { code: 'ECONNRESET' }));
    const err = await reset;
    assert.equal(err.code, 'ECONNRESET');
    assert.match(err.message, /ECONNRESET: peer went away/);
  });

  run('a stream nobody accepts is reset with EACCES', async ({ opener }) => {
    const stream = opener.openStream(dest);
    const err = await streamError(stream);
    assert.equal(err.code, 'EACCES');
    assert.match(err.message, /accepts no streams/);
  });

  run('200 concurrent streams each echo their own bytes', async ({ opener, acceptor }) => {
    echoStreams(acceptor);
    const results = await Promise.all(Array.from({ length: 200 }, async (_, i) => {
      const data = randomBytes(8 * 1024 + i);
      const stream = opener.openStream({ host: 'svc.example', port: 1000 + i });
      const [echoed] = await Promise.all([readAll(stream), writeAll(stream, data, 4096)]);
      return echoed.equals(data);
    }));
    assert.equal(results.filter(Boolean).length, 200);
    assert.equal(opener.streamCount, 0);
  });

  run('requests get answers, errors keep their code, unknown ops are ENOTSUP', async ({ opener, acceptor }) => {
    acceptor.handleRequests(async (op, body) => {
      const { host } = body as { host: string };
      if (host === 'nowhere.invalid') throw new RequestError('ENOTFOUND', `cannot resolve ${host}`);
      if (host === 'plain') throw new Error('no code');
      return { addresses: [`answer-for-${host}-op-${op}`] };
    });
    const answers = await Promise.all(['a', 'b', 'c'].map((h) => opener.lookup(h)));
    assert.deepEqual(answers.map((a) => a.addresses[0]), ['answer-for-a-op-1', 'answer-for-b-op-1', 'answer-for-c-op-1']);
    await assert.rejects(opener.lookup('nowhere.invalid'), (err: unknown) => {
      assert.ok(err instanceof RequestError);
      assert.equal(err.code, 'ENOTFOUND');
      assert.equal(err.message, 'cannot resolve nowhere.invalid');
      return true;
    });
    await assert.rejects(opener.lookup('plain'), { name: 'RequestError', code: 'EINTERNAL', message: 'no code' });
    // The other direction has no handler.
    await assert.rejects(acceptor.request(RequestOp.dnsLookup, { host: 'x' }), { code: 'ENOTSUP', message: /not supported/ });
  });

  run('goaway: no new streams, the open ones finish, then both sides close cleanly', async ({ opener, acceptor }) => {
    echoStreams(acceptor);
    const stream = opener.openStream(dest);
    stream.write('before ');
    const goaway = once(acceptor, 'goaway');
    const closing = opener.close();
    assert.throws(() => opener.openStream(dest), (err: unknown) => err instanceof ProtocolError && /opens no new streams/.test(err.message));
    const [{ code }] = await goaway;
    assert.equal(code, 0);
    assert.throws(() => acceptor.openStream(dest), ProtocolError, 'the peer that received GOAWAY opens nothing either');
    const echoed = readAll(stream);
    stream.end('after goaway');
    assert.equal((await echoed).toString(), 'before after goaway');
    const [openerErr, acceptorErr] = await Promise.all([closing.then(() => closed(opener)), closed(acceptor)]);
    assert.equal(openerErr, undefined);
    assert.equal(acceptorErr, undefined);
  });

  run('streams open when the session dies fail with ESHUTDOWN', async ({ opener, acceptor }) => {
    const incoming = nextStream(acceptor);
    const stream = opener.openStream(dest);
    await incoming;
    const failed = streamError(stream);
    const openerClosed = closed(opener);
    acceptor.destroy(new Error('agent crashed'));
    const err = await failed;
    assert.equal(err.code, 'ESHUTDOWN');
    const openerErr = await openerClosed;
    assert.ok(openerErr instanceof ProtocolError);
    assert.equal(openerErr.code, 'EGOAWAY');
    assert.match(openerErr.message, /agent crashed/);
    await assert.rejects(opener.lookup('x'), ProtocolError, 'requests after close are refused');
  });
}

function keepaliveSuite(transport: TransportFactory): void {
  test('pings keep an idle session alive', async () => {
    const pair = await connectPair(transport, false, { keepaliveMs: 100 });
    try {
      // Many timeouts' worth of idleness: only the pings keep each side hearing the other.
      await new Promise((resolve) => setTimeout(resolve, 800));
      assert.equal(pair.client.closed, false);
      assert.equal(pair.agent.closed, false);
      assert.ok(pair.client.rtt > 0);
    } finally {
      pair.destroy();
    }
  });

  test('a silent peer ends the session with ETIMEDOUT on both sides', async () => {
    const [clientEnd, agentEnd] = await transport();
    const link = mutableLink(agentEnd);
    const pair = await connectOver(clientEnd, link.agentEnd, false, { keepaliveMs: 30 });
    try {
      link.mute();
      const [clientErr, agentErr] = await Promise.all([closed(pair.client), closed(pair.agent)]);
      for (const err of [clientErr, agentErr]) {
        assert.ok(err instanceof ProtocolError);
        assert.equal(err.code, 'ETIMEDOUT');
        assert.match(err.message, /keepalive timeout/);
      }
    } finally {
      pair.destroy();
      clientEnd.destroy();
      agentEnd.destroy();
    }
  });
}

for (const variant of variants) {
  describe(`session over ${variant.name}`, () => {
    sessionSuite(variant.transport, variant.swapped);
    if (!variant.swapped) keepaliveSuite(variant.transport);
  });
}

/**
 * `-L .../udp` against the real agent (on loopback) and a real UDP echo server: each local peer has
 * its own stream and gets only its own answers, a peer sending junk disturbs nobody, idle streams
 * end and reopen, a port in use and an agent without UDP give clear errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { duplexPair } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { MirrordError } from '../errors.ts';
import { Capability } from '../protocol/constants.ts';
import { Session } from '../session/session.ts';
import { ALL_CAPABILITIES } from '../session/handshake.ts';
import { parseForwardSpec } from './forward-spec.ts';
import { UdpForward } from './udp-forward.ts';
import type { ConnectionEvent } from './connection-events.ts';
import { startTestAgent } from '../../test/support/test-agent.ts';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify, stripVTControlCharacters } from 'node:util';
import { connectionLogger } from '../ui/connection-log.ts';

const run = promisify(execFile);
import { TOKEN, verifyToken } from '../../test/support/session-harness.ts';

/** A UDP echo server on 127.0.0.1 that prefixes nothing: the answer is the datagram. */
async function udpEcho(): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, rinfo) => socket.send(msg, rinfo.port, rinfo.address));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return socket;
}

async function client(): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return socket;
}

/** Sends `datagrams` one at a time, each after the previous answer; returns the answers. */
async function exchange(socket: dgram.Socket, port: number, datagrams: Buffer[]): Promise<Buffer[]> {
  const answers: Buffer[] = [];
  for (const d of datagrams) {
    const answer = once(socket, 'message');
    socket.send(d, port, '127.0.0.1');
    answers.push((await answer)[0] as Buffer);
  }
  return answers;
}

test('-L /udp: each local peer its own stream and its own answers; junk from a third disturbs nobody', async (t) => {
  const agent = await startTestAgent();
  const echo = await udpEcho();
  const events: ConnectionEvent[] = [];
  const spec = parseForwardSpec(`0:127.0.0.1:${echo.address().port}/udp`);
  const forward = await UdpForward.bind(spec, '127.0.0.1', agent.source, (e) => events.push(e));
  const [a, b, junk] = await Promise.all([client(), client(), client()]);
  t.after(async () => {
    for (const s of [a, b, junk]) s.close();
    await forward.close();
    echo.close();
    await agent.close();
  });
  const stop = setInterval(() => junk.send(randomBytes(1 + Math.floor(Math.random() * 1400)), forward.port, '127.0.0.1'), 1);
  try {
    const aSent = Array.from({ length: 50 }, (_, i) => Buffer.from(`a-${i}`));
    const bSent = Array.from({ length: 50 }, (_, i) => Buffer.from(`b-${i}`));
    const [aGot, bGot] = await Promise.all([exchange(a, forward.port, aSent), exchange(b, forward.port, bSent)]);
    assert.deepEqual(aGot.map(String), aSent.map(String));
    assert.deepEqual(bGot.map(String), bSent.map(String));
  } finally {
    clearInterval(stop);
  }
  assert.equal(forward.peerCount, 3, 'a, b and the junk sender each have a stream');
  assert.equal(agent.sessions.length, 1, 'all share one session');
  // The largest datagram IPv4 carries goes through whole.
  const big = randomBytes(65_507);
  assert.ok((await exchange(a, forward.port, [big]))[0].equals(big));
});

test('-L /udp: an idle peer stream ends (logged with its counts) and the next datagram opens a new one', async (t) => {
  const agent = await startTestAgent();
  const echo = await udpEcho();
  const events: ConnectionEvent[] = [];
  const forward = await UdpForward.bind(parseForwardSpec(`0:127.0.0.1:${echo.address().port}/udp`), '127.0.0.1', agent.source, (e) => events.push(e), { idleMs: 150 });
  const peer = await client();
  t.after(async () => {
    peer.close();
    await forward.close();
    echo.close();
    await agent.close();
  });
  await exchange(peer, forward.port, [Buffer.from('one'), Buffer.from('two')]);
  assert.equal(forward.peerCount, 1);
  await sleep(400);
  assert.equal(forward.peerCount, 0, 'the idle stream ended');
  assert.equal(events.length, 1);
  assert.equal(events[0].outcome, 'closed');
  assert.deepEqual(events[0].datagrams, { sent: 2, received: 2, dropped: 0, kernelDropped: 0 });
  assert.equal(agent.sessions[0].streamCount, 0, 'gone on the CLI side too');
  assert.deepEqual((await exchange(peer, forward.port, [Buffer.from('three')])).map(String), ['three']);
  assert.equal(forward.peerCount, 1);
});

test('-L /udp: a port in use is EADDRINUSE naming the -L', async (t) => {
  const taken = await client();
  t.after(() => taken.close());
  const spec = parseForwardSpec(`${taken.address().port}:127.0.0.1:53/udp`);
  await assert.rejects(UdpForward.bind(spec, '127.0.0.1', { session: () => Promise.reject(new Error('unused')) }, () => {}), (err: unknown) => {
    assert.ok(err instanceof MirrordError);
    assert.equal(err.code, 'EADDRINUSE');
    assert.match(err.message, new RegExp(`-L ${spec.text}: 127\\.0\\.0\\.1:${taken.address().port} is already in use`));
    assert.match(err.hint ?? '', /ss -lunp/);
    return true;
  });
});

test('-L /udp to an agent without the udp capability logs EAFNOSUPPORT naming the agent, and drops', async (t) => {
  const [clientEnd, agentEnd] = duplexPair();
  const [session, agentSession] = await Promise.all([
    Session.connect(clientEnd, { token: TOKEN }),
    Session.accept(agentEnd, { verifyToken, agent: 'kubectl-mirrord-agent/0.0.9', capabilities: ALL_CAPABILITIES & ~Capability.udp }),
  ]);
  const events: ConnectionEvent[] = [];
  const forward = await UdpForward.bind(parseForwardSpec('0:10.96.0.10:53/udp'), '127.0.0.1', { session: async () => session }, (e) => events.push(e));
  const peer = await client();
  t.after(async () => {
    peer.close();
    await forward.close();
    session.destroy();
    agentSession.destroy();
  });
  peer.send(Buffer.from('query'), forward.port, '127.0.0.1');
  for (let i = 0; i < 100 && events.length === 0; i++) await sleep(10);
  assert.equal(events.length, 1);
  assert.equal(events[0].outcome, 'failed');
  assert.equal((events[0].error as { code?: string }).code, 'EAFNOSUPPORT');
  assert.match(events[0].error!.message, /kubectl-mirrord-agent\/0\.0\.9 does not support UDP/);
  assert.equal(forward.peerCount, 0);
  assert.equal(forward.counts.droppedFromPeers, 1);
});

test('-L /udp to a name that does not exist: dig gets no answer, and one line says why by default', { skip: !existsSync('/usr/bin/dig') && 'no dig' }, async (t) => {
  const agent = await startTestAgent();
  const lines: string[] = [];
  const forward = await UdpForward.bind(parseForwardSpec('0:no-such-host.invalid:53/udp'), '127.0.0.1', agent.source, connectionLogger(false, (l) => lines.push(stripVTControlCharacters(l))));
  t.after(async () => {
    await forward.close();
    await agent.close();
  });
  // Two queries from two source ports: two peers, two identical failures, one line.
  for (let i = 0; i < 2; i++) {
    const dig = await run('dig', ['@127.0.0.1', '-p', String(forward.port), '+tries=1', '+time=1', 'web.default.svc.cluster.local']).catch((e) => e);
    assert.match(dig.stdout, /timed out|no servers could be reached/);
  }
  assert.deepEqual(lines, [`port ${forward.port}/udp → no-such-host.invalid:53: no such host in the cluster`]);
});

test('-L /udp to a closed UDP port: the ICMP port unreachable is one line by default', async (t) => {
  const agent = await startTestAgent();
  const closed = await udpEcho();
  const deadPort = closed.address().port;
  closed.close();
  const lines: string[] = [];
  const forward = await UdpForward.bind(parseForwardSpec(`0:127.0.0.1:${deadPort}/udp`), '127.0.0.1', agent.source, connectionLogger(false, (l) => lines.push(stripVTControlCharacters(l))));
  const peer = await client();
  t.after(async () => {
    peer.close();
    await forward.close();
    await agent.close();
  });
  // The first datagram may be lost before the agent's socket learns of the ICMP error; keep sending until the line comes.
  for (let i = 0; i < 200 && lines.length === 0; i++) {
    peer.send(Buffer.from('ping'), forward.port, '127.0.0.1');
    await sleep(10);
  }
  assert.deepEqual(lines, [`port ${forward.port}/udp → 127.0.0.1:${deadPort}: 127.0.0.1:${deadPort} is not listening on UDP (ICMP port unreachable)`]);
});

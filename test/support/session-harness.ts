/**
 * Test support for the session suites (session*.test.ts, agent tests): the transports a session
 * runs over, a way to build a connected pair with either side opening streams, a raw peer that
 * speaks the protocol frame by frame, and small stream helpers. Not imported by product code.
 */
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { duplexPair, type Duplex } from 'node:stream';
import { FrameType, PROTOCOL_VERSION } from '../../src/protocol/constants.ts';
import { FrameDecoder } from '../../src/protocol/decoder.ts';
import { encodeHello, encodeWelcome } from '../../src/protocol/frames.ts';
import { Session, type SessionOptions } from '../../src/session/session.ts';
import { ALL_CAPABILITIES } from '../../src/session/handshake.ts';
import type { MuxStream } from '../../src/session/stream.ts';

export const TOKEN = Buffer.alloc(32, 0x5a);
export const verifyToken = (token: Buffer): boolean => token.equals(TOKEN);

/** Makes two connected byte streams: [the client's end, the agent's end]. */
export type TransportFactory = () => Promise<[Duplex, Duplex]>;

export const memoryTransport: TransportFactory = async () => duplexPair();

/** A real TCP connection over loopback. The listening socket is closed once connected. */
export const tcpTransport: TransportFactory = async () => {
  const server = createServer({ noDelay: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = connect({ host: '127.0.0.1', port, noDelay: true });
  const [[agentEnd]] = await Promise.all([accepted, once(client, 'connect')]);
  server.close();
  return [client, agentEnd];
};

/** The variants every session suite runs over. `swapped`: the agent opens, the client accepts. */
export const variants: Array<{ name: string; transport: TransportFactory; swapped: boolean }> = [
  { name: 'in-memory pair', transport: memoryTransport, swapped: false },
  { name: 'loopback TCP', transport: tcpTransport, swapped: false },
  { name: 'in-memory pair, agent opens', transport: memoryTransport, swapped: true },
  { name: 'loopback TCP, agent opens', transport: tcpTransport, swapped: true },
];

export interface Pair {
  client: Session;
  agent: Session;
  /** The side that opens streams in this variant, and the side that accepts them. */
  opener: Session;
  acceptor: Session;
  /** Ends both sessions at once; safe to call twice. */
  destroy(): void;
}

export async function connectPair(transport: TransportFactory, swapped: boolean, options: SessionOptions = {}): Promise<Pair> {
  const [clientEnd, agentEnd] = await transport();
  return connectOver(clientEnd, agentEnd, swapped, options);
}

export async function connectOver(clientEnd: Duplex, agentEnd: Duplex, swapped: boolean, options: SessionOptions = {}): Promise<Pair> {
  const [client, agent] = await Promise.all([
    Session.connect(clientEnd, { token: TOKEN, client: 'test-client', ...options }),
    Session.accept(agentEnd, { verifyToken, agent: 'test-agent', ...options }),
  ]);
  track(client);
  track(agent);
  return {
    client, agent,
    opener: swapped ? agent : client,
    acceptor: swapped ? client : agent,
    destroy() { client.destroy(); agent.destroy(); },
  };
}

/**
 * Puts a relay in front of the agent's end that can be muted: after `mute()` nothing passes in
 * either direction, as when a NAT forgets the flow, but neither side sees a close. The agent's
 * session runs on the returned end.
 */
export function mutableLink(agentEnd: Duplex): { agentEnd: Duplex; mute(): void } {
  const [sessionEnd, relayEnd] = duplexPair();
  let muted = false;
  relayEnd.on('data', (chunk: Buffer) => { if (!muted) agentEnd.write(chunk); });
  agentEnd.on('data', (chunk: Buffer) => { if (!muted) relayEnd.write(chunk); });
  agentEnd.on('error', () => {});
  return { agentEnd: sessionEnd, mute: () => { muted = true; } };
}

/** Makes the acceptor echo every stream: accept, pipe into itself (FIN comes back after FIN). */
export function echoStreams(session: Session): void {
  session.on('stream', (stream: MuxStream) => {
    stream.on('error', () => {});
    stream.accept();
    stream.pipe(stream);
  });
}

/**
 * Reads a stream to its end. Unlike `for await`, it leaves the stream alive afterwards, so a
 * half-closed stream can still be written to.
 */
export function readAll(stream: Duplex): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => parts.push(chunk));
    stream.once('end', () => resolve(Buffer.concat(parts)));
    stream.once('error', reject);
  });
}

const closings = new WeakMap<Session, Promise<Error | undefined>>();

/**
 * Starts watching for a session's 'close' right away, so that a close which happens before a test
 * awaits `closed()` is not missed. Returns the session.
 */
export function track(session: Session): Session {
  if (!closings.has(session)) {
    closings.set(session, new Promise((resolve) => session.once('close', (err?: Error) => resolve(err))));
  }
  return session;
}

/** Resolves with the error a tracked session closed with (undefined for an orderly close). */
export function closed(session: Session): Promise<Error | undefined> {
  const closing = closings.get(session);
  if (!closing) throw new Error('closed() needs a session passed to track() when it was made');
  return closing;
}

/** Writes `data` in chunks, honouring backpressure, then ends the stream. */
export async function writeAll(stream: Duplex, data: Buffer, chunk = 64 * 1024): Promise<void> {
  for (let at = 0; at < data.length; at += chunk) {
    if (!stream.write(data.subarray(at, at + chunk))) await once(stream, 'drain');
  }
  stream.end();
}

/** A peer that speaks the protocol by hand: sends raw bytes, records every frame it receives. */
export class RawPeer {
  readonly frames: Array<{ type: number; flags: number; streamId: number; payload: Buffer }> = [];
  readonly transport: Duplex;
  #waiters: Array<() => void> = [];

  constructor(transport: Duplex) {
    this.transport = transport;
    const decoder = new FrameDecoder({
      onFrame: (type, flags, streamId, payload) => this.#record(type, flags, streamId, Buffer.from(payload)),
      onDataStart: () => {},
      onData: () => {},
      onDataEnd: (streamId, flags) => this.#record(FrameType.data, flags, streamId, Buffer.alloc(0)),
    });
    transport.on('data', (chunk: Buffer) => decoder.push(chunk));
    transport.on('error', () => {});
  }

  send(...frames: Buffer[]): void {
    this.transport.write(Buffer.concat(frames));
  }

  /** Plays the client's part of the handshake. */
  async helloAsClient(): Promise<void> {
    this.send(encodeHello({ version: PROTOCOL_VERSION, capabilities: ALL_CAPABILITIES, token: TOKEN, client: 'raw-client' }));
    await this.frame(FrameType.welcome);
  }

  /** Plays the agent's part of the handshake. */
  async welcomeAsAgent(): Promise<void> {
    await this.frame(FrameType.hello);
    this.send(encodeWelcome({ version: PROTOCOL_VERSION, capabilities: ALL_CAPABILITIES, agent: 'raw-agent' }));
  }

  /** Waits for the first frame of `type` (with all of `flags` set, if given). */
  async frame(type: number, flags = 0): Promise<{ type: number; flags: number; streamId: number; payload: Buffer }> {
    for (;;) {
      const found = this.frames.find((f) => f.type === type && (f.flags & flags) === flags);
      if (found) return found;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  #record(type: number, flags: number, streamId: number, payload: Buffer): void {
    this.frames.push({ type, flags, streamId, payload });
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

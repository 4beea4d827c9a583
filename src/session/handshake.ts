/**
 * The first exchange of a session: the CLI sends HELLO (magic, version, capabilities, token), the
 * agent checks the token before anything else, then the version, and answers WELCOME or GOAWAY.
 * Nothing else may be sent before it completes.
 */
import type { Duplex } from 'node:stream';
import { Capability, FrameType, GoAwayCode, HEADER_SIZE, MAX_HANDSHAKE_FRAME, PROTOCOL_VERSION } from '../protocol/constants.ts';
import { ProtocolError, ProtocolErrorCode } from '../protocol/errors.ts';
import { decodeGoAway, decodeHello, decodeWelcome, encodeGoAway, encodeHello, encodeWelcome, type Hello } from '../protocol/frames.ts';

/** Everything this build can do. */
export const ALL_CAPABILITIES = Capability.tcpConnect | Capability.dns | Capability.udp | Capability.incoming | Capability.files | Capability.env;

const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

export interface ConnectOptions {
  /** The session's secret token (TOKEN_BYTES raw bytes, or their hex). */
  token: Buffer | string;
  capabilities?: number;
  /** Name and version for the agent's log. */
  client?: string;
  handshakeTimeoutMs?: number;
  /** Protocol version to announce; only tests of version mismatch set it. */
  version?: number;
}

export interface AcceptOptions {
  /** Checks a HELLO's token in constant time. Called before anything else in the HELLO is trusted. */
  verifyToken(token: Buffer): boolean;
  capabilities?: number;
  agent?: string;
  handshakeTimeoutMs?: number;
}

/** What a completed handshake hands to the session. */
export interface Handshaken {
  capabilities: number;
  peerName: string;
  /** Bytes that arrived behind the handshake frame; the session decodes them first. */
  leftover: Buffer[];
  /** The HELLO, on the agent side. */
  hello?: Hello;
}

export async function clientHandshake(transport: Duplex, options: ConnectOptions): Promise<Handshaken> {
  const token = typeof options.token === 'string' ? Buffer.from(options.token, 'hex') : options.token;
  const capabilities = options.capabilities ?? ALL_CAPABILITIES;
  transport.write(encodeHello({
    version: options.version ?? PROTOCOL_VERSION,
    capabilities,
    token,
    client: options.client ?? 'kubectl-mirrord',
  }));
  const { type, payload, leftover } = await readFirstFrame(transport, options.handshakeTimeoutMs, 'the agent');
  if (type === FrameType.goAway) {
    const { code, message } = decodeGoAway(payload);
    transport.destroy();
    throw refusal(code, message);
  }
  if (type !== FrameType.welcome) {
    transport.destroy();
    throw new ProtocolError(ProtocolErrorCode.unexpected, `the agent answered HELLO with frame type ${type}, not WELCOME`);
  }
  const welcome = decodeWelcome(payload);
  const version = options.version ?? PROTOCOL_VERSION;
  if (welcome.version !== version) {
    transport.destroy();
    throw new ProtocolError(ProtocolErrorCode.versionMismatch,
      `the agent (${welcome.agent}) speaks protocol version ${welcome.version}, this CLI speaks ${version}`);
  }
  return { capabilities: welcome.capabilities & capabilities, peerName: welcome.agent, leftover };
}

export async function serverHandshake(transport: Duplex, options: AcceptOptions): Promise<Handshaken> {
  const { type, payload, leftover } = await readFirstFrame(transport, options.handshakeTimeoutMs, 'the client');
  const refuse = (err: ProtocolError): never => {
    transport.end(encodeGoAway(err.goAwayCode, err.message));
    setTimeout(() => transport.destroy(), 1000).unref();
    throw err;
  };
  if (type !== FrameType.hello) {
    refuse(new ProtocolError(ProtocolErrorCode.unexpected, `the first frame must be HELLO, got frame type ${type}`));
  }
  let hello: Hello;
  try {
    hello = decodeHello(payload);
  } catch (err) {
    return refuse(err as ProtocolError);
  }
  if (!options.verifyToken(hello.token)) {
    refuse(new ProtocolError(ProtocolErrorCode.authFailed,
      'the session token was rejected: this agent belongs to another session', GoAwayCode.authFailed));
  }
  if (hello.version !== PROTOCOL_VERSION) {
    refuse(new ProtocolError(ProtocolErrorCode.versionMismatch,
      `the agent speaks protocol version ${PROTOCOL_VERSION} but ${hello.client} speaks ${hello.version}: use the agent image that matches the CLI version`,
      GoAwayCode.versionMismatch));
  }
  const capabilities = hello.capabilities & (options.capabilities ?? ALL_CAPABILITIES);
  transport.write(encodeWelcome({ version: PROTOCOL_VERSION, capabilities, agent: options.agent ?? 'kubectl-mirrord-agent' }));
  return { capabilities, peerName: hello.client, leftover, hello };
}

function refusal(code: number, message: string): ProtocolError {
  switch (code) {
    case GoAwayCode.authFailed: return new ProtocolError(ProtocolErrorCode.authFailed, `the agent refused the session: ${message}`, code);
    case GoAwayCode.versionMismatch: return new ProtocolError(ProtocolErrorCode.versionMismatch, `the agent refused the session: ${message}`, code);
    default: return new ProtocolError(ProtocolErrorCode.peerGoAway, `the agent refused the session: ${message}`, GoAwayCode.protocolError);
  }
}

/** Reads exactly one frame from the transport and pauses it, returning any bytes that followed. */
function readFirstFrame(transport: Duplex, timeoutMs = DEFAULT_HANDSHAKE_TIMEOUT_MS, peer: string):
  Promise<{ type: number; payload: Buffer; leftover: Buffer[] }> {
  return new Promise((resolve, reject) => {
    let buffered: Buffer = Buffer.alloc(0);
    const cleanup = () => {
      clearTimeout(timer);
      transport.off('data', onData);
      transport.off('end', onClose);
      transport.off('close', onClose);
      transport.off('error', onError);
      transport.pause();
    };
    const fail = (err: ProtocolError) => {
      cleanup();
      transport.destroy();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      if (buffered.length < HEADER_SIZE) return;
      const length = buffered.readUInt32BE(0);
      if (length > MAX_HANDSHAKE_FRAME) {
        fail(new ProtocolError(ProtocolErrorCode.frameTooLarge,
          `${peer} sent a first frame of ${length} bytes; a handshake frame is at most ${MAX_HANDSHAKE_FRAME} (is it speaking this protocol?)`));
        return;
      }
      if (buffered.length < HEADER_SIZE + length) return;
      cleanup();
      const rest = buffered.subarray(HEADER_SIZE + length);
      resolve({ type: buffered[4], payload: buffered.subarray(HEADER_SIZE, HEADER_SIZE + length), leftover: rest.length ? [rest] : [] });
    };
    const onClose = () => fail(new ProtocolError(ProtocolErrorCode.transportClosed, `${peer} closed the connection during the handshake`));
    const onError = (err: Error) => fail(new ProtocolError(ProtocolErrorCode.transportClosed, `the connection to ${peer} failed during the handshake: ${err.message}`));
    const timer = setTimeout(() => fail(new ProtocolError(ProtocolErrorCode.keepaliveTimeout, `${peer} did not complete the handshake within ${timeoutMs} ms`)), timeoutMs);
    transport.on('data', onData);
    // 'end' as well as 'close': a transport that allows half-open (an in-memory pair, some
    // adapters) never closes by itself when the peer ends, and a handshake cannot finish then.
    transport.on('end', onClose);
    transport.on('close', onClose);
    transport.on('error', onError);
  });
}

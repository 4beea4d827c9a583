/**
 * Encoding and decoding of each frame's payload. The framing itself (header, splitting a byte
 * stream into frames) is in decoder.ts; this file knows what is inside each frame type.
 */
import {
  FrameFlag, FrameType, HEADER_SIZE, HELLO_MAGIC, MAX_FRAME_PAYLOAD, MAX_MESSAGE_BYTES, MAX_NAME_BYTES,
  OpenField, OpenOkField, PING_PAYLOAD, type GoAwayCode, type RequestOp, type ResetReason, type Transport,
} from './constants.ts';
import { utf8Prefix } from './utf8.ts';
import { encodedDestinationSize, readDestination, writeDestination, type Destination } from './address.ts';
import { ProtocolError, ProtocolErrorCode } from './errors.ts';

/** Writes a frame header into `buf` at `offset`. */
export function writeHeader(buf: Buffer, offset: number, length: number, type: FrameType, flags: number, streamId: number): void {
  buf.writeUInt32BE(length, offset);
  buf[offset + 4] = type;
  buf[offset + 5] = flags;
  buf.writeUInt32BE(streamId, offset + 6);
}

/** A whole frame: header followed by `payload`. */
export function encodeFrame(type: FrameType, flags: number, streamId: number, payload?: Buffer): Buffer {
  const length = payload?.length ?? 0;
  if (length > MAX_FRAME_PAYLOAD) throw new RangeError(`frame payload of ${length} bytes exceeds ${MAX_FRAME_PAYLOAD}`);
  const buf = Buffer.allocUnsafe(HEADER_SIZE + length);
  writeHeader(buf, 0, length, type, flags, streamId);
  payload?.copy(buf, HEADER_SIZE);
  return buf;
}

/**
 * A frame of `length` payload bytes with its header written; the caller writes the payload at
 * HEADER_SIZE. The frequent control frames are built this way, in one allocation with no copy.
 */
function allocFrame(type: FrameType, flags: number, streamId: number, length: number): Buffer {
  if (length > MAX_FRAME_PAYLOAD) throw new RangeError(`frame payload of ${length} bytes exceeds ${MAX_FRAME_PAYLOAD}`);
  const buf = Buffer.allocUnsafe(HEADER_SIZE + length);
  writeHeader(buf, 0, length, type, flags, streamId);
  return buf;
}

/** Just the header of a DATA frame; the payload is written after it without copying. */
export function encodeDataHeader(streamId: number, length: number, fin: boolean): Buffer {
  const buf = Buffer.allocUnsafe(HEADER_SIZE);
  writeHeader(buf, 0, length, FrameType.data, fin ? FrameFlag.fin : 0, streamId);
  return buf;
}

function malformed(what: string, why: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.malformed, `malformed ${what} frame: ${why}`);
}

function need(payload: Buffer, size: number, what: string): void {
  if (payload.length < size) throw malformed(what, `payload is ${payload.length} bytes, at least ${size} expected`);
}

// ---- HELLO (cli → agent) ----

export interface Hello {
  version: number;
  capabilities: number;
  token: Buffer;
  /** The client's name and version, for the agent's log, e.g. "kubectl-mirrord/0.1.0". */
  client: string;
}

export function encodeHello(hello: Hello): Buffer {
  const client = utf8Prefix(hello.client, MAX_NAME_BYTES);
  const payload = Buffer.allocUnsafe(4 + 2 + 4 + 1 + hello.token.length + 1 + client.length);
  let at = payload.writeUInt32BE(HELLO_MAGIC, 0);
  at = payload.writeUInt16BE(hello.version, at);
  at = payload.writeUInt32BE(hello.capabilities >>> 0, at);
  payload[at++] = hello.token.length;
  at += hello.token.copy(payload, at);
  payload[at++] = client.length;
  client.copy(payload, at);
  return encodeFrame(FrameType.hello, 0, 0, payload);
}

/** Decodes a HELLO payload. The magic is checked first, so a stranger is named as one. */
export function decodeHello(payload: Buffer): Hello {
  if (payload.length < 4 || payload.readUInt32BE(0) !== HELLO_MAGIC) {
    throw new ProtocolError(ProtocolErrorCode.malformed, 'the first frame is not a kubectl-mirrord HELLO (bad magic)');
  }
  need(payload, 11, 'HELLO');
  const version = payload.readUInt16BE(4);
  const capabilities = payload.readUInt32BE(6);
  const tokenLength = payload[10];
  need(payload, 11 + tokenLength + 1, 'HELLO');
  const token = Buffer.from(payload.subarray(11, 11 + tokenLength));
  const clientLength = payload[11 + tokenLength];
  need(payload, 12 + tokenLength + clientLength, 'HELLO');
  const client = payload.toString('utf8', 12 + tokenLength, 12 + tokenLength + clientLength);
  return { version, capabilities, token, client };
}

// ---- WELCOME (agent → cli) ----

export interface Welcome {
  version: number;
  capabilities: number;
  /** The agent's name and version, e.g. "kubectl-mirrord-agent/0.1.0". */
  agent: string;
}

export function encodeWelcome(welcome: Welcome): Buffer {
  const agent = utf8Prefix(welcome.agent, MAX_NAME_BYTES);
  const payload = Buffer.allocUnsafe(2 + 4 + 1 + agent.length);
  let at = payload.writeUInt16BE(welcome.version, 0);
  at = payload.writeUInt32BE(welcome.capabilities >>> 0, at);
  payload[at++] = agent.length;
  agent.copy(payload, at);
  return encodeFrame(FrameType.welcome, 0, 0, payload);
}

export function decodeWelcome(payload: Buffer): Welcome {
  need(payload, 7, 'WELCOME');
  const agentLength = payload[6];
  need(payload, 7 + agentLength, 'WELCOME');
  return {
    version: payload.readUInt16BE(0),
    capabilities: payload.readUInt32BE(2),
    agent: payload.toString('utf8', 7, 7 + agentLength),
  };
}

// ---- OPEN / OPEN_OK ----

export interface Open {
  /** The opener's receive window for this stream, in bytes. */
  window: number;
  transport: Transport;
  destination: Destination;
  /** Where the stream's bytes come from, when the agent opens a stream for incoming traffic. */
  source?: Destination;
  /** Datagram streams: the opener's idle timeout, ms (OpenField.idleTimeout). */
  idleTimeoutMs?: number;
}

export function encodeOpen(streamId: number, open: Open): Buffer {
  const sourceSize = open.source ? 3 + encodedDestinationSize(open.source) : 0;
  const idleSize = open.idleTimeoutMs !== undefined ? 3 + 4 : 0;
  const payload = Buffer.allocUnsafe(4 + 1 + encodedDestinationSize(open.destination) + sourceSize + idleSize);
  let at = payload.writeUInt32BE(open.window, 0);
  payload[at++] = open.transport;
  at = writeDestination(payload, at, open.destination);
  if (open.source) {
    payload[at++] = OpenField.source;
    payload.writeUInt16BE(sourceSize - 3, at);
    at = writeDestination(payload, at + 2, open.source);
  }
  if (open.idleTimeoutMs !== undefined) {
    payload[at++] = OpenField.idleTimeout;
    at = payload.writeUInt16BE(4, at);
    payload.writeUInt32BE(Math.min(Math.max(0, Math.round(open.idleTimeoutMs)), 0xffffffff), at);
  }
  return encodeFrame(FrameType.open, 0, streamId, payload);
}

export function decodeOpen(payload: Buffer): Open {
  need(payload, 5, 'OPEN');
  const window = payload.readUInt32BE(0);
  const transport = payload[4] as Transport;
  const { dest, next } = readDestination(payload, 5, 'malformed OPEN frame');
  const open: Open = { window, transport, destination: dest };
  // Optional fields: tag u8, length u16, value. Unknown tags are skipped so later versions can add more.
  for (let at = next; at < payload.length;) {
    need(payload, at + 3, 'OPEN');
    const tag = payload[at];
    const length = payload.readUInt16BE(at + 1);
    need(payload, at + 3 + length, 'OPEN');
    if (tag === OpenField.source) {
      open.source = readDestination(payload.subarray(at + 3, at + 3 + length), 0, 'malformed OPEN source field').dest;
    } else if (tag === OpenField.idleTimeout) {
      if (length !== 4) throw malformed('OPEN', `idleTimeout field of ${length} bytes, 4 expected`);
      open.idleTimeoutMs = payload.readUInt32BE(at + 3);
    }
    at += 3 + length;
  }
  return open;
}

/** What OPEN_OK says: the responder's window, and where its socket is connected when it tells. */
export interface OpenOk {
  window: number;
  /** The address the responder connected to (OpenOkField.peer); absent from older peers. */
  peer?: Destination;
}

export function encodeOpenOk(streamId: number, window: number, peer?: Destination): Buffer {
  const peerSize = peer ? 3 + encodedDestinationSize(peer) : 0;
  const payload = Buffer.allocUnsafe(4 + peerSize);
  payload.writeUInt32BE(window, 0);
  if (peer) {
    payload[4] = OpenOkField.peer;
    payload.writeUInt16BE(peerSize - 3, 5);
    writeDestination(payload, 7, peer);
  }
  return encodeFrame(FrameType.openOk, 0, streamId, payload);
}

export function decodeOpenOk(payload: Buffer): OpenOk {
  need(payload, 4, 'OPEN_OK');
  const openOk: OpenOk = { window: payload.readUInt32BE(0) };
  // Optional fields, as in OPEN: unknown tags are skipped.
  for (let at = 4; at < payload.length;) {
    need(payload, at + 3, 'OPEN_OK');
    const tag = payload[at];
    const length = payload.readUInt16BE(at + 1);
    need(payload, at + 3 + length, 'OPEN_OK');
    if (tag === OpenOkField.peer) {
      openOk.peer = readDestination(payload.subarray(at + 3, at + 3 + length), 0, 'malformed OPEN_OK peer field').dest;
    }
    at += 3 + length;
  }
  return openOk;
}

// ---- WINDOW_UPDATE, RESET, PING, GOAWAY ----

export function encodeWindowUpdate(streamId: number, increment: number): Buffer {
  const frame = allocFrame(FrameType.windowUpdate, 0, streamId, 4);
  frame.writeUInt32BE(increment, HEADER_SIZE);
  return frame;
}

export function decodeWindowUpdate(payload: Buffer): number {
  need(payload, 4, 'WINDOW_UPDATE');
  const increment = payload.readUInt32BE(0);
  if (increment === 0) throw malformed('WINDOW_UPDATE', 'increment of 0');
  return increment;
}

/** Reason byte followed by a UTF-8 message (RESET, GOAWAY). */
function encodeCoded(type: FrameType, streamId: number, code: number, message: string): Buffer {
  const text = utf8Prefix(message, MAX_MESSAGE_BYTES);
  const frame = allocFrame(type, 0, streamId, 1 + text.length);
  frame[HEADER_SIZE] = code;
  text.copy(frame, HEADER_SIZE + 1);
  return frame;
}

export function encodeReset(streamId: number, reason: ResetReason, message: string): Buffer {
  return encodeCoded(FrameType.reset, streamId, reason, message);
}

export function decodeReset(payload: Buffer): { reason: ResetReason; message: string } {
  need(payload, 1, 'RESET');
  return { reason: payload[0] as ResetReason, message: payload.toString('utf8', 1) };
}

export function encodeGoAway(code: GoAwayCode, message: string): Buffer {
  return encodeCoded(FrameType.goAway, 0, code, message);
}

export function decodeGoAway(payload: Buffer): { code: GoAwayCode; message: string } {
  need(payload, 1, 'GOAWAY');
  return { code: payload[0] as GoAwayCode, message: payload.toString('utf8', 1) };
}

export function encodePing(opaque: Buffer, ack: boolean): Buffer {
  return encodeFrame(FrameType.ping, ack ? FrameFlag.ack : 0, 0, opaque);
}

export function checkPing(payload: Buffer): void {
  if (payload.length !== PING_PAYLOAD) throw malformed('PING', `payload is ${payload.length} bytes, ${PING_PAYLOAD} expected`);
}

// ---- REQUEST / RESPONSE ----

/** A frame whose payload is `fixed` bytes for the caller to fill, then `body` as JSON. */
function jsonFrame(type: FrameType, id: number, fixed: number, body: unknown): Buffer {
  const json = JSON.stringify(body);
  const frame = allocFrame(type, 0, id, fixed + Buffer.byteLength(json, 'utf8'));
  frame.write(json, HEADER_SIZE + fixed, 'utf8');
  return frame;
}

export function encodeRequest(id: number, op: RequestOp, body: unknown): Buffer {
  const frame = jsonFrame(FrameType.request, id, 2, body);
  frame.writeUInt16BE(op, HEADER_SIZE);
  return frame;
}

export function decodeRequest(payload: Buffer): { op: number; body: unknown } {
  need(payload, 2, 'REQUEST');
  return { op: payload.readUInt16BE(0), body: parseJson(payload.subarray(2), 'REQUEST') };
}

export function encodeResponse(id: number, status: number, body: unknown): Buffer {
  const frame = jsonFrame(FrameType.response, id, 1, body);
  frame[HEADER_SIZE] = status;
  return frame;
}

export function decodeResponse(payload: Buffer): { status: number; body: unknown } {
  need(payload, 1, 'RESPONSE');
  return { status: payload[0], body: parseJson(payload.subarray(1), 'RESPONSE') };
}

function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw malformed(what, 'body is not JSON');
  }
}

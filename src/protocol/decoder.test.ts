import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameType, GoAwayCode, HEADER_SIZE, MAX_FRAME_PAYLOAD, RequestOp, ResetReason, Transport } from './constants.ts';
import { FrameDecoder, type FrameSink } from './decoder.ts';
import { ProtocolError } from './errors.ts';
import {
  checkPing, decodeGoAway, decodeHello, decodeOpen, decodeOpenOk, decodeRequest, decodeReset, decodeResponse,
  decodeWelcome, decodeWindowUpdate, encodeDataHeader, encodeGoAway, encodeHello, encodeOpen, encodeOpenOk,
  encodePing, encodeRequest, encodeReset, encodeResponse, encodeWelcome, encodeWindowUpdate, writeHeader,
} from './frames.ts';

type Event =
  | { kind: 'frame'; type: number; flags: number; id: number; payload: string }
  | { kind: 'dataStart'; id: number; flags: number; length: number }
  | { kind: 'data'; id: number; bytes: string }
  | { kind: 'dataEnd'; id: number; flags: number };

/** Records what the decoder delivers. Payloads are copied: they may be views of the input. */
class RecordingSink implements FrameSink {
  events: Event[] = [];
  onFrame(type: FrameType, flags: number, id: number, payload: Buffer): void {
    this.events.push({ kind: 'frame', type, flags, id, payload: payload.toString('hex') });
  }
  onDataStart(id: number, flags: number, length: number): void {
    this.events.push({ kind: 'dataStart', id, flags, length });
  }
  onData(id: number, piece: Buffer): void {
    assert.ok(piece.length > 0, 'no empty DATA pieces');
    this.events.push({ kind: 'data', id, bytes: piece.toString('hex') });
  }
  onDataEnd(id: number, flags: number): void {
    this.events.push({ kind: 'dataEnd', id, flags });
  }
}

/** Joins each DATA frame's pieces into one event, so chunkings can be compared. */
function normalise(events: Event[]): Event[] {
  const out: Event[] = [];
  for (const e of events) {
    const last = out.at(-1);
    if (e.kind === 'data' && last?.kind === 'data') last.bytes += e.bytes;
    else out.push({ ...e });
  }
  return out;
}

function decodeChunks(chunks: Buffer[]): Event[] {
  const sink = new RecordingSink();
  const decoder = new FrameDecoder(sink);
  for (const chunk of chunks) decoder.push(chunk);
  assert.ok(decoder.idle, 'nothing partial is left after whole frames');
  return sink.events;
}

/** A deterministic PRNG (mulberry32), so a failing garbage case can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const token = Buffer.alloc(32, 7);
const dataPayload = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 31) & 0xff));

/** One of every frame type, DATA empty and not, FIN and not. */
function sampleFrames(): Buffer[] {
  return [
    encodeHello({ version: 1, capabilities: 3, token, client: 'cli' }),
    encodeWelcome({ version: 1, capabilities: 3, agent: 'agent' }),
    encodeOpen(1, { window: 262144, transport: Transport.tcp, destination: { host: 'db.example', port: 5432 } }),
    encodeDataHeader(1, dataPayload.length, false), dataPayload,
    encodeOpenOk(1, 524288),
    encodeDataHeader(1, 0, true),
    encodeWindowUpdate(1, 1000),
    encodeReset(3, ResetReason.refused, 'refused'),
    encodePing(Buffer.alloc(8, 1), false),
    encodePing(Buffer.alloc(8, 1), true),
    encodeRequest(1, RequestOp.dnsLookup, { host: 'x' }),
    encodeResponse(1, 0, { addresses: ['10.0.0.1'] }),
    encodeDataHeader(3, 5, true), Buffer.from('hello'),
    encodeGoAway(GoAwayCode.normal, 'bye'),
  ];
}

test('the sample sequence decodes to the expected events', () => {
  const events = normalise(decodeChunks([Buffer.concat(sampleFrames())]));
  assert.deepEqual(events.map((e) => e.kind === 'frame' ? `frame:${e.type}` : e.kind), [
    'frame:1', 'frame:2', 'frame:3', 'dataStart', 'data', 'dataEnd', 'frame:4', 'dataStart', 'dataEnd',
    'frame:6', 'frame:7', 'frame:8', 'frame:8', 'frame:10', 'frame:11', 'dataStart', 'data', 'dataEnd', 'frame:9',
  ]);
  assert.deepEqual(events[3], { kind: 'dataStart', id: 1, flags: 0, length: 300 });
  assert.deepEqual(events[4], { kind: 'data', id: 1, bytes: dataPayload.toString('hex') });
  assert.deepEqual(events[8], { kind: 'dataEnd', id: 1, flags: 1 });
  assert.deepEqual(events[12], { kind: 'frame', type: 8, flags: 2, id: 0, payload: '0101010101010101' });
});

test('whole, one byte at a time, and split at every offset: the same events', () => {
  const stream = Buffer.concat(sampleFrames());
  const expected = normalise(decodeChunks([stream]));
  const bytewise = decodeChunks([...stream].map((b) => Buffer.from([b])));
  assert.deepEqual(normalise(bytewise), expected);
  // Byte-at-a-time DATA arrives in one-byte pieces: the decoder does not gather them.
  assert.equal(bytewise.filter((e) => e.kind === 'data').length, dataPayload.length + 5);
  for (let cut = 1; cut < stream.length; cut++) {
    assert.deepEqual(normalise(decodeChunks([stream.subarray(0, cut), stream.subarray(cut)])), expected, `split at ${cut}`);
  }
});

test('random chunkings of a large DATA frame deliver pieces that concatenate to the payload', () => {
  const random = prng(42);
  const payload = Buffer.from(Array.from({ length: 200_000 }, () => Math.floor(random() * 256)));
  const stream = Buffer.concat([encodeDataHeader(5, payload.length, true), payload, encodePing(Buffer.alloc(8), false)]);
  for (let round = 0; round < 20; round++) {
    const chunks: Buffer[] = [];
    for (let at = 0; at < stream.length;) {
      const n = 1 + Math.floor(random() * 20_000);
      chunks.push(stream.subarray(at, at + n));
      at += n;
    }
    const events = decodeChunks(chunks);
    const pieces = events.filter((e) => e.kind === 'data').map((e) => Buffer.from(e.bytes, 'hex'));
    assert.ok(Buffer.concat(pieces).equals(payload));
    assert.deepEqual(events[0], { kind: 'dataStart', id: 5, flags: 1, length: payload.length });
    assert.deepEqual(events.at(-2), { kind: 'dataEnd', id: 5, flags: 1 });
    assert.equal(events.at(-1)?.kind, 'frame');
  }
});

test('an unknown type is EPROTO_UNKNOWN_TYPE naming the type and stream', () => {
  const header = Buffer.alloc(HEADER_SIZE);
  writeHeader(header, 0, 0, 99 as FrameType, 0, 3);
  for (const type of [0, 12, 99, 255]) {
    header[4] = type;
    const decoder = new FrameDecoder(new RecordingSink());
    assert.throws(() => decoder.push(header), (err: unknown) => {
      assert.ok(err instanceof ProtocolError);
      assert.equal(err.code, 'EPROTO_UNKNOWN_TYPE');
      assert.match(err.message, new RegExp(`unknown frame type ${type} on stream 3`));
      return true;
    });
  }
});

test('an oversized length is EPROTO_FRAME_TOO_LARGE as soon as the header is in', () => {
  const header = Buffer.alloc(HEADER_SIZE);
  writeHeader(header, 0, MAX_FRAME_PAYLOAD + 1, FrameType.data, 0, 1);
  const sink = new RecordingSink();
  const decoder = new FrameDecoder(sink);
  decoder.push(header.subarray(0, HEADER_SIZE - 1));
  assert.throws(() => decoder.push(header.subarray(HEADER_SIZE - 1)), (err: unknown) => {
    assert.ok(err instanceof ProtocolError);
    assert.equal(err.code, 'EPROTO_FRAME_TOO_LARGE');
    assert.match(err.message, new RegExp(`${MAX_FRAME_PAYLOAD + 1} bytes on stream 1 exceeds the ${MAX_FRAME_PAYLOAD}-byte limit`));
    return true;
  });
  assert.deepEqual(sink.events, [], 'nothing of the oversized frame reached the sink');
  // Exactly the limit is fine: the decoder waits for the payload.
  writeHeader(header, 0, MAX_FRAME_PAYLOAD, FrameType.ping, 0, 0);
  const waiting = new FrameDecoder(new RecordingSink());
  waiting.push(header);
  assert.equal(waiting.idle, false);
});

test('after a failure every push throws the same error', () => {
  const decoder = new FrameDecoder(new RecordingSink());
  const bad = Buffer.alloc(HEADER_SIZE, 0xff);
  let first: unknown;
  assert.throws(() => decoder.push(bad), (err) => { first = err; return true; });
  assert.throws(() => decoder.push(encodePing(Buffer.alloc(8), false)), (err) => err === first);
});

test('a sink error stops the decoder; a non-protocol error becomes EPROTO_MALFORMED', () => {
  const sink = new RecordingSink();
  sink.onFrame = () => { throw new TypeError('boom'); };
  const decoder = new FrameDecoder(sink);
  assert.throws(() => decoder.push(encodePing(Buffer.alloc(8), false)), (err: unknown) => {
    assert.ok(err instanceof ProtocolError);
    assert.equal(err.code, 'EPROTO_MALFORMED');
    assert.match(err.message, /frame handling failed: boom/);
    return true;
  });
});

/**
 * Decodes each frame's payload with its codec, as the session does, so garbage reaches the codecs
 * too. The decoder turns any sink error into a ProtocolError, so a codec's own RangeError or
 * TypeError is caught here, where it is still visible.
 */
class DecodingSink implements FrameSink {
  foreign: unknown;
  onFrame(type: FrameType, flags: number, id: number, payload: Buffer): void {
    try {
      this.#decode(type, flags, id, payload);
    } catch (err) {
      if (!(err instanceof ProtocolError)) this.foreign ??= err;
      throw err;
    }
  }
  #decode(type: FrameType, _flags: number, _id: number, payload: Buffer): void {
    const decoders: Record<number, (p: Buffer) => unknown> = {
      [FrameType.hello]: decodeHello, [FrameType.welcome]: decodeWelcome, [FrameType.open]: decodeOpen,
      [FrameType.openOk]: decodeOpenOk, [FrameType.windowUpdate]: decodeWindowUpdate, [FrameType.reset]: decodeReset,
      [FrameType.ping]: checkPing, [FrameType.goAway]: decodeGoAway, [FrameType.request]: decodeRequest,
      [FrameType.response]: decodeResponse,
    };
    decoders[type](payload);
  }
  onDataStart(): void {}
  onData(): void {}
  onDataEnd(): void {}
}

test('random garbage only ever throws ProtocolError, and always returns', () => {
  const random = prng(20261122);
  const byte = () => Math.floor(random() * 256);
  let failures = 0;
  for (let iteration = 0; iteration < 3000; iteration++) {
    const parts: Buffer[] = [];
    const frames = 1 + Math.floor(random() * 4);
    for (let f = 0; f < frames; f++) {
      // Mostly plausible headers (known type, short length) so the payload codecs see garbage too.
      const length = random() < 0.9 ? Math.floor(random() * 64) : byte() << 24 | byte() << 16 | byte();
      const header = Buffer.alloc(HEADER_SIZE);
      header.writeUInt32BE(length >>> 0, 0);
      header[4] = random() < 0.9 ? 1 + Math.floor(random() * 11) : byte();
      header[5] = byte();
      header.writeUInt32BE(Math.floor(random() * 8), 6);
      parts.push(random() < 0.8 ? header : Buffer.from(Array.from({ length: HEADER_SIZE }, byte)));
      parts.push(Buffer.from(Array.from({ length: Math.min(length >>> 0, 64) }, byte)));
    }
    const input = Buffer.concat(parts);
    const sink = new DecodingSink();
    const decoder = new FrameDecoder(sink);
    try {
      for (let at = 0; at < input.length;) {
        const n = 1 + Math.floor(random() * 16);
        decoder.push(input.subarray(at, at + n));
        at += n;
      }
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw new Error(`iteration ${iteration}: ${String(err)}`, { cause: err });
      assert.match(err.code, /^EPROTO_/);
      if (sink.foreign) throw new Error(`iteration ${iteration}: a codec threw ${String(sink.foreign)}`, { cause: sink.foreign });
      failures++;
    }
  }
  assert.ok(failures > 1000, `most garbage is refused (${failures} of 3000)`);
});

/**
 * Payload codecs. The hex fixtures are written out by hand from the format in docs/protocol.md and
 * constants.ts, not produced by the encoder, so a change in the encoder's byte layout fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameType, GoAwayCode, HEADER_SIZE, INITIAL_WINDOW, MAX_FRAME_PAYLOAD, RequestOp, ResetReason, ResponseStatus, Transport } from './constants.ts';
import { ProtocolError } from './errors.ts';
import {
  checkPing, decodeGoAway, decodeHello, decodeOpen, decodeOpenOk, decodeRequest, decodeReset, decodeResponse,
  decodeWelcome, decodeWindowUpdate, encodeDataHeader, encodeFrame, encodeGoAway, encodeHello, encodeOpen,
  encodeOpenOk, encodePing, encodeRequest, encodeReset, encodeResponse, encodeWelcome, encodeWindowUpdate, type Open,
} from './frames.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const payloadOf = (frame: Buffer) => frame.subarray(HEADER_SIZE);
const token = Buffer.from(Array.from({ length: 32 }, (_, i) => i));

function assertMalformed(fn: () => unknown, frameName: string, why?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ProtocolError, `expected a ProtocolError, got ${String(err)}`);
    assert.equal(err.code, 'EPROTO_MALFORMED');
    assert.ok(err.message.includes(frameName), `"${err.message}" names ${frameName}`);
    if (why) assert.match(err.message, why);
    return true;
  });
}

test('HELLO: fixture and round trip', () => {
  const frame = encodeHello({ version: 1, capabilities: 3, token, client: 'cli' });
  assert.deepEqual(frame, hex(`0000002f 01 00 00000000  4b4d5244 0001 00000003 20 ${token.toString('hex')} 03 636c69`));
  assert.deepEqual(decodeHello(payloadOf(frame)), { version: 1, capabilities: 3, token, client: 'cli' });
  const wide = { version: 65535, capabilities: 0xffffffff, token: Buffer.alloc(0), client: '' };
  assert.deepEqual(decodeHello(payloadOf(encodeHello(wide))), wide);
});

test('HELLO: a long client name is cut at 255 bytes', () => {
  const hello = decodeHello(payloadOf(encodeHello({ version: 1, capabilities: 0, token, client: 'x'.repeat(300) })));
  assert.equal(hello.client, 'x'.repeat(255));
});

test('WELCOME: fixture and round trip', () => {
  const frame = encodeWelcome({ version: 1, capabilities: 3, agent: 'ag' });
  assert.deepEqual(frame, hex('00000009 02 00 00000000  0001 00000003 02 6167'));
  assert.deepEqual(decodeWelcome(payloadOf(frame)), { version: 1, capabilities: 3, agent: 'ag' });
});

test('OPEN: IPv4, IPv6 and hostname fixtures', () => {
  const v4 = encodeOpen(1, { window: INITIAL_WINDOW, transport: Transport.tcp, destination: { host: '10.0.0.7', port: 80 } });
  assert.deepEqual(v4, hex('0000000c 03 00 00000001  00040000 01 01 0a000007 0050'));
  const v6 = encodeOpen(3, { window: INITIAL_WINDOW, transport: Transport.tcp, destination: { host: '2001:db8::1', port: 443 } });
  assert.deepEqual(v6, hex('00000018 03 00 00000003  00040000 01 04 20010db8000000000000000000000001 01bb'));
  const name = encodeOpen(5, { window: INITIAL_WINDOW, transport: Transport.udp, destination: { host: 'db', port: 5432 } });
  assert.deepEqual(name, hex('0000000b 03 00 00000005  00040000 02 03 02 6462 1538'));
});

test('OPEN: the source field fixture', () => {
  const open: Open = {
    window: INITIAL_WINDOW, transport: Transport.tcp,
    destination: { host: '10.0.0.7', port: 80 }, source: { host: '192.168.1.2', port: 54321 },
  };
  const frame = encodeOpen(2, open);
  assert.deepEqual(frame, hex('00000016 03 00 00000002  00040000 01 01 0a000007 0050  01 0007 01 c0a80102 d431'));
  assert.deepEqual(decodeOpen(payloadOf(frame)), open);
});

test('OPEN: round trips', () => {
  const opens: Open[] = [
    { window: 0xffffffff, transport: Transport.tcp, destination: { host: '::1', port: 1 } },
    { window: 0, transport: Transport.udp, destination: { host: 'a'.repeat(255), port: 65535 } },
    { window: 1, transport: Transport.tcp, destination: { host: 'x', port: 9 }, source: { host: 'fe80::2', port: 7 } },
    { window: 1, transport: Transport.udp, destination: { host: '10.96.0.10', port: 53 }, idleTimeoutMs: 120_000 },
    { window: 1, transport: Transport.udp, destination: { host: 'x', port: 9 }, source: { host: '10.0.0.1', port: 7 }, idleTimeoutMs: 0 },
    { window: 7, transport: Transport.tcp, destination: { host: '1.2.3.4', port: 9 }, source: { host: 'client.example', port: 7 } },
  ];
  for (const open of opens) assert.deepEqual(decodeOpen(payloadOf(encodeOpen(9, open))), open);
});

test('OPEN: the idleTimeout field, and a bad one', () => {
  const frame = encodeOpen(1, { window: INITIAL_WINDOW, transport: Transport.udp, destination: { host: '10.96.0.10', port: 53 }, idleTimeoutMs: 120_000 });
  assert.deepEqual(frame, hex('00000013 03 00 00000001  00040000 02 01 0a60000a 0035  02 0004 0001d4c0'));
  assertMalformed(() => decodeOpen(hex('00040000 02 01 0a60000a 0035  02 0002 0001')), 'OPEN', /idleTimeout field of 2 bytes, 4 expected/);
});

test('OPEN: unknown optional fields are skipped, known ones still read', () => {
  const base = '00040000 01 01 0a000007 0050';
  const source = '01 0007 01 c0a80102 d431';
  const unknown = '09 0003 aabbcc';
  const empty = '7f 0000';
  const expected = { window: INITIAL_WINDOW, transport: Transport.tcp, destination: { host: '10.0.0.7', port: 80 } };
  assert.deepEqual(decodeOpen(hex(base + unknown)), expected);
  assert.deepEqual(decodeOpen(hex(base + unknown + source + empty)), { ...expected, source: { host: '192.168.1.2', port: 54321 } });
});

test('OPEN_OK, WINDOW_UPDATE, DATA header: fixtures and round trips', () => {
  assert.deepEqual(encodeOpenOk(1, 0x100000), hex('00000004 04 00 00000001  00100000'));
  assert.deepEqual(decodeOpenOk(hex('00100000')), { window: 0x100000 });
  // Optional peer field (tag 1, length 7: IPv4 10.96.0.10 port 53), and an unknown tag skipped.
  assert.deepEqual(encodeOpenOk(3, 0x40000, { host: '10.96.0.10', port: 53 }), hex('0000000e 04 00 00000003  00040000 01 0007 01 0a60000a 0035'));
  assert.deepEqual(decodeOpenOk(hex('00040000 09 0002 abcd 01 0007 01 0a60000a 0035')), { window: 0x40000, peer: { host: '10.96.0.10', port: 53 } });
  assert.deepEqual(decodeOpenOk(encodeOpenOk(5, 1, { host: 'fd00::1', port: 5353 }).subarray(10)), { window: 1, peer: { host: 'fd00::1', port: 5353 } });
  assertMalformed(() => decodeOpenOk(hex('00040000 01 0009 01 0a60')), 'OPEN_OK');
  assert.deepEqual(encodeWindowUpdate(1, 0x8000), hex('00000004 06 00 00000001  00008000'));
  assert.equal(decodeWindowUpdate(hex('ffffffff')), 0xffffffff);
  assert.deepEqual(encodeDataHeader(7, 0x10000, true), hex('00010000 05 01 00000007'));
  assert.deepEqual(encodeDataHeader(0xfffffffe, 0, false), hex('00000000 05 00 fffffffe'));
});

test('RESET and GOAWAY: fixtures and round trips', () => {
  assert.deepEqual(encodeReset(9, ResetReason.refused, 'no'), hex('00000003 07 00 00000009  01 6e6f'));
  assert.deepEqual(decodeReset(hex('01 6e6f')), { reason: ResetReason.refused, message: 'no' });
  assert.deepEqual(decodeReset(hex('04')), { reason: ResetReason.dnsFailure, message: '' });
  assert.deepEqual(encodeGoAway(GoAwayCode.protocolError, 'bad'), hex('00000004 09 00 00000000  01 626164'));
  assert.deepEqual(decodeGoAway(payloadOf(encodeGoAway(GoAwayCode.idle, 'idle ✓'))), { code: GoAwayCode.idle, message: 'idle ✓' });
  // Messages are capped so a frame never nears MAX_FRAME_PAYLOAD.
  assert.equal(decodeReset(payloadOf(encodeReset(1, ResetReason.internal, 'm'.repeat(10_000)))).message.length, 4096);
});

test('PING: fixture, ACK flag and payload check', () => {
  const opaque = hex('0102030405060708');
  assert.deepEqual(encodePing(opaque, true), hex('00000008 08 02 00000000  0102030405060708'));
  assert.deepEqual(encodePing(opaque, false), hex('00000008 08 00 00000000  0102030405060708'));
  checkPing(opaque);
  assertMalformed(() => checkPing(hex('01')), 'PING', /1 bytes, 8 expected/);
  assertMalformed(() => checkPing(Buffer.alloc(9)), 'PING', /9 bytes/);
});

test('REQUEST and RESPONSE: fixtures and round trips', () => {
  assert.deepEqual(encodeRequest(5, RequestOp.dnsLookup, { host: 'x' }),
    hex(`0000000e 0a 00 00000005  0001 ${Buffer.from('{"host":"x"}').toString('hex')}`));
  assert.deepEqual(decodeRequest(hex(`0001 ${Buffer.from('{"host":"x"}').toString('hex')}`)), { op: 1, body: { host: 'x' } });
  assert.deepEqual(encodeResponse(5, ResponseStatus.ok, [1]), hex('00000004 0b 00 00000005  00 5b315d'));
  assert.deepEqual(decodeResponse(payloadOf(encodeResponse(5, ResponseStatus.error, { code: 'ENOTFOUND', message: 'm' }))),
    { status: ResponseStatus.error, body: { code: 'ENOTFOUND', message: 'm' } });
  assert.deepEqual(decodeResponse(payloadOf(encodeResponse(6, ResponseStatus.ok, null))), { status: 0, body: null });
});

test('encodeFrame refuses a payload above MAX_FRAME_PAYLOAD and accepts one at it', () => {
  assert.equal(encodeFrame(FrameType.data, 0, 1, Buffer.alloc(MAX_FRAME_PAYLOAD)).length, HEADER_SIZE + MAX_FRAME_PAYLOAD);
  assert.throws(() => encodeFrame(FrameType.data, 0, 1, Buffer.alloc(MAX_FRAME_PAYLOAD + 1)), RangeError);
});

test('malformed payloads are EPROTO_MALFORMED naming the frame', () => {
  const hello = payloadOf(encodeHello({ version: 1, capabilities: 3, token, client: 'cli' }));
  assertMalformed(() => decodeHello(hex('')), 'HELLO', /bad magic/);
  assertMalformed(() => decodeHello(hex('474554202f20')), 'HELLO', /bad magic/);
  for (let cut = 4; cut < hello.length; cut++) assertMalformed(() => decodeHello(hello.subarray(0, cut)), 'HELLO');
  const welcome = payloadOf(encodeWelcome({ version: 1, capabilities: 3, agent: 'ag' }));
  for (let cut = 0; cut < welcome.length; cut++) assertMalformed(() => decodeWelcome(welcome.subarray(0, cut)), 'WELCOME');
  const open = hex('00040000 01 01 0a000007 0050  01 0007 01 c0a80102 d431');
  for (let cut = 0; cut < open.length; cut++) {
    if (cut === 12) continue; // the fixed part alone is a whole OPEN
    assertMalformed(() => decodeOpen(open.subarray(0, cut)), 'OPEN');
  }
  assertMalformed(() => decodeOpen(hex('00040000 01 07 0a000007 0050')), 'OPEN', /unknown address type 7/);
  assertMalformed(() => decodeOpen(hex('00040000 01 01 0a000007 0050  01 0003 07 0000')), 'OPEN source field', /unknown address type 7/);
  assertMalformed(() => decodeOpen(hex('00040000 01 01 0a000007 0050  09 0005 aabb')), 'OPEN', /at least/);
  assertMalformed(() => decodeOpenOk(hex('000400')), 'OPEN_OK');
  assertMalformed(() => decodeWindowUpdate(hex('0000')), 'WINDOW_UPDATE');
  assertMalformed(() => decodeWindowUpdate(hex('00000000')), 'WINDOW_UPDATE', /increment of 0/);
  assertMalformed(() => decodeReset(hex('')), 'RESET');
  assertMalformed(() => decodeGoAway(hex('')), 'GOAWAY');
  assertMalformed(() => decodeRequest(hex('00')), 'REQUEST');
  assertMalformed(() => decodeRequest(hex('0001 7b7b')), 'REQUEST', /not JSON/);
  assertMalformed(() => decodeResponse(hex('')), 'RESPONSE');
  assertMalformed(() => decodeResponse(hex('00 ff')), 'RESPONSE', /not JSON/);
});

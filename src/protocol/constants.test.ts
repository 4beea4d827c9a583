/**
 * Every wire number, written out. A renumbering, a reuse or an insertion in the middle of a table
 * fails here: new entries go at the end with a new number, and this file grows with them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  AddressType, Capability, DATA_CHUNK, FirstStreamId, FrameFlag, FrameType, GoAwayCode, HEADER_SIZE,
  HELLO_MAGIC, INITIAL_WINDOW, MAX_FRAME_PAYLOAD, MAX_HANDSHAKE_FRAME, MAX_MESSAGE_BYTES, MAX_NAME_BYTES,
  MAX_DATAGRAM, MAX_DATAGRAM_IDLE_MS, OpenField, OpenOkField, PING_PAYLOAD, PROTOCOL_VERSION, RequestOp, ResetReason, ResponseStatus, TOKEN_BYTES, Transport,
} from './constants.ts';
import { ProtocolErrorCode, resetReasonCode, resetReasonForErrno } from './errors.ts';

/** The table's entries in declaration order, so an insertion in the middle is caught too. */
const entries = (table: Record<string, number>) => Object.entries(table);

test('scalar constants have their specified values', () => {
  assert.equal(PROTOCOL_VERSION, 1);
  assert.equal(HELLO_MAGIC, 0x4b4d5244);
  assert.equal(Buffer.from('KMRD').readUInt32BE(0), HELLO_MAGIC);
  assert.equal(HEADER_SIZE, 10);
  assert.equal(MAX_FRAME_PAYLOAD, 1_048_576);
  assert.equal(DATA_CHUNK, 262_144);
  assert.equal(TOKEN_BYTES, 32);
  assert.equal(INITIAL_WINDOW, 262_144);
  assert.equal(MAX_HANDSHAKE_FRAME, 4096);
  assert.equal(MAX_MESSAGE_BYTES, 4096);
  assert.equal(MAX_NAME_BYTES, 255, 'a name length is one u8');
  assert.equal(PING_PAYLOAD, 8);
  assert.deepEqual(Object.entries(FirstStreamId), [['cli', 1], ['agent', 2]]);
  assert.notEqual(FirstStreamId.cli % 2, FirstStreamId.agent % 2, 'the two sides use ids of different parity');
  assert.ok(DATA_CHUNK <= MAX_FRAME_PAYLOAD, 'a DATA chunk must fit in one frame');
  assert.ok(INITIAL_WINDOW >= DATA_CHUNK, 'the initial window must hold at least one DATA chunk');
});

test('frame types: the full table, in order, unique, appended only', () => {
  assert.deepEqual(entries(FrameType), [
    ['hello', 1], ['welcome', 2], ['open', 3], ['openOk', 4], ['data', 5], ['windowUpdate', 6],
    ['reset', 7], ['ping', 8], ['goAway', 9], ['request', 10], ['response', 11],
  ]);
  const values = Object.values(FrameType);
  assert.equal(new Set(values).size, values.length);
  values.forEach((v, i) => assert.equal(v, i + 1, 'types are numbered 1, 2, 3, ... in declaration order'));
  values.forEach((v) => assert.ok(v > 0 && v < 256, 'a type fits the u8 type field'));
});

test('frame flags are distinct bits', () => {
  assert.deepEqual(entries(FrameFlag), [['fin', 0x01], ['ack', 0x02]]);
  assertDistinctBits(Object.values(FrameFlag), 8);
});

test('transports, address types and OPEN fields', () => {
  assert.deepEqual(entries(Transport), [['tcp', 1], ['udp', 2]]);
  // Same numbers as SOCKS5's ATYP (RFC 1928 section 5), so a SOCKS request maps across unchanged.
  assert.deepEqual(entries(AddressType), [['ipv4', 1], ['hostname', 3], ['ipv6', 4]]);
  assert.deepEqual(entries(OpenField), [['source', 1], ['idleTimeout', 2]]);
  assert.deepEqual(entries(OpenOkField), [['peer', 1]]);
});

test('the largest datagram is the largest UDP payload of an IPv6 packet', () => {
  // RFC 8200 section 3: payload length u16; RFC 768: an 8-byte UDP header.
  assert.equal(MAX_DATAGRAM, 65_535 - 8);
  assert.ok(MAX_DATAGRAM <= INITIAL_WINDOW, 'one datagram always fits a fresh window');
  assert.ok(MAX_DATAGRAM <= MAX_FRAME_PAYLOAD);
});

test('reset reasons: the full table, numbered 0.. in order', () => {
  assert.deepEqual(entries(ResetReason), [
    ['cancelled', 0], ['refused', 1], ['hostUnreachable', 2], ['networkUnreachable', 3],
    ['dnsFailure', 4], ['timeout', 5], ['connectionReset', 6], ['notAllowed', 7],
    ['protocolError', 8], ['internal', 9], ['goingAway', 10], ['unsupported', 11],
  ]);
  Object.values(ResetReason).forEach((v, i) => assert.equal(v, i));
});

test('every reset reason maps to its own Node-style code, and errno maps back', () => {
  const expected: Record<string, string> = {
    cancelled: 'ECANCELED', refused: 'ECONNREFUSED', hostUnreachable: 'EHOSTUNREACH',
    networkUnreachable: 'ENETUNREACH', dnsFailure: 'ENOTFOUND', timeout: 'ETIMEDOUT',
    connectionReset: 'ECONNRESET', notAllowed: 'EACCES', protocolError: 'EPROTO', internal: 'EINTERNAL',
    goingAway: 'ESHUTDOWN', unsupported: 'EAFNOSUPPORT',
  };
  for (const [name, reason] of entries(ResetReason)) {
    assert.equal(resetReasonCode(reason as ResetReason), expected[name], name);
  }
  assert.equal(new Set(Object.values(expected)).size, Object.keys(expected).length);
  assert.equal(resetReasonCode(200 as ResetReason), 'EINTERNAL', 'an unknown reason from a newer peer');
  // Round trip for the codes that name a reason directly (cancelled and internal have no errno).
  for (const [name, code] of Object.entries(expected)) {
    if (name === 'cancelled' || name === 'internal' || name === 'protocolError' || name === 'goingAway') continue;
    assert.equal(resetReasonForErrno(code), ResetReason[name as keyof typeof ResetReason], code);
  }
  assert.equal(resetReasonForErrno('EAI_AGAIN'), ResetReason.dnsFailure);
  assert.equal(resetReasonForErrno('EPIPE'), ResetReason.connectionReset);
  assert.equal(resetReasonForErrno(undefined), ResetReason.internal);
  assert.equal(resetReasonForErrno('EWHATEVER'), ResetReason.internal);
});

test('GOAWAY codes: the full table', () => {
  assert.deepEqual(entries(GoAwayCode), [
    ['normal', 0], ['protocolError', 1], ['authFailed', 2], ['versionMismatch', 3], ['idle', 4], ['internal', 5], ['stopped', 6],
  ]);
  Object.values(GoAwayCode).forEach((v, i) => assert.equal(v, i));
});

test('capabilities are distinct powers of two, appended in order', () => {
  assert.deepEqual(entries(Capability), [
    ['tcpConnect', 1], ['dns', 2], ['udp', 4], ['incoming', 8], ['files', 16], ['env', 32],
  ]);
  assertDistinctBits(Object.values(Capability), 32);
  Object.values(Capability).forEach((v, i) => assert.equal(v, 2 ** i));
});

test('request operations and response statuses', () => {
  assert.deepEqual(entries(RequestOp), [['dnsLookup', 1], ['portSubscribe', 2], ['portUnsubscribe', 3], ['notice', 4], ['targetEnv', 5], ['fileStat', 6], ['fileRead', 7], ['dirList', 8], ['readLink', 9], ['dnsReverse', 10], ['sessionEnd', 11]]);
  assert.deepEqual(entries(ResponseStatus), [['ok', 0], ['error', 1]]);
});

test('protocol error codes are stable strings and unique', () => {
  assert.deepEqual(Object.entries(ProtocolErrorCode), [
    ['malformed', 'EPROTO_MALFORMED'], ['unknownType', 'EPROTO_UNKNOWN_TYPE'],
    ['frameTooLarge', 'EPROTO_FRAME_TOO_LARGE'], ['unexpected', 'EPROTO_UNEXPECTED'],
    ['windowViolation', 'EPROTO_WINDOW'], ['authFailed', 'EAUTH'], ['versionMismatch', 'EVERSION'],
    ['keepaliveTimeout', 'ETIMEDOUT'], ['transportClosed', 'ECONNRESET'], ['peerGoAway', 'EGOAWAY'],
  ]);
});

/** docs/protocol.md, the prose specification these numbers come from. */
const spec = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');

/**
 * The rows of the spec's markdown table whose header row starts with `firstColumn`, as
 * [number, name, ...rest] with the number parsed.
 */
function specTable(firstColumn: string): Array<[number, string, ...string[]]> {
  const lines = spec.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`| ${firstColumn} | name |`));
  assert.ok(start >= 0, `docs/protocol.md has a table starting "| ${firstColumn} | name |"`);
  const rows: Array<[number, string, ...string[]]> = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const [num, name, ...rest] = line.split('|').slice(1, -1).map((c) => c.trim());
    rows.push([Number(num), name, ...rest]);
  }
  return rows;
}

/** The spec writes OPEN_OK, the code openOk: compare without case and underscores. */
const sameName = (a: string) => a.replace(/_/g, '').toLowerCase();

function assertSpecAgrees(firstColumn: string, table: Record<string, number>, toRow = (v: number) => v): void {
  const documented = specTable(firstColumn).map(([n, name]) => [n, sameName(name)]);
  const coded = Object.entries(table).map(([name, v]) => [toRow(v), sameName(name)]);
  assert.deepEqual(documented, coded, `the "${firstColumn}" table of docs/protocol.md and constants.ts agree`);
}

test('docs/protocol.md and constants.ts agree on every table', () => {
  assertSpecAgrees('type', FrameType);
  assertSpecAgrees('reason', ResetReason);
  assertSpecAgrees('code', GoAwayCode);
  assertSpecAgrees('bit', Capability, (v) => Math.log2(v));
  assertSpecAgrees('op', RequestOp);
  for (const [reason, , code] of specTable('reason')) assert.equal(resetReasonCode(reason as ResetReason), code);
});

test('docs/protocol.md states the same sizes and magic', () => {
  const spaced = (n: number) => n.toLocaleString('en-US').replace(/,/g, ' ');
  assert.ok(spec.includes(`${HEADER_SIZE}-byte header`));
  assert.ok(spec.includes(`at most ${spaced(MAX_FRAME_PAYLOAD)} (\`MAX_FRAME_PAYLOAD\`)`));
  assert.ok(spec.includes(`\`INITIAL_WINDOW\` (${spaced(INITIAL_WINDOW)} bytes)`));
  assert.ok(spec.includes(`at most ${DATA_CHUNK / 1024} KiB (\`DATA_CHUNK\`)`));
  assert.ok(spec.includes(`(u32 0x${HELLO_MAGIC.toString(16)})`));
  assert.ok(spec.includes(`bit 0 \`FIN\``) && FrameFlag.fin === 1 << 0);
  assert.ok(spec.includes(`bit 1 \`ACK\``) && FrameFlag.ack === 1 << 1);
  assert.match(spec, new RegExp(`# The kubectl-mirrord wire protocol, version ${PROTOCOL_VERSION}\\b`));
  assert.ok(spec.includes(`over ${MAX_HANDSHAKE_FRAME} bytes (\`MAX_HANDSHAKE_FRAME\`)`));
  assert.ok(spec.includes(`at most ${MAX_NAME_BYTES} bytes of UTF-8 (\`MAX_NAME_BYTES\`)`));
  assert.ok(spec.includes(`at most ${MAX_MESSAGE_BYTES} (\`MAX_MESSAGE_BYTES\`)`));
  assert.ok(spec.includes(`${PING_PAYLOAD} opaque bytes (\`PING_PAYLOAD\`)`));
  assert.ok(spec.includes(`0 to ${spaced(MAX_DATAGRAM)} bytes (\`MAX_DATAGRAM\``));
  assert.ok(spec.includes(`Tag ${OpenOkField.peer} (\`peer\`)`));
  assert.ok(spec.includes(`Tag ${OpenField.idleTimeout} (\`idleTimeout\`, datagram streams)`));
  assert.equal(MAX_DATAGRAM_IDLE_MS, 86_400_000);
  assert.ok(spec.includes('up to one day (`MAX_DATAGRAM_IDLE_MS`)'));
  assert.ok(spec.includes(`transport u8 (${Transport.tcp} TCP, ${Transport.udp} UDP)`));
  assert.ok(spec.includes(`(\`FirstStreamId\`: cli ${FirstStreamId.cli}, agent ${FirstStreamId.agent}, then steps of 2)`));
});

function assertDistinctBits(values: number[], width: number): void {
  let seen = 0;
  for (const v of values) {
    assert.ok(Number.isInteger(v) && v > 0 && v < 2 ** width, `${v} fits in ${width} bits`);
    assert.equal(v & (v - 1), 0, `${v} is a power of two`);
    assert.equal(seen & v, 0, `${v} is used once`);
    seen |= v;
  }
}

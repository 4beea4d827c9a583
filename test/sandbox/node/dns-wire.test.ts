import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLASSIC_UDP_MAX, DnsFormatError, encodeName, encodeResponse, parseQuery, RCODE, readName, rdata, RR_TYPE } from './dns-wire.ts';

/** A query for `name`/`type` with id 0x1234 and RD set, optionally with an EDNS OPT record. */
function query(name: string, type: number, ednsSize?: number): Buffer {
  const header = Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, ednsSize ? 1 : 0]);
  const q = Buffer.concat([encodeName(name), Buffer.from([0, type, 0, 1])]);
  const opt = ednsSize ? Buffer.from([0, 0, 41, ednsSize >> 8, ednsSize & 255, 0, 0, 0, 0, 0, 0]) : Buffer.alloc(0);
  return Buffer.concat([header, q, opt]);
}

test('parseQuery reads id, flags, question and EDNS size', () => {
  const q = parseQuery(query('ip-info.default.svc.cluster.local', RR_TYPE.A, 1232));
  assert.equal(q.id, 0x1234);
  assert.equal(q.question.name, 'ip-info.default.svc.cluster.local');
  assert.equal(q.question.type, RR_TYPE.A);
  assert.equal(q.ednsUdpSize, 1232);
});

test('readName follows compression pointers and refuses loops', () => {
  // "svc.cluster.local" at 12, then "a" + pointer to 12 at 31.
  const msg = Buffer.concat([Buffer.alloc(12), encodeName('svc.cluster.local'), Buffer.from([1, 0x61, 0xc0, 12])]);
  assert.deepEqual(readName(msg, 31), { name: 'a.svc.cluster.local', next: 35 });
  const loop = Buffer.concat([Buffer.alloc(12), Buffer.from([0xc0, 12])]);
  assert.throws(() => readName(loop, 12), DnsFormatError);
  assert.throws(() => readName(Buffer.from([5, 0x61]), 0), DnsFormatError);
});

test('parseQuery rejects responses and short messages', () => {
  const response = query('a', RR_TYPE.A);
  response[2] |= 0x80;
  assert.throws(() => parseQuery(response), /response, not a query/);
  assert.throws(() => parseQuery(Buffer.alloc(5)), /shorter than the 12-byte header/);
});

test('encodeResponse writes header counts, compresses the answer name and copies RD', () => {
  const q = parseQuery(query('x.cluster.local', RR_TYPE.A));
  const out = encodeResponse(q, { rcode: RCODE.NOERROR, answers: [{ name: 'x.cluster.local', type: RR_TYPE.A, ttl: 5, rdata: rdata.a('10.96.0.1') }], authority: [], authoritative: true });
  assert.equal(out.readUInt16BE(0), 0x1234);
  assert.equal(out.readUInt16BE(2), 0x8000 | 0x0400 | 0x0100 | 0x0080);
  assert.deepEqual([out.readUInt16BE(4), out.readUInt16BE(6), out.readUInt16BE(8), out.readUInt16BE(10)], [1, 1, 0, 0]);
  const answerAt = 12 + encodeName('x.cluster.local').length + 4;
  assert.deepEqual([...out.subarray(answerAt, answerAt + 2)], [0xc0, 12]);
  assert.deepEqual([...out.subarray(-4)], [10, 96, 0, 1]);
});

test('encodeResponse truncates with TC when answers exceed the UDP size', () => {
  const q = parseQuery(query('many.cluster.local', RR_TYPE.A));
  const answers = Array.from({ length: 60 }, (_, i) => ({ name: 'many.cluster.local', type: RR_TYPE.A, ttl: 5, rdata: rdata.a(`10.244.0.${i}`) }));
  const out = encodeResponse(q, { rcode: RCODE.NOERROR, answers, authority: [], authoritative: true }, CLASSIC_UDP_MAX);
  assert.ok(out.length <= CLASSIC_UDP_MAX);
  assert.ok(out.readUInt16BE(2) & 0x0200, 'TC set');
  assert.ok(out.readUInt16BE(6) < 60);
  const full = encodeResponse(q, { rcode: RCODE.NOERROR, answers, authority: [], authoritative: true });
  assert.equal(full.readUInt16BE(6), 60);
  assert.equal(full.readUInt16BE(2) & 0x0200, 0);
});

test('rdata.aaaa expands :: and rdata.srv encodes priority, weight, port, target', () => {
  assert.equal(rdata.aaaa('fd00:10:244::1:5').toString('hex'), 'fd000010024400000000000000010005');
  assert.equal(rdata.aaaa('::1').toString('hex'), '00000000000000000000000000000001');
  assert.equal(rdata.srv(0, 100, 80, 'a.b').toString('hex'), '0000006400500161016200');
});

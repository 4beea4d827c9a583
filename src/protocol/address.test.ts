import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bytesToIpv6, destinationProblem, encodedDestinationSize, ipv6ToBytes, readDestination, writeDestination,
  type Destination,
} from './address.ts';
import { ProtocolError } from './errors.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function encode(dest: Destination): Buffer {
  const buf = Buffer.alloc(encodedDestinationSize(dest));
  assert.equal(writeDestination(buf, 0, dest), buf.length);
  return buf;
}

test('IPv4, IPv6 and hostname encode to their fixtures', () => {
  assert.deepEqual(encode({ host: '10.0.0.7', port: 80 }), hex('01 0a000007 0050'));
  assert.deepEqual(encode({ host: '2001:db8::1', port: 443 }), hex('04 20010db8000000000000000000000001 01bb'));
  assert.deepEqual(encode({ host: 'db', port: 5432 }), hex('03 02 6462 1538'));
});

test('destinations round trip, including a 255-byte hostname and a multibyte one', () => {
  const cases: Destination[] = [
    { host: '0.0.0.0', port: 1 }, { host: '255.255.255.255', port: 65535 }, { host: '::', port: 9 },
    { host: 'fe80::1:2', port: 22 }, { host: 'a'.repeat(255), port: 80 }, { host: 'bücher.example', port: 80 },
    { host: 'my-svc.my-ns.svc.cluster.local', port: 8080 },
  ];
  for (const dest of cases) {
    const buf = encode(dest);
    assert.deepEqual(readDestination(buf, 0, 'test').dest, dest);
    assert.equal(readDestination(buf, 0, 'test').next, buf.length);
  }
});

test('RFC 5952 section 4: canonical IPv6 text', () => {
  const cases: Array<[string, string]> = [
    // 4.1: leading zeros are dropped.
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    // 4.2.1: :: shortens as much as possible.
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'],
    // 4.2.2: :: is not used for a single 0 group.
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    // 4.2.3: the longest run is shortened; on a tie, the first.
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    // 4.3: lower case.
    ['2001:DB8::ABCD', '2001:db8::abcd'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
  ];
  for (const [input, canonical] of cases) {
    assert.equal(bytesToIpv6(ipv6ToBytes(input)), canonical, input);
  }
});

test('IPv4-mapped and dotted-tail IPv6 addresses', () => {
  assert.deepEqual(ipv6ToBytes('::ffff:192.0.2.1'), hex('00000000000000000000ffff c0000201'));
  assert.deepEqual(ipv6ToBytes('::ffff:c000:201'), ipv6ToBytes('::ffff:192.0.2.1'));
  // The text comes back in hex groups: RFC 5952 section 5 recommends the dotted form for mapped
  // addresses, but both are valid and Node's net module accepts either.
  const back = bytesToIpv6(ipv6ToBytes('::ffff:192.0.2.1'));
  assert.equal(back, '::ffff:c000:201');
  assert.deepEqual(encode({ host: '::ffff:10.1.2.3', port: 80 }).subarray(0, 1), hex('04'));
  assert.deepEqual(readDestination(encode({ host: '::ffff:10.1.2.3', port: 80 }), 0, 't').dest.host, '::ffff:a01:203');
});

test('a zone id is dropped from the bytes', () => {
  assert.deepEqual(ipv6ToBytes('fe80::1%eth0'), ipv6ToBytes('fe80::1'));
});

test('bad address types and short buffers are ProtocolErrors naming the field', () => {
  const cases: Array<[Buffer, RegExp]> = [
    [hex(''), /missing address type/],
    [hex('02 0a000007 0050'), /unknown address type 2 \(expected 1, 3 or 4\)/],
    [hex('05'), /unknown address type 5/],
    [hex('01 0a0000'), /IPv4 address cut short/],
    [hex('04 2001'), /IPv6 address cut short/],
    [hex('03'), /hostname length missing/],
    [hex('03 00 0050'), /empty hostname/],
    [hex('03 05 6162'), /hostname cut short/],
    [hex('01 0a000007 00'), /port missing/],
    [hex('01 0a000007 0000'), /port 0/],
  ];
  for (const [buf, message] of cases) {
    assert.throws(() => readDestination(buf, 0, 'malformed OPEN frame'), (err: unknown) => {
      assert.ok(err instanceof ProtocolError);
      assert.equal(err.code, 'EPROTO_MALFORMED');
      assert.match(err.message, /^malformed OPEN frame: /);
      assert.match(err.message, message);
      return true;
    });
  }
});

test('destinationProblem names the field that is wrong', () => {
  assert.equal(destinationProblem({ host: '10.0.0.1', port: 80 }), undefined);
  assert.equal(destinationProblem({ host: 'a'.repeat(255), port: 80 }), undefined);
  assert.match(destinationProblem({ host: 'x', port: 0 }) ?? '', /port 0 is not a TCP port \(1-65535\)/);
  assert.match(destinationProblem({ host: 'x', port: 65536 }) ?? '', /port 65536/);
  assert.match(destinationProblem({ host: 'x', port: 1.5 }) ?? '', /port 1.5/);
  assert.match(destinationProblem({ host: '', port: 80 }) ?? '', /host is empty/);
  assert.match(destinationProblem({ host: 'a'.repeat(256), port: 80 }) ?? '', /longer than 255 bytes/);
  assert.match(destinationProblem({ host: 'ü'.repeat(128), port: 80 }) ?? '', /longer than 255 bytes/, 'counted in bytes, not characters');
});

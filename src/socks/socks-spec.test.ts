import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MirrordError } from '../errors.ts';
import { parseSocksAuth, parseSocksSpec } from './socks-spec.ts';

test('--socks accepted forms', () => {
  assert.deepEqual(parseSocksSpec('1080', '127.0.0.1'), { address: '127.0.0.1', port: 1080, text: '1080' });
  assert.deepEqual(parseSocksSpec('1080', '0.0.0.0'), { address: '0.0.0.0', port: 1080, text: '1080' });
  assert.deepEqual(parseSocksSpec('0', '127.0.0.1'), { address: '127.0.0.1', port: 0, text: '0' });
  assert.deepEqual(parseSocksSpec('127.0.0.2:1081', '127.0.0.1'), { address: '127.0.0.2', port: 1081, text: '127.0.0.2:1081' });
  assert.deepEqual(parseSocksSpec('[::1]:1080', '127.0.0.1'), { address: '::1', port: 1080, text: '[::1]:1080' });
  assert.deepEqual(parseSocksSpec('localhost:1080', '0.0.0.0'), { address: '127.0.0.1', port: 1080, text: 'localhost:1080' });
});

test('--socks rejected forms', () => {
  const bad: Array<[string, RegExp]> = [
    ['', /empty/],
    ['socks', /'socks' is not a number/],
    ['65536', /out of range/],
    ['::1:1080', /brackets/],
    ['my-host:1080', /not an IP address or localhost/],
    ['127.0.0.1:', /port is empty/],
    ['127.0.0.1:x', /not a number/],
  ];
  for (const [text, fragment] of bad) {
    assert.throws(() => parseSocksSpec(text, '127.0.0.1'), (err: unknown) => {
      assert.ok(err instanceof MirrordError);
      assert.equal(err.exitCode, 2);
      assert.match(err.message, /--socks/);
      assert.match(err.message, fragment);
      return true;
    }, text);
  }
});

test('--socks-auth', () => {
  assert.deepEqual(parseSocksAuth('alice:s3:cret'), { username: 'alice', password: 's3:cret' });
  for (const [text, fragment] of [
    ['alice', /no ':'/],
    [':pw', /user is empty/],
    ['alice:', /password is empty/],
    [`${'u'.repeat(256)}:pw`, /user is 256 bytes/],
    [`u:${'é'.repeat(128)}`, /password is 256 bytes/],
  ] as const) {
    assert.throws(() => parseSocksAuth(text), (err: unknown) => err instanceof MirrordError && fragment.test(err.message) && err.exitCode === 2, text);
  }
  assert.throws(() => parseSocksAuth('x', 'KUBECTL_MIRRORD_SOCKS_AUTH'), /invalid KUBECTL_MIRRORD_SOCKS_AUTH/);
});

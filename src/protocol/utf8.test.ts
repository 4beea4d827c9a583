/** Cutting UTF-8 to a byte limit never splits a character. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { utf8Prefix } from './utf8.ts';
import { decodeGoAway, decodeReset, encodeGoAway, encodeReset } from './frames.ts';
import { HEADER_SIZE, MAX_MESSAGE_BYTES } from './constants.ts';

test('a prefix ends on a character boundary', () => {
  assert.equal(utf8Prefix('abc', 10).toString(), 'abc');
  assert.equal(utf8Prefix('abc', 2).toString(), 'ab');
  // "é" is 2 bytes (c3 a9), "€" 3 (e2 82 ac), "😀" 4 (f0 9f 98 80).
  assert.deepEqual([...utf8Prefix('aé', 2)], [0x61]);
  assert.deepEqual([...utf8Prefix('a€', 3)], [0x61]);
  assert.deepEqual([...utf8Prefix('a€', 4)], [0x61, 0xe2, 0x82, 0xac]);
  assert.deepEqual([...utf8Prefix('😀😀', 7)], [0xf0, 0x9f, 0x98, 0x80]);
  assert.equal(utf8Prefix('😀', 3).length, 0);
  assert.equal(utf8Prefix('', 0).length, 0);
});

test('a long RESET or GOAWAY message is cut whole characters at a time', () => {
  const message = 'x' + '€'.repeat(2000); // 6001 bytes; 4096 falls inside a "€"
  const reset = encodeReset(1, 1, message).subarray(HEADER_SIZE);
  const decoded = decodeReset(reset).message;
  assert.ok(!decoded.includes('\ufffd'), 'no replacement character at the cut');
  assert.ok(Buffer.byteLength(decoded) <= MAX_MESSAGE_BYTES);
  assert.equal(Buffer.byteLength(decoded), 1 + 3 * 1365);
  assert.ok(message.startsWith(decoded));
  const away = decodeGoAway(encodeGoAway(0, message).subarray(HEADER_SIZE)).message;
  assert.equal(away, decoded);
});

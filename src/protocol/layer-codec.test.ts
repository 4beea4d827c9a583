import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  LayerCodecError,
  LayerCodecErrorCode,
  LayerDecoder,
  encodeLayerMessage,
  encodeOpenFileReply,
  type LayerDecoded,
} from './layer-codec.ts';
import { LAYER_MAX_FRAME, type LayerStat } from './layer-messages.ts';

const stat = (size: bigint, err = 0): LayerStat => ({
  err, mode: 0o100644, uid: 1000, gid: 1000, size, nlink: 1n, ino: 42n, dev: 2049n, rdev: 0n,
  blksize: 4096, blocks: 8n, atime_s: 1_700_000_000n, atime_ns: 5, mtime_s: -1n, mtime_ns: 999_999_999,
  ctime_s: 0n, ctime_ns: 0,
});

function feedBytewise(decoder: LayerDecoder, bytes: Buffer): LayerDecoded[] {
  const out: LayerDecoded[] = [];
  for (let i = 0; i < bytes.length; i++) out.push(...decoder.push(bytes.subarray(i, i + 1)));
  return out;
}

test('HELLO matches its byte fixture', () => {
  const bytes = encodeLayerMessage('hello', 7, { pid: 0x01020304, ppid: 1, exe: '/bin/é', argv0: '' });
  const want = Buffer.from([
    0x1d, 0, 0, 0, // length: 6 + 4 + 4 + (4 + 7) + 4
    1, 0, // type HELLO
    7, 0, 0, 0, // id
    0x04, 0x03, 0x02, 0x01, // pid
    1, 0, 0, 0, // ppid
    7, 0, 0, 0, 0x2f, 0x62, 0x69, 0x6e, 0x2f, 0xc3, 0xa9, // exe
    0, 0, 0, 0, // argv0
  ]);
  assert.deepEqual(bytes, want);
  assert.deepEqual(new LayerDecoder('layer → proxy').push(bytes), [
    { name: 'hello', id: 7, body: { pid: 0x01020304, ppid: 1, exe: '/bin/é', argv0: '' } },
  ]);
});

test('HELLO_OK with lists round-trips, fed one byte at a time', () => {
  const body = {
    flags: 0x2f, fs_mode: 1, max_file_bytes: 64n * 1024n * 1024n,
    remote_paths: [{ pattern: '^/etc/resolv\\.conf$' }, { pattern: '^/mnt(/.*)?$' }],
    local_paths: [], not_found_paths: [{ pattern: '^/nope$' }], connect_timeout_ms: 10_000,
    outgoing_filter_side: 2,
    outgoing_filter: [{ kind: 2, proto: 6, family: 4, addr: Buffer.from([10, 0, 0, 0]), prefix: 8, port: 5432, name: '' }, { kind: 3, proto: 0, family: 0, addr: Buffer.alloc(0), prefix: 0, port: 0, name: 'ip-info' }],
    dns_filter_side: 0,
    dns_filter: [],
  };
  const bytes = encodeLayerMessage('helloOk', 1, body);
  assert.deepEqual(feedBytewise(new LayerDecoder('proxy → layer'), bytes), [{ name: 'helloOk', id: 1, body }]);
});

test('every 64-bit field keeps its exact value', () => {
  const body = { err: 0, token: 0xfedc_ba98_7654_3210n, relay_port: 40000, local_family: 4, local_addr: Buffer.from([10, 0, 0, 5]), local_port: 55555 };
  const [m] = new LayerDecoder('proxy → layer').push(encodeLayerMessage('connectOk', 3, body));
  assert.equal(m.name, 'connectOk');
  assert.equal(m.name === 'connectOk' && m.body.token, 0xfedc_ba98_7654_3210n);
  assert.deepEqual(m.name === 'connectOk' && Buffer.from(m.body.local_addr), Buffer.from([10, 0, 0, 5]));
});

test('OPEN_FILE_OK is followed by the raw contents, split anywhere', () => {
  const contents = Buffer.from('secret-api-key-12345');
  const reply = Buffer.concat([
    ...encodeOpenFileReply(9, stat(BigInt(contents.length)), contents),
    encodeLayerMessage('accessOk', 10, { err: 2 }),
  ]);
  for (const split of [1, 3, 11, reply.length]) {
    const decoder = new LayerDecoder('proxy → layer');
    const out: LayerDecoded[] = [];
    for (let i = 0; i < reply.length; i += split) out.push(...decoder.push(reply.subarray(i, i + split)));
    assert.equal(out.length, 3, `split ${split}`);
    assert.equal(out[0].name, 'openFileOk');
    assert.deepEqual(out[1], { name: 'fileContent', id: 9, data: contents });
    assert.deepEqual(out[2], { name: 'accessOk', id: 10, body: { err: 2 } });
    assert.ok(decoder.idle);
  }
});

test('an empty file yields an empty fileContent; an error yields none', () => {
  const decoder = new LayerDecoder('proxy → layer');
  const out = decoder.push(Buffer.concat([
    ...encodeOpenFileReply(1, stat(0n)),
    ...encodeOpenFileReply(2, stat(0n, 27)),
  ]));
  assert.deepEqual(out.map((m) => m.name), ['openFileOk', 'fileContent', 'openFileOk']);
  assert.equal(out[1].name === 'fileContent' && out[1].data.length, 0);
});

test('encodeOpenFileReply refuses contents that disagree with size', () => {
  assert.throws(() => encodeOpenFileReply(1, stat(5n), Buffer.from('abc')), /size 5 but 3 bytes/);
  assert.throws(() => encodeOpenFileReply(1, stat(0n, 2), Buffer.from('abc')), /no contents/);
});

test('a missing field is a TypeError naming it', () => {
  // @ts-expect-error the test leaves a field out on purpose
  assert.throws(() => encodeLayerMessage('stat', 1, { path: '/x' }), /stat: field follow is missing/);
});

function codecError(fn: () => unknown, code: string, re: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof LayerCodecError && err.code === code && re.test(err.message));
}

test('a message in the wrong direction is refused', () => {
  const bytes = encodeLayerMessage('statOk', 1, stat(0n));
  codecError(() => new LayerDecoder('layer → proxy').push(bytes), LayerCodecErrorCode.unknownType, /type 4 is not one this side receives/);
});

test('an unknown type, an oversized length, a short or long body are errors, and stay errors', () => {
  const unknown = Buffer.from([6, 0, 0, 0, 99, 0, 1, 0, 0, 0]);
  codecError(() => new LayerDecoder('layer → proxy').push(unknown), LayerCodecErrorCode.unknownType, /type 99/);

  const big = Buffer.alloc(10);
  big.writeUInt32LE(LAYER_MAX_FRAME + 1, 0);
  codecError(() => new LayerDecoder('layer → proxy').push(big), LayerCodecErrorCode.frameTooLarge, /outside/);

  const good = encodeLayerMessage('access', 1, { path: '/etc/hosts', mode: 4 });
  const short = Buffer.from(good.subarray(0, good.length - 1));
  short.writeUInt32LE(short.length - 4, 0);
  codecError(() => new LayerDecoder('layer → proxy').push(short), LayerCodecErrorCode.malformed, /access: body ends inside field mode/);

  const long = Buffer.concat([good, Buffer.from([0])]);
  long.writeUInt32LE(long.length - 4, 0);
  const decoder = new LayerDecoder('layer → proxy');
  codecError(() => decoder.push(long), LayerCodecErrorCode.malformed, /1 bytes after the last field/);
  codecError(() => decoder.push(good), LayerCodecErrorCode.malformed, /after the last field/);
});

test('a string length past the body, bad UTF-8 and a huge list count are malformed', () => {
  const frame = (type: number, body: number[]): Buffer => {
    const b = Buffer.alloc(10 + body.length);
    b.writeUInt32LE(6 + body.length, 0);
    b.writeUInt16LE(type, 4);
    b.writeUInt32LE(1, 6);
    Buffer.from(body).copy(b, 10);
    return b;
  };
  codecError(() => new LayerDecoder('layer → proxy').push(frame(9, [200, 0, 0, 0, 0x2f])), LayerCodecErrorCode.malformed, /field path/);
  codecError(() => new LayerDecoder('layer → proxy').push(frame(9, [1, 0, 0, 0, 0xff])), LayerCodecErrorCode.malformed, /not valid UTF-8/);
  codecError(() => new LayerDecoder('proxy → layer').push(frame(8, [0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff])), LayerCodecErrorCode.malformed, /counts 4294967295 items/);
});

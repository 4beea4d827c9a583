/**
 * The TS codec and the generated C decoders agree on every message: the TS side encodes each
 * message with distinctive values (extreme integers, negative numbers, multi-byte UTF-8, lists),
 * layer/tests/codec_dump.c decodes them with layer_protocol.h and prints every field as C sees it,
 * and the lines must equal what the TS declarations say, field by field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { encodeLayerMessage } from '../../src/protocol/layer-codec.ts';
import { LayerMessages, LayerStructs, type LayerField, type LayerFieldType, type LayerMessageName } from '../../src/protocol/layer-messages.ts';
import { snake } from '../../scripts/gen-layer-header.ts';
import { buildLayer, repoRoot } from '../support/layer-build.ts';

type Value = number | bigint | string | Uint8Array | Record<string, unknown>[];

/** A value for field `i` of its message that no other field shares, at the edges of its type. */
function sample(type: LayerFieldType, i: number): Value {
  switch (type) {
    case 'u8': return 250 - i;
    case 'u16': return 65535 - i;
    case 'u32': return 4_294_967_295 - i;
    case 'i32': return -2_147_483_648 + i;
    case 'u64': return 18_446_744_073_709_551_615n - BigInt(i);
    case 'i64': return -9_223_372_036_854_775_808n + BigInt(i);
    case 'str': return `é/路径/${i}`;
    case 'bytes': return Uint8Array.from([0, 255, i, 127]);
    default: {
      const fields = LayerStructs[type.list] as readonly LayerField[];
      return [0, 1].map((k) => Object.fromEntries(fields.map(([name, t], j) => [name, sample(t, i + j + k * 7)])));
    }
  }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function show(type: LayerFieldType, value: Value): string {
  if (typeof type !== 'string') {
    const fields = LayerStructs[type.list] as readonly LayerField[];
    return `[${(value as Record<string, Value>[]).map((item) => `{${fields.map(([n, t]) => ` ${n}=${show(t, item[n])}`).join('')} }`).join(';')}]`;
  }
  if (type === 'str') return hex(Buffer.from(value as string, 'utf8'));
  if (type === 'bytes') return hex(value as Uint8Array);
  return String(value);
}

test('every message reads the same in C as the TS codec wrote it', () => {
  buildLayer('codec-dump');
  const frames: Buffer[] = [];
  const expected: string[] = [];
  Object.entries(LayerMessages).forEach(([name, m], k) => {
    const fields = m.fields as readonly LayerField[];
    const body = Object.fromEntries(fields.map(([f, t], i) => [f, sample(t, i + k)]));
    const id = 0xffff_ff00 + k;
    frames.push(encodeLayerMessage(name as LayerMessageName, id, body as never));
    expected.push(`${snake(name)} id=${id}${fields.map(([f, t]) => ` ${f}=${show(t, body[f] as Value)}`).join('')}`);
  });
  const r = spawnSync(`${repoRoot}build/layer/tests/codec_dump`, [], { input: Buffer.concat(frames), encoding: 'utf8' });
  assert.equal(r.status, 0, `codec_dump exited ${r.status}: ${r.stderr}`);
  assert.deepEqual(r.stdout.trim().split('\n'), expected);
});

test('a frame the TS codec cut short is refused by the C decoders', () => {
  buildLayer('codec-dump');
  const frame = encodeLayerMessage('connect', 1, { proto: 6, family: 4, addr: Uint8Array.from([10, 0, 0, 1]), port: 80 });
  const short = Buffer.from(frame.subarray(0, frame.length - 1));
  short.writeUInt32LE(short.length - 4, 0);
  const r = spawnSync(`${repoRoot}build/layer/tests/codec_dump`, [], { input: short, encoding: 'utf8' });
  assert.equal(r.status, 3);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LayerFlag, LayerMessages, LayerMessageType, LayerStructs } from './layer-messages.ts';

test('message types are 1..N with no gap, requests odd and answers even up to CONNECT_OK', () => {
  const types = Object.values(LayerMessages).map((m) => m.type);
  assert.deepEqual(types, types.map((_, i) => i + 1));
  for (const m of Object.values(LayerMessages)) {
    if (m.type > 18) continue;
    assert.equal(m.direction, m.type % 2 === 1 ? 'layer → proxy' : 'proxy → layer', `type ${m.type}`);
  }
  assert.equal(LayerMessageType.log, 19);
  assert.equal(LayerMessages.log.direction, 'layer → proxy');
  assert.equal(LayerMessageType.error, 20);
  assert.equal(LayerMessages.error.direction, 'proxy → layer');
});

test('flags are distinct single bits as the interfaces document numbers them', () => {
  assert.deepEqual(Object.values(LayerFlag), [1, 2, 4, 8, 16, 32, 64]);
});

test('every list field names a declared struct, and field names are unique per message', () => {
  for (const [name, m] of Object.entries(LayerMessages)) {
    const names = m.fields.map(([n]) => n);
    assert.equal(new Set(names).size, names.length, name);
    for (const [, type] of m.fields) if (typeof type !== 'string') assert.ok(type.list in LayerStructs, `${name}: ${type.list}`);
  }
});

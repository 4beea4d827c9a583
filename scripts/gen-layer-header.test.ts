import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { layerHeader } from './gen-layer-header.ts';

const headerPath = fileURLToPath(new URL('../layer/src/generated/layer_protocol.h', import.meta.url));

test('the checked-in C header is what the generator prints from layer-messages.ts', () => {
  const checkedIn = readFileSync(headerPath, 'utf8');
  assert.ok(
    checkedIn === layerHeader(),
    'layer/src/generated/layer_protocol.h is stale: run `node_modules/.bin/node scripts/gen-layer-header.ts > layer/src/generated/layer_protocol.h` (Node 24)',
  );
});

test('the header carries every message number and flag', () => {
  const h = layerHeader();
  assert.match(h, /^#define KM_MSG_HELLO 1 /m);
  assert.match(h, /^#define KM_MSG_CONNECT_OK 18 /m);
  assert.match(h, /^#define KM_MSG_ERROR 20 /m);
  assert.match(h, /^#define KM_FLAG_SKIP 0x20u$/m);
  assert.match(h, /^#define KM_ENV_LAYER_SOCKET "KUBECTL_MIRRORD_LAYER_SOCKET"$/m);
  assert.match(h, /km_get_list\(r, &m->remote_paths, km_skip_item_pattern\);/);
});

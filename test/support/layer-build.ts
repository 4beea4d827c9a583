/**
 * Where the C layer is, for tests; buildLayer (scripts/build.ts) runs `make -C layer`, a no-op
 * when it is up to date. Tests that preload the layer call it first, so `npm test -- PATTERN`
 * works on a fresh checkout.
 */
import { fileURLToPath } from 'node:url';

export { buildLayer } from '../../scripts/build.ts';
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const layerPath = `${repoRoot}build/layer/libkubectl_mirrord_layer.so`;

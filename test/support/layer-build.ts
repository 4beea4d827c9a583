/**
 * Builds the C layer for tests (`make -C layer`, a no-op when it is up to date) and says where
 * the shared object is. Tests that preload the layer call this first, so `npm test -- PATTERN`
 * works on a fresh checkout.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const layerPath = `${repoRoot}build/layer/libkubectl_mirrord_layer.so`;

/** Runs make; throws with make's output when the build fails. Returns layerPath. */
export function buildLayer(target?: string): string {
  const args = ['-C', `${repoRoot}layer`, ...(target ? [target] : [])];
  const run = spawnSync('make', args, { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`make ${args.join(' ')} failed (${run.status}):\n${run.stdout}${run.stderr}`);
  return layerPath;
}

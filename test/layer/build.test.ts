/**
 * The layer builds with -Wall -Wextra -Werror for this machine and for arm64, and its C unit
 * tests (layer/tests/) pass, once plainly, once under AddressSanitizer and UBSan, and once
 * cross-built for aarch64 under qemu-aarch64-static (.ci/run installs it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { buildLayer, layerPath, repoRoot } from '../support/layer-build.ts';

/** ELF e_machine at offset 18 (little-endian): 62 x86-64, 183 AArch64. */
const machine = (file: string): number => readFileSync(file).readUInt16LE(18);

test('make -C layer builds the shared object for this machine', () => {
  buildLayer();
  assert.equal(machine(layerPath), process.arch === 'arm64' ? 183 : 62);
});

test('make -C layer arm64 cross-builds it for aarch64', () => {
  buildLayer('arm64');
  assert.equal(machine(`${repoRoot}build/layer/aarch64/libkubectl_mirrord_layer.so`), 183);
});

for (const target of ['unit', 'asan', 'tsan']) {
  test(`the C unit tests pass (${target})`, () => {
    const r = spawnSync('make', ['-s', '-C', `${repoRoot}layer`, target], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^\d+ checks, 0 failed$/m);
    assert.doesNotMatch(r.stderr, /ERROR: (AddressSanitizer|LeakSanitizer)|WARNING: ThreadSanitizer|runtime error:/);
  });
}

test('the C unit tests pass on aarch64 (cross-built, under qemu-aarch64-static)', () => {
  const r = spawnSync('make', ['-s', '-C', `${repoRoot}layer`, 'unit-arm64'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /^\d+ checks, 0 failed$/m);
});

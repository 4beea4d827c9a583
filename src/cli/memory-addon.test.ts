/**
 * The memory addon (native/memory.c) loaded into this process as the CLI loads it, and the idle
 * collector that calls it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { buildMemoryAddon } from '../../scripts/build.ts';
import { loadMallocTrim, memoryAddonDescription } from './memory-addon.ts';
import { startIdleCollector } from './idle-collector.ts';

setFlagsFromString('--expose-gc');
// As the CLI runs (src/node-options.ts): dead buffers are freed by the collection itself, not
// later by a helper thread, so they are free when trim() runs.
setFlagsFromString('--no-concurrent-array-buffer-sweeping');
const collectGarbage = runInNewContext('gc') as () => void;

const rssBytes = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;

test('trim() gives the holes freed buffers leave in the arena back to the kernel', () => {
  const trim = loadMallocTrim(buildMemoryAddon());
  assert.equal(typeof trim, 'function');
  // 300 buffers of 64 KiB (malloc'd one each, in the main arena), then one small one above them, so
  // that the arena's top is in use and glibc cannot give the rest back by itself.
  let buffers: Buffer[] | undefined = Array.from({ length: 300 }, () => Buffer.allocUnsafeSlow(64 * 1024).fill(1));
  const pin = Buffer.allocUnsafeSlow(64).fill(2);
  buffers = undefined;
  collectGarbage();
  const before = rssBytes();
  assert.equal(trim!(), true, 'malloc_trim returned memory');
  const after = rssBytes();
  assert.ok(before - after > 10 * 1024 * 1024, `RSS went from ${before} to ${after} bytes`);
  assert.equal(pin[0], 2);
});

test('a missing or broken addon is reported, and trims nothing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kmrd-addon-'));
  try {
    const missing = join(dir, 'kubectl_mirrord_memory.node');
    assert.equal(loadMallocTrim(missing), undefined);
    assert.equal(memoryAddonDescription(missing), `malloc_trim: unavailable (no ${missing})`);
    const broken = join(dir, 'broken.node');
    writeFileSync(broken, 'not an ELF file');
    assert.equal(loadMallocTrim(broken), undefined);
    assert.match(memoryAddonDescription(broken), new RegExp(`^malloc_trim: unavailable \\(${broken} did not load: `));
    assert.equal(memoryAddonDescription(buildMemoryAddon()), `malloc_trim: ${buildMemoryAddon()}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the idle collector collects and trims once after work, then leaves a quiet process alone', async () => {
  (globalThis as { gc?: unknown }).gc = collectGarbage;
  let trims = 0;
  const stop = startIdleCollector(() => {
    trims++;
    return true;
  });
  try {
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const until = async (count: number) => {
      for (let waited = 0; trims < count && waited < 20_000; waited += 100) await sleep(100);
    };
    // Starting counts as work: the first quiet second cleans up.
    await until(1);
    assert.equal(trims, 1, 'one clean-up after start');
    await sleep(3_000);
    assert.equal(trims, 1, 'nothing while quiet');
    // Half a second of CPU (not of wall time: the machine may be busy) is work; the quiet that
    // follows cleans up once more.
    const start = process.cpuUsage();
    for (;;) {
      const used = process.cpuUsage(start);
      if (used.user + used.system >= 500_000) break;
    }
    await until(2);
    assert.equal(trims, 2, 'one clean-up after the work');
    await sleep(2_000);
    assert.equal(trims, 2, 'and only one');
  } finally {
    stop();
    delete (globalThis as { gc?: unknown }).gc;
  }
});

/**
 * A stand-in for the CLI's entry point: applies the malloc tuning for the command in argv, then
 * prints what the process ended up with: its pid and arguments, how far glibc's main arena (the
 * [heap] mapping, grown with brk) grew for 200 buffers of 64 KiB, and the GLIBC_TUNABLES its own
 * children would get.
 */
import { readFileSync } from 'node:fs';
import { applyMallocTuning, runtimeLine } from '../../src/cli/malloc-tuning.ts';

applyMallocTuning(process.argv.slice(2));

function heapBytes(): number {
  const line = readFileSync('/proc/self/maps', 'utf8').split('\n').find((l) => l.endsWith('[heap]'));
  if (!line) return 0;
  const [start, end] = line.split(' ')[0].split('-').map((hex) => parseInt(hex, 16));
  return end - start;
}

const before = heapBytes();
// allocUnsafeSlow: one malloc each, outside Buffer's pool.
const kept = Array.from({ length: 200 }, () => Buffer.allocUnsafeSlow(64 * 1024).fill(1));
const heapGrowthMb = (heapBytes() - before) / (1024 * 1024);
console.log(JSON.stringify({
  pid: process.pid,
  args: process.argv.slice(2),
  heapGrowthMb: Math.round(heapGrowthMb),
  buffers: kept.length,
  children: { GLIBC_TUNABLES: process.env.GLIBC_TUNABLES ?? null, saved: process.env.KUBECTL_MIRRORD_USER_GLIBC_TUNABLES ?? null },
  runtime: runtimeLine(),
}));

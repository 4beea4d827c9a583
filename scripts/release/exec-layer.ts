/**
 * The exec layer for a release platform: layer/Makefile's `all` target with the platform's compiler
 * as `CC` and a private output folder as `OUT` (make lets the command line override both), so the
 * release never ships a stale build/layer/ of the checkout. The result is checked to be an ELF of
 * the platform's machine, then stripped of its debug sections (`--strip-unneeded` keeps .dynsym,
 * where the hooks are).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { elfMachine } from './elf.ts';
import type { ReleasePlatform } from './platforms.ts';

/** Builds the layer into `work` and returns its path. @throws when make fails or the machine is wrong. */
export function buildExecLayer(root: string, platform: ReleasePlatform, work: string): string {
  const layer = platform.execLayer;
  if (!layer) throw new Error(`${platform.os}/${platform.arch} has no exec layer`);
  const out = join(work, `layer-${platform.arch}`);
  try {
    execFileSync('make', ['-s', '-C', join(root, 'layer'), `OUT=${out}`, `CC=${layer.compiler}`, 'all'], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim();
    throw new Error(`building the exec layer for ${platform.arch} with ${layer.compiler} failed${stderr ? `:\n${stderr}` : ''}\n(.ci/run installs gcc and gcc-aarch64-linux-gnu)`);
  }
  const file = join(out, 'libkubectl_mirrord_layer.so');
  const machine = elfMachine(file);
  if (machine !== platform.elfMachine) throw new Error(`${file}: ELF machine ${machine}, expected ${platform.elfMachine} for ${platform.arch} (is ${layer.compiler} the right compiler?)`);
  execFileSync(platform.strip, ['--strip-unneeded', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  return file;
}

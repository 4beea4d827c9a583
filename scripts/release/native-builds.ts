/**
 * The C libraries of a release platform, each its Makefile's `all` target with the platform's
 * compiler as `CC` and a private output folder as `OUT` (make lets the command line override both),
 * so the release never ships a stale build/ of the checkout: the exec layer (layer/) and the CLI's
 * memory addon (native/). Each result is checked to be an ELF of the platform's machine, then
 * stripped of its debug sections (`--strip-unneeded` keeps .dynsym, where the hooks and the addon's
 * entry point are).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { elfMachine } from './elf.ts';
import type { ReleasePlatform } from './platforms.ts';

/** Builds the layer into `work` and returns its path. @throws when make fails or the machine is wrong. */
export function buildExecLayer(root: string, platform: ReleasePlatform, work: string): string {
  const layer = platform.execLayer;
  if (!layer) throw new Error(`${platform.os}/${platform.arch} has no exec layer`);
  return buildNative(root, 'layer', 'the exec layer', layer, platform, work);
}

/** Builds the memory addon into `work` and returns its path. @throws as buildExecLayer. */
export function buildMemoryAddon(root: string, platform: ReleasePlatform, work: string): string {
  const addon = platform.memoryAddon;
  if (!addon) throw new Error(`${platform.os}/${platform.arch} has no memory addon`);
  return buildNative(root, 'native', 'the memory addon', addon, platform, work);
}

function buildNative(root: string, dir: string, what: string, target: { file: string; compiler: string }, platform: ReleasePlatform, work: string): string {
  const out = join(work, `${dir}-${platform.arch}`);
  try {
    execFileSync('make', ['-s', '-C', join(root, dir), `OUT=${out}`, `CC=${target.compiler}`, 'all'], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim();
    throw new Error(`building ${what} for ${platform.arch} with ${target.compiler} failed${stderr ? `:\n${stderr}` : ''}\n(.ci/run installs gcc and gcc-aarch64-linux-gnu)`);
  }
  const file = join(out, target.file);
  const machine = elfMachine(file);
  if (machine !== platform.elfMachine) throw new Error(`${file}: ELF machine ${machine}, expected ${platform.elfMachine} for ${platform.arch} (is ${target.compiler} the right compiler?)`);
  execFileSync(platform.strip, ['--strip-unneeded', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  return file;
}

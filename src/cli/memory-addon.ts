/**
 * The CLI's memory addon (native/, C): malloc_trim(3), which Node has no binding for. The single
 * executable finds it next to itself, as it finds the exec layer (the release archive holds both);
 * from a checkout it is build/native/, which `npm run build` makes. Without it the CLI works the
 * same and only gives less memory back (src/cli/idle-collector.ts).
 */
import { existsSync } from 'node:fs';
import { shippedFile } from './self-command.ts';

/** The addon's file name; scripts/release/platforms.ts ships it under this name. */
export const MEMORY_ADDON_FILE = 'kubectl_mirrord_memory.node';

/** Where this CLI looks for the addon. */
export function memoryAddonPath(): string {
  return shippedFile(MEMORY_ADDON_FILE, 'native');
}

const loaded = new Map<string, { trim: (() => boolean) | undefined; why: string }>();

function load(path: string): { trim: (() => boolean) | undefined; why: string } {
  const known = loaded.get(path);
  if (known) return known;
  let result: { trim: (() => boolean) | undefined; why: string };
  if (!existsSync(path)) result = { trim: undefined, why: `no ${path}` };
  else {
    const module = { exports: {} as { trim?: unknown } };
    try {
      process.dlopen(module, path);
      const trim = module.exports.trim;
      result = typeof trim === 'function' ? { trim: trim as () => boolean, why: path } : { trim: undefined, why: `${path} has no trim()` };
    } catch (err) {
      result = { trim: undefined, why: `${path} did not load: ${(err as Error).message}` };
    }
  }
  loaded.set(path, result);
  return result;
}

/**
 * The addon's trim() (true if memory went back to the kernel), or undefined when it is missing or
 * does not load (another architecture, a libc without malloc_trim).
 */
export function loadMallocTrim(path: string = memoryAddonPath()): (() => boolean) | undefined {
  return load(path).trim;
}

/** For -v: where malloc_trim comes from, or why there is none. */
export function memoryAddonDescription(path: string = memoryAddonPath()): string {
  const { trim, why } = load(path);
  return trim ? `malloc_trim: ${why}` : `malloc_trim: unavailable (${why})`;
}

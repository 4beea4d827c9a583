/**
 * How to run this CLI again, for the exec proxy: the single executable runs itself (its `argv[1]`
 * is its own path too, and it has no script to name); from a checkout it is this Node with the
 * main script bin/kubectl-mirrord ran (`argv[1]`, an absolute path). And where the files it ships
 * with are. No import.meta: the shipped bundle is CommonJS (scripts/release/sea.ts).
 */
import { dirname, join } from 'node:path';
import { isSea } from 'node:sea';

export function selfCommand(): { file: string; args: string[] } {
  if (isSea()) return { file: process.execPath, args: [] };
  return { file: process.execPath, args: [...process.execArgv, process.argv[1]] };
}

/**
 * Where a file the release archive holds beside the executable is (the exec layer, the memory
 * addon): beside the single executable, or in the checkout's `build/<buildDir>/`, two folders up
 * from the main script (src/cli/main.ts, or the bench's bundle in dist/).
 */
export function shippedFile(file: string, buildDir: string): string {
  return isSea() ? join(dirname(process.execPath), file) : join(dirname(process.argv[1]), '..', '..', 'build', buildDir, file);
}

/** What to do when a shipped file is missing. */
export function shippedFileHint(file: string, buildDir: string): string {
  return isSea() ? `the release archive holds ${file} next to kubectl-mirrord; extract both` : `run \`npm run build\` (it builds ${buildDir}/ with cc)`;
}

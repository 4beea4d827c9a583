/**
 * How to run this CLI again, for the exec proxy: the single executable runs itself (its `argv[1]`
 * is its own path too, and it has no script to name); from a checkout it is this Node with the
 * main script bin/kubectl-mirrord ran (`argv[1]`, an absolute path). No import.meta: the shipped
 * bundle is CommonJS (scripts/release/sea.ts).
 */
import { isSea } from 'node:sea';

export function selfCommand(): { file: string; args: string[] } {
  if (isSea()) return { file: process.execPath, args: [] };
  return { file: process.execPath, args: [...process.execArgv, process.argv[1]] };
}

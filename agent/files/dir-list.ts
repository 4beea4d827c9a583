/**
 * One page of a directory listing (dirList). Every page reads the whole directory again and sorts
 * it by name, so pages asked one after another line up without the agent keeping a handle open
 * between requests; a directory that changes between two pages may show an entry twice or not at
 * all, as readdir(3) allows for entries added or removed while it runs.
 */
import { closeSync, constants, lstatSync, openSync, readdirSync, type Dirent } from 'node:fs';
import { MAX_FRAME_PAYLOAD } from '../../src/protocol/constants.ts';
import type { DirEntry, DirEntryType, DirListAnswer } from '../../src/protocol/file-requests.ts';
import { callError } from './resolve-in-root.ts';

/** Bytes of entries (as JSON) one page holds at most, leaving room in one RESPONSE frame for the rest. */
export const PAGE_BYTES = Math.floor(MAX_FRAME_PAYLOAD * 0.85);

function entryType(d: Dirent): DirEntryType {
  if (d.isFile()) return 'file';
  if (d.isDirectory()) return 'dir';
  if (d.isSymbolicLink()) return 'link';
  if (d.isFIFO()) return 'fifo';
  if (d.isSocket()) return 'socket';
  if (d.isCharacterDevice()) return 'char';
  if (d.isBlockDevice()) return 'block';
  return 'other';
}

/**
 * The page of `at` (a resolved directory, `/proc/self/fd/N/name`) from `offset`.
 * @throws RequestError EPOSIX (ENOTDIR, EACCES, ...) naming `path`.
 */
export function listDirectory(at: string, path: string, offset: number, pageBytes = PAGE_BYTES): DirListAnswer {
  let fd: number;
  try {
    fd = openSync(at, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (err) {
    throw callError(err, path);
  }
  try {
    const dir = `/proc/self/fd/${fd}`;
    let all: Dirent[];
    try {
      all = readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      throw callError(err, path);
    }
    all.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const entries: DirEntry[] = [];
    let bytes = 0;
    let i = offset;
    for (; i < all.length; i++) {
      const d = all[i];
      let ino = '0';
      try {
        ino = lstatSync(`${dir}/${d.name}`, { bigint: true }).ino.toString();
      } catch {
        continue; // removed since readdir
      }
      const entry: DirEntry = { name: d.name, type: entryType(d), ino };
      const size = Buffer.byteLength(JSON.stringify(entry)) + 1;
      if (entries.length > 0 && bytes + size > pageBytes) break;
      bytes += size;
      entries.push(entry);
    }
    return { entries, next: i < all.length ? i : null };
  } finally {
    closeSync(fd);
  }
}

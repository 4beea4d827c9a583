/**
 * A reproducible tar.gz writer for the release archives: POSIX ustar headers (POSIX.1-2001
 * pax(1), "ustar Interchange Format"), regular files and directories only, every entry owned by
 * 0:0 with a fixed mtime, so the same inputs give the same bytes. krew unpacks only directories
 * and regular files and takes each file's mode from its header (research/dist.md 1.2), so the exec
 * bit is set here, not by the installer.
 */
import { gzipSync } from 'node:zlib';

/** One archive member. `path` is relative, `/`-separated, without `..`. */
export interface TarEntry {
  path: string;
  /** File contents; absent for a directory. */
  data?: Buffer;
  /** Permission bits, e.g. 0o755. */
  mode: number;
}

const BLOCK = 512;

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

/** Splits a path into ustar's 155-byte prefix and 100-byte name, or throws if it cannot fit. */
function splitName(path: string): { name: string; prefix: string } {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: '' };
  const cut = path.lastIndexOf('/', 155);
  if (cut > 0 && Buffer.byteLength(path.slice(cut + 1)) <= 100) return { name: path.slice(cut + 1), prefix: path.slice(0, cut) };
  throw new Error(`tar: path too long for a ustar header: ${path}`);
}

function header(entry: TarEntry, mtime: number): Buffer {
  if (entry.path.startsWith('/') || entry.path.split('/').includes('..')) throw new Error(`tar: unsafe path ${entry.path}`);
  const isDir = entry.data === undefined;
  const { name, prefix } = splitName(isDir && !entry.path.endsWith('/') ? `${entry.path}/` : entry.path);
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100);
  h.write(octal(entry.mode & 0o7777, 8), 100);
  h.write(octal(0, 8), 108); // uid
  h.write(octal(0, 8), 116); // gid
  h.write(octal(entry.data?.length ?? 0, 12), 124);
  h.write(octal(mtime, 12), 136);
  h.write('        ', 148); // checksum field counts as spaces while summing
  h.write(isDir ? '5' : '0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  h.write('root', 265);
  h.write('root', 297);
  h.write(prefix, 345, 155);
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(octal(sum, 7) + ' ', 148);
  return h;
}

/** The uncompressed tar stream: each header, its data padded to 512 bytes, then two zero blocks. */
export function tarBytes(entries: TarEntry[], mtime = 0): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    parts.push(header(entry, mtime));
    if (entry.data) {
      parts.push(entry.data);
      const pad = (BLOCK - (entry.data.length % BLOCK)) % BLOCK;
      if (pad) parts.push(Buffer.alloc(pad));
    }
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

/** tar.gz of the entries. Node's gzip header carries no mtime or name, so the bytes are stable. */
export function tarGz(entries: TarEntry[], mtime = 0): Buffer {
  return gzipSync(tarBytes(entries, mtime), { level: 9 });
}

/**
 * What an ELF file needs to run: its program interpreter (PT_INTERP) and its DT_NEEDED libraries,
 * read with binutils' readelf, which reads ELF files of any machine. Used to copy exactly the
 * shared libraries the agent image's programs load.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';

export interface ElfInfo { machine: number; interpreter?: string; needed: string[] }

/** e_machine from the ELF header, or undefined if `path` is not an ELF file. */
export function elfMachine(path: string): number | undefined {
  const header = Buffer.alloc(20);
  const fd = openSync(path, 'r');
  try {
    if (readSync(fd, header, 0, 20, 0) < 20) return undefined;
  } finally {
    closeSync(fd);
  }
  if (header.readUInt32BE(0) !== 0x7f454c46) return undefined;
  // EI_DATA (byte 5): 1 = little-endian. e_machine is the u16 at offset 18 (System V ABI, ELF header).
  return header[5] === 1 ? header.readUInt16LE(18) : header.readUInt16BE(18);
}

export function readElf(path: string): ElfInfo {
  const machine = elfMachine(path);
  if (machine === undefined) throw new Error(`${path} is not an ELF file`);
  const out = execFileSync('readelf', ['-W', '-l', '-d', path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const interpreter = /\[Requesting program interpreter: ([^\]]+)\]/.exec(out)?.[1];
  const needed = [...out.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
  return { machine, interpreter, needed };
}

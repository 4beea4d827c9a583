/**
 * Finding the program to run, as a POSIX shell does (a name with a `/` is a path; otherwise each
 * PATH entry in order, an empty entry meaning the current directory), with the shell's exit codes:
 * 127 when nothing is found, 126 when what is found cannot be executed (POSIX, "Command Search and
 * Execution"). Then a look at its ELF headers: a static binary (no PT_INTERP, so the dynamic loader
 * never runs and LD_PRELOAD is never read) or a Go binary (Go's runtime makes raw syscalls for its
 * sockets and DNS, so an LD_PRELOAD layer never sees them) gets a warning.
 */
import { accessSync, closeSync, constants, openSync, readSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ExitCode, MirrordError } from '../errors.ts';

/** A program that could not be started; exit code 127 or 126 as a shell would use. */
export class ProgramError extends MirrordError {}

function check(path: string, asTyped: string): string | undefined {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return undefined;
  }
  if (stat.isDirectory()) {
    throw new ProgramError('ENOTEXEC', `${asTyped}: is a directory`, ExitCode.notExecutable, { hint: 'give the path of a program file' });
  }
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new ProgramError('ENOTEXEC', `${asTyped}: permission denied (not executable)`, ExitCode.notExecutable, { hint: `chmod +x ${asTyped}, or run it through its interpreter (e.g. sh ${asTyped})` });
  }
  return path;
}

/**
 * Resolves `program` to an absolute path.
 * @param pathVariable the PATH to search (this machine's: PATH always stays local).
 * @throws ProgramError ENOTFOUND (exit 127) or ENOTEXEC (exit 126).
 */
export function findProgram(program: string, pathVariable: string | undefined, cwd = process.cwd()): string {
  if (program === '') throw new ProgramError('ENOTFOUND', 'the program name is empty', ExitCode.notFound, { hint: 'e.g. kubectl mirrord exec -t deployment/web -- node server.js' });
  if (program.includes('/')) {
    const found = check(resolve(cwd, program), program);
    if (found) return found;
    throw new ProgramError('ENOTFOUND', `${program}: no such file`, ExitCode.notFound, { hint: 'check the path of the program' });
  }
  // A found but non-executable entry is remembered, and reported only if nothing later works (as bash).
  let denied: ProgramError | undefined;
  for (const dir of (pathVariable ?? '').split(':')) {
    try {
      const found = check(join(resolve(cwd, dir === '' ? '.' : dir), program), program);
      if (found) return found;
    } catch (err) {
      if (err instanceof ProgramError && !(err.message.endsWith('is a directory'))) denied ??= err;
    }
  }
  if (denied) throw denied;
  throw new ProgramError('ENOTFOUND', `${program}: command not found`, ExitCode.notFound, { hint: 'check the name, or give the program\'s path; PATH is this machine\'s' });
}

export interface BinaryKind {
  /** An ELF file (scripts, with a #! line, are not). */
  elf: boolean;
  /** ELF with no PT_INTERP: no dynamic loader, so LD_PRELOAD is never read. */
  static: boolean;
  /** Has Go's build info (.go.buildinfo section) or build ID note (.note.go.buildid). */
  go: boolean;
}

const PT_INTERP = 3;
/** Bytes read from the front of the file: enough for the ELF, program and section headers of any sane binary, and the section name table is read separately. */
const HEAD_BYTES = 64 * 1024;

function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  const n = readSync(fd, buf, 0, length, position);
  return buf.subarray(0, n);
}

/** Reads ELF headers (ELF spec: the ELF header, program headers, section headers, shstrtab). */
export function inspectBinary(path: string): BinaryKind {
  const none: BinaryKind = { elf: false, static: false, go: false };
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return none;
  }
  try {
    const head = readAt(fd, 0, HEAD_BYTES);
    if (head.length < 64 || head.readUInt32BE(0) !== 0x7f454c46) return none;
    const is64 = head[4] === 2;
    const le = head[5] === 1;
    const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const addr = (b: Buffer, o: number) => (is64 ? Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)) : u32(b, o));
    const phoff = addr(head, is64 ? 0x20 : 0x1c);
    const shoff = addr(head, is64 ? 0x28 : 0x20);
    const phentsize = u16(head, is64 ? 0x36 : 0x2a);
    const phnum = u16(head, is64 ? 0x38 : 0x2c);
    const shentsize = u16(head, is64 ? 0x3a : 0x2e);
    const shnum = u16(head, is64 ? 0x3c : 0x30);
    const shstrndx = u16(head, is64 ? 0x3e : 0x32);
    const phdrs = readAt(fd, phoff, phentsize * phnum);
    let interp = false;
    for (let i = 0; i + 4 <= phdrs.length && i < phentsize * phnum; i += phentsize) if (u32(phdrs, i) === PT_INTERP) interp = true;
    let go = false;
    if (shoff > 0 && shnum > 0 && shstrndx < shnum) {
      const shdrs = readAt(fd, shoff, shentsize * shnum);
      const strHdr = shstrndx * shentsize;
      const strOff = addr(shdrs, strHdr + (is64 ? 0x18 : 0x10));
      const strSize = addr(shdrs, strHdr + (is64 ? 0x20 : 0x14));
      const names = readAt(fd, strOff, Math.min(strSize, 1 << 20));
      for (let i = 0; i < shnum; i++) {
        const nameOff = u32(shdrs, i * shentsize);
        const end = names.indexOf(0, nameOff);
        const name = names.subarray(nameOff, end === -1 ? names.length : end).toString('latin1');
        if (name === '.go.buildinfo' || name === '.note.go.buildid') go = true;
      }
    }
    return { elf: true, static: !interp, go };
  } catch {
    return none;
  } finally {
    closeSync(fd);
  }
}

/** The one-time warnings for a binary the layer cannot fully serve; empty for an ordinary one. */
export function binaryWarnings(path: string, kind: BinaryKind): string[] {
  const out: string[] = [];
  if (kind.go) {
    out.push(`${path} is a Go program: Go makes its own system calls for sockets and DNS, so its outgoing connections and name lookups will NOT go through the cluster${kind.static ? ', and as a static binary it gets no remote files either' : ' (the remote environment still applies)'}; Go support comes in a later version`);
  } else if (kind.static) {
    out.push(`${path} is statically linked: it cannot load the kubectl-mirrord layer, so only the remote environment applies (no remote files, DNS or outgoing traffic); child programs it starts that are dynamically linked still get the layer`);
  }
  return out;
}

/**
 * The contracts of the requests that read the target container's files: fileStat, fileRead,
 * dirList and readLink (capability `files`, all cli → agent). Every path is absolute and is
 * resolved by the agent inside the target container's root, as openat2(RESOLVE_IN_ROOT) would
 * (absolute symlinks and `..` never leave it). A failure the program's own system call would have
 * is answered EPOSIX with the POSIX name first in the message (request-errors.ts posixErrorName).
 *
 * fileRead's bytes do not travel in the answer: the agent opens a stream toward the CLI (OPEN to
 * FILE_STREAM_DESTINATION) carrying exactly `stat.size` bytes then FIN, with the session's normal
 * flow control, and answers with that stream's id. The OPEN is sent before the RESPONSE, so by the
 * time the asker has the answer, its session has already emitted the stream. A stream reset before
 * FIN means the file could not be read whole (it shrank, or a read failed): EIO to the program.
 */
import { Capability, RequestOp } from './constants.ts';
import type { Destination } from './address.ts';
import { posixError, ResponseErrorCode } from './request-errors.ts';
import { badAnswer, invalid, isCount, isU64String, noOtherFields, record, type Fail } from './request-checks.ts';
import type { RequestContract } from './request-checks.ts';

/** Longest path accepted, in UTF-8 bytes: PATH_MAX (4096, linux/limits.h) less its NUL. */
export const MAX_PATH_BYTES = 4095;

/** Largest maxBytes a fileRead may ask for: 4 GiB. */
export const MAX_FILE_READ_BYTES = 4 * 1024 * 1024 * 1024;

/**
 * Where the streams of fileRead go: a hostname under `.invalid` (RFC 2606 section 2), which no real
 * destination ever has, so a CLI tells file streams from incoming connections by it.
 */
export const FILE_STREAM_DESTINATION: Destination = { host: 'file.kubectl-mirrord.invalid', port: 1 };

/** A time as seconds and nanoseconds since the epoch (struct timespec). */
export interface FileTime {
  s: number;
  ns: number;
}

/**
 * struct stat of a file in the target container. ino, dev and rdev are decimal strings, since they
 * may use all 64 bits (overlayfs puts a filesystem id in the high bits of st_ino).
 */
export interface FileStat {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  ino: string;
  dev: string;
  rdev: string;
  blksize: number;
  blocks: number;
  atime: FileTime;
  mtime: FileTime;
  ctime: FileTime;
}

export const FILE_STAT_FIELDS = ['mode', 'uid', 'gid', 'size', 'nlink', 'ino', 'dev', 'rdev', 'blksize', 'blocks', 'atime', 'mtime', 'ctime'] as const;

/** A checked absolute path; too long is ENAMETOOLONG as the kernel says it. */
function checkPath(raw: unknown, op: string): string {
  if (typeof raw !== 'string' || !raw.startsWith('/')) invalid(`${op} needs an absolute path (starting with /), got ${JSON.stringify(raw)}`);
  if (raw.includes('\0')) invalid(`${op} path must not contain a NUL byte`);
  if (Buffer.byteLength(raw) > MAX_PATH_BYTES) throw posixError('ENAMETOOLONG', `the path is ${Buffer.byteLength(raw)} bytes; at most ${MAX_PATH_BYTES} are accepted`);
  return raw;
}

function checkBodyFields(raw: unknown, op: string, accepted: readonly string[]): Record<string, unknown> {
  const obj = record(raw, `the body of ${op}`, invalid);
  noOtherFields(obj, op, accepted, invalid);
  return obj;
}

function checkTime(raw: unknown, field: string, fail: Fail): FileTime {
  const t = record(raw, field, fail);
  if (typeof t.s !== 'number' || !Number.isInteger(t.s) || !isCount(t.ns) || t.ns > 999_999_999) fail(`${field} must be {s, ns} with whole seconds and 0-999999999 ns`);
  return { s: t.s as number, ns: t.ns as number };
}

/** Checks a stat in an answer. */
export function checkFileStat(raw: unknown, fail: Fail, what = 'the stat'): FileStat {
  const obj = record(raw, what, fail);
  for (const field of ['mode', 'uid', 'gid', 'size', 'nlink', 'blksize', 'blocks'] as const) {
    if (!isCount(obj[field])) fail(`${what}.${field} must be a non-negative integer, got ${JSON.stringify(obj[field])}`);
  }
  for (const field of ['ino', 'dev', 'rdev'] as const) {
    if (!isU64String(obj[field])) fail(`${what}.${field} must be a u64 in decimal digits, got ${JSON.stringify(obj[field])}`);
  }
  const out = {} as Record<string, unknown>;
  for (const field of FILE_STAT_FIELDS) out[field] = obj[field];
  for (const field of ['atime', 'mtime', 'ctime'] as const) out[field] = checkTime(obj[field], `${what}.${field}`, fail);
  return out as unknown as FileStat;
}

// ---- fileStat ----

export interface FileStatBody {
  path: string;
  /** stat (true) or lstat (false) of the last component. */
  follow: boolean;
}

export const fileStat: RequestContract<FileStatBody, FileStat> = {
  op: RequestOp.fileStat,
  name: 'fileStat',
  direction: 'cli → agent',
  capability: Capability.files,
  bodyFields: ['path', 'follow'],
  answerFields: [...FILE_STAT_FIELDS],
  errors: [ResponseErrorCode.invalid, ResponseErrorCode.notFound, ResponseErrorCode.posix],
  checkBody(raw) {
    const obj = checkBodyFields(raw, 'fileStat', ['path', 'follow']);
    const path = checkPath(obj.path, 'fileStat');
    if (typeof obj.follow !== 'boolean') invalid(`fileStat follow must be true (stat) or false (lstat), got ${JSON.stringify(obj.follow)}`);
    return { path, follow: obj.follow };
  },
  checkAnswer(raw) {
    return checkFileStat(raw, badAnswer('fileStat'));
  },
};

// ---- fileRead ----

export interface FileReadBody {
  path: string;
  /** A file larger than this is refused with EFBIG, before any byte is sent. */
  maxBytes: number;
}

export interface FileReadAnswer {
  /** The id of the stream the agent opened toward the CLI, carrying exactly stat.size bytes. */
  stream: number;
  stat: FileStat;
}

export const fileRead: RequestContract<FileReadBody, FileReadAnswer> = {
  op: RequestOp.fileRead,
  name: 'fileRead',
  direction: 'cli → agent',
  capability: Capability.files,
  bodyFields: ['path', 'maxBytes'],
  answerFields: ['stream', 'stat'],
  errors: [ResponseErrorCode.invalid, ResponseErrorCode.notFound, ResponseErrorCode.posix],
  checkBody(raw) {
    const obj = checkBodyFields(raw, 'fileRead', ['path', 'maxBytes']);
    const path = checkPath(obj.path, 'fileRead');
    if (!isCount(obj.maxBytes) || obj.maxBytes > MAX_FILE_READ_BYTES) invalid(`fileRead maxBytes must be a whole number of bytes from 0 to ${MAX_FILE_READ_BYTES}, got ${JSON.stringify(obj.maxBytes)}`);
    return { path, maxBytes: obj.maxBytes };
  },
  checkAnswer(raw) {
    const fail: Fail = badAnswer('fileRead');
    const obj = record(raw, 'the answer', fail);
    if (!isCount(obj.stream) || obj.stream === 0 || obj.stream % 2 !== 0) fail(`stream must be the even id of a stream the agent opened, got ${JSON.stringify(obj.stream)}`);
    return { stream: obj.stream, stat: checkFileStat(obj.stat, fail, 'stat') };
  },
};

// ---- dirList ----

/** A directory entry's type, as readdir's d_type tells it. */
export type DirEntryType = 'file' | 'dir' | 'link' | 'fifo' | 'socket' | 'char' | 'block' | 'other';
export const DIR_ENTRY_TYPES: readonly DirEntryType[] = ['file', 'dir', 'link', 'fifo', 'socket', 'char', 'block', 'other'];

export interface DirEntry {
  name: string;
  type: DirEntryType;
  /** d_ino, decimal digits. */
  ino: string;
}

export interface DirListBody {
  path: string;
  /** Entries to skip: 0 (or absent) for the first page, then the previous answer's `next`. */
  offset?: number;
}

export interface DirListAnswer {
  /** Entries sorted by name (as JavaScript compares strings: UTF-16 code units), without `.` and `..`. */
  entries: DirEntry[];
  /** The offset of the next page, or null when this page was the last. */
  next: number | null;
}

export const dirList: RequestContract<DirListBody, DirListAnswer> = {
  op: RequestOp.dirList,
  name: 'dirList',
  direction: 'cli → agent',
  capability: Capability.files,
  bodyFields: ['path', 'offset?'],
  answerFields: ['entries', 'next'],
  errors: [ResponseErrorCode.invalid, ResponseErrorCode.notFound, ResponseErrorCode.posix],
  checkBody(raw) {
    const obj = checkBodyFields(raw, 'dirList', ['path', 'offset']);
    const path = checkPath(obj.path, 'dirList');
    if (obj.offset === undefined) return { path };
    if (!isCount(obj.offset)) invalid(`dirList offset must be a count of entries (0 or the previous answer's next), got ${JSON.stringify(obj.offset)}`);
    return { path, offset: obj.offset };
  },
  checkAnswer(raw) {
    const fail: Fail = badAnswer('dirList');
    const obj = record(raw, 'the answer', fail);
    if (!Array.isArray(obj.entries)) fail('entries must be a list');
    const entries = (obj.entries as unknown[]).map((e, i) => {
      const entry = record(e, `entries[${i}]`, fail);
      if (typeof entry.name !== 'string' || entry.name.length === 0 || entry.name.includes('/')) fail(`entries[${i}].name must be a file name, got ${JSON.stringify(entry.name)}`);
      if (!DIR_ENTRY_TYPES.includes(entry.type as DirEntryType)) fail(`entries[${i}].type must be one of ${DIR_ENTRY_TYPES.join(', ')}, got ${JSON.stringify(entry.type)}`);
      if (!isU64String(entry.ino)) fail(`entries[${i}].ino must be a u64 in decimal digits`);
      return { name: entry.name as string, type: entry.type as DirEntryType, ino: entry.ino as string };
    });
    if (obj.next !== null && !isCount(obj.next)) fail(`next must be null or an offset, got ${JSON.stringify(obj.next)}`);
    return { entries, next: obj.next as number | null };
  },
};

// ---- readLink ----

export interface ReadLinkBody {
  path: string;
}

export interface ReadLinkAnswer {
  /** The link's contents as stored (relative or absolute; as the target container sees it). */
  target: string;
}

export const readLink: RequestContract<ReadLinkBody, ReadLinkAnswer> = {
  op: RequestOp.readLink,
  name: 'readLink',
  direction: 'cli → agent',
  capability: Capability.files,
  bodyFields: ['path'],
  answerFields: ['target'],
  errors: [ResponseErrorCode.invalid, ResponseErrorCode.notFound, ResponseErrorCode.posix],
  checkBody(raw) {
    const obj = checkBodyFields(raw, 'readLink', ['path']);
    return { path: checkPath(obj.path, 'readLink') };
  },
  checkAnswer(raw) {
    const fail: Fail = badAnswer('readLink');
    const { target } = record(raw, 'the answer', fail);
    if (typeof target !== 'string' || target.length === 0) fail(`target must be a non-empty string, got ${JSON.stringify(target)}`);
    return { target };
  },
};

/**
 * The file requests (fileStat, fileRead, dirList, readLink) against the target container's root
 * filesystem, `/proc/<pid>/root` of its main process. Every path is resolved inside that root
 * (resolve-in-root.ts). Read-only: nothing here writes to the target.
 */
import { closeSync, constants, createReadStream, fstatSync, lstatSync, openSync, readlinkSync } from 'node:fs';
import type { Session } from '../../src/session/session.ts';
import {
  FILE_STREAM_DESTINATION, type DirListAnswer, type DirListBody, type FileReadAnswer, type FileReadBody, type FileStat,
  type FileStatBody, type ReadLinkAnswer, type ReadLinkBody,
} from '../../src/protocol/file-requests.ts';
import { posixError } from '../../src/protocol/request-errors.ts';
import type { AgentLog } from '../log.ts';
import { accessDeniedReason, type TargetProcess } from '../target-process.ts';
import { targetFailure } from '../target-errors.ts';
import { callError, resolveInRoot, RootOpenError, type ResolvedPath } from './resolve-in-root.ts';
import { toFileStat } from './file-stat.ts';
import { listDirectory } from './dir-list.ts';

export class TargetFiles {
  readonly #target: TargetProcess;
  readonly #log: AgentLog;
  readonly #procDir: string;

  /** @param procDir where the target's pid is looked up (tests point it at a fake root's parent). */
  constructor(target: TargetProcess, log: AgentLog, procDir = '/proc') {
    this.#target = target;
    this.#log = log;
    this.#procDir = procDir;
  }

  /** fileStat. @throws RequestError EPOSIX, ENOTFOUND. */
  stat({ path, follow }: FileStatBody): FileStat {
    return this.#at(path, follow, (p) => {
      try {
        return toFileStat(lstatSync(p.at, { bigint: true }));
      } catch (err) {
        throw callError(err, path);
      }
    });
  }

  /** readLink. @throws RequestError EPOSIX (EINVAL when the path is no symlink), ENOTFOUND. */
  readLink({ path }: ReadLinkBody): ReadLinkAnswer {
    return this.#at(path, false, (p) => {
      try {
        return { target: readlinkSync(p.at) };
      } catch (err) {
        throw callError(err, path);
      }
    });
  }

  /** dirList: one page. @throws RequestError EPOSIX (ENOTDIR, ...), ENOTFOUND. */
  list({ path, offset }: DirListBody): DirListAnswer {
    return this.#at(path, true, (p) => listDirectory(p.at, path, offset ?? 0));
  }

  /**
   * fileRead: opens the file, opens a stream toward the CLI with exactly its size in bytes, and
   * answers with the stream's id. @throws RequestError EPOSIX (EFBIG over maxBytes, EISDIR, EINVAL
   * for anything but a regular file), ENOTFOUND.
   */
  read(session: Session, { path, maxBytes }: FileReadBody): FileReadAnswer {
    const { fd, stat } = this.#at(path, true, (p) => openRegular(p.at, path, maxBytes));
    let stream;
    try {
      stream = session.openStream(FILE_STREAM_DESTINATION);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    // The CLI sends nothing on a file stream; whatever comes is dropped.
    stream.resume();
    stream.on('error', (err) => this.#log.debug('file stream ended early', { path, error: err.message }));
    if (stat.size === 0) {
      closeSync(fd);
      stream.end();
    } else {
      let sent = 0;
      const file = createReadStream('', { fd, start: 0, end: stat.size - 1, highWaterMark: 256 * 1024 });
      file.on('data', (chunk) => { sent += (chunk as Buffer).length; });
      file.on('error', (err) => stream.destroy(err));
      file.on('end', () => {
        // Exactly stat.size bytes or a reset: a file that shrank while read must not look complete.
        if (sent === stat.size) return;
        stream.destroy(Object.assign(new Error(`${path} shrank from ${stat.size} to ${sent} bytes while it was read`), { code: 'EIO' }));
      });
      file.pipe(stream);
      stream.once('close', () => file.destroy());
    }
    return { stream: stream.id, stat };
  }

  /** Resolves `path` in the target's root, runs `op` on it, and closes the walk's descriptors. */
  #at<T>(path: string, follow: boolean, op: (p: ResolvedPath) => T): T {
    const { pid } = targetFailure(() => this.#target.current());
    let resolved: ResolvedPath;
    try {
      resolved = resolveInRoot(`${this.#procDir}/${pid}/root`, path, { followLast: follow });
    } catch (err) {
      if (!(err instanceof RootOpenError)) throw err;
      if (err.code === 'EACCES' || err.code === 'EPERM') throw posixError('EACCES', accessDeniedReason(pid, '/proc/<pid>/root'));
      throw posixError('EIO', `the target's root filesystem cannot be opened: ${err.message}`);
    }
    try {
      return op(resolved);
    } finally {
      resolved.close();
    }
  }
}

/** Opens a regular file for reading; O_NONBLOCK so a FIFO cannot hang the agent. */
function openRegular(at: string, path: string, maxBytes: number): { fd: number; stat: FileStat } {
  let fd: number;
  try {
    fd = openSync(at, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    throw callError(err, path);
  }
  try {
    const st = fstatSync(fd, { bigint: true });
    if (st.isDirectory()) throw callError({ code: 'EISDIR' }, path);
    if (!st.isFile()) throw posixError('EINVAL', `${path} is not a regular file (only regular files are read from the target container)`);
    if (st.size > BigInt(maxBytes)) throw posixError('EFBIG', `${path} is ${st.size} bytes, more than the limit of ${maxBytes}`);
    return { fd, stat: toFileStat(st) };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

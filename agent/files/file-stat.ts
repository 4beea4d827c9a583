/** struct stat as the file requests carry it (src/protocol/file-requests.ts FileStat). */
import type { BigIntStats } from 'node:fs';
import type { FileStat, FileTime } from '../../src/protocol/file-requests.ts';

const NS_PER_S = 1_000_000_000n;

function time(ns: bigint): FileTime {
  // Floor division, so a time before the epoch keeps 0 <= ns < 1e9 as struct timespec does.
  let s = ns / NS_PER_S;
  let rest = ns % NS_PER_S;
  if (rest < 0n) {
    s -= 1n;
    rest += NS_PER_S;
  }
  return { s: Number(s), ns: Number(rest) };
}

/** The wire form of a stat taken with `{ bigint: true }`. */
export function toFileStat(st: BigIntStats): FileStat {
  return {
    mode: Number(st.mode), uid: Number(st.uid), gid: Number(st.gid), size: Number(st.size), nlink: Number(st.nlink),
    ino: st.ino.toString(), dev: st.dev.toString(), rdev: st.rdev.toString(), blksize: Number(st.blksize), blocks: Number(st.blocks),
    atime: time(st.atimeNs), mtime: time(st.mtimeNs), ctime: time(st.ctimeNs),
  };
}

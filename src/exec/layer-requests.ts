/**
 * What each layer request becomes on the agent session. Every call waits for a live session (the
 * AgentLink holds it while it reconnects, up to HOLD_MS) and, failing that, answers with the errno
 * the call itself would have: EIO for files, EAI_AGAIN for lookups, ECONNREFUSED for connects.
 */
import type { IncomingListeners } from './incoming-listeners.ts';
import { addressBytes, addressText } from './ip-bytes.ts';
import { isIP } from 'node:net';
import { Requests } from '../protocol/requests.ts';
import { ResponseErrorCode, RequestError } from '../protocol/request-errors.ts';
import type { DirListAnswer, FileStat } from '../protocol/file-requests.ts';
import type { LayerMessageBody, LayerStat } from '../protocol/layer-messages.ts';
import { StreamResetError } from '../protocol/errors.ts';
import type { Session } from '../session/session.ts';
import type { SessionSource } from '../link/session-source.ts';
import { connectErrno, Eai, errno, fileErrno } from './errno.ts';
import { readAll, type FileStreams } from './file-streams.ts';
import type { TcpInterceptor } from './tcp-interceptor.ts';
import { UdpRelay } from './udp-relay.ts';

/** How long a layer request waits for the agent session to come back. */
export const HOLD_MS = 60_000;

/** d_type values (dirent.h). */
const DT: Record<string, number> = { fifo: 1, char: 2, dir: 4, block: 6, file: 8, link: 10, socket: 12, other: 0 };

export interface RequestContext {
  source: SessionSource;
  files: FileStreams;
  interceptor: TcpInterceptor;
  maxFileBytes: number;
  log: (line: string) => void;
  warnOnce: (text: string) => void;
  /** The program's listening sockets (incoming traffic); undefined when incoming is off. */
  incoming?: IncomingListeners;
}

/** Runs `fn` on a live session; a session that closed under it is retried on the next one until HOLD_MS. */
async function withSession<T>(ctx: RequestContext, fn: (session: Session) => Promise<T>): Promise<T> {
  const deadline = Date.now() + HOLD_MS;
  for (;;) {
    const session = await ctx.source.session();
    try {
      return await fn(session);
    } catch (err) {
      if (!session.closed || Date.now() >= deadline) throw err;
    }
  }
}

function zeroStat(err: number): LayerStat {
  return { err, mode: 0, uid: 0, gid: 0, size: 0n, nlink: 0n, ino: 0n, dev: 0n, rdev: 0n, blksize: 0, blocks: 0n, atime_s: 0n, atime_ns: 0, mtime_s: 0n, mtime_ns: 0, ctime_s: 0n, ctime_ns: 0 };
}

export function layerStat(stat: FileStat): LayerStat {
  return {
    err: 0, mode: stat.mode, uid: stat.uid, gid: stat.gid, size: BigInt(stat.size), nlink: BigInt(stat.nlink),
    ino: BigInt(stat.ino), dev: BigInt(stat.dev), rdev: BigInt(stat.rdev), blksize: stat.blksize, blocks: BigInt(stat.blocks),
    atime_s: BigInt(stat.atime.s), atime_ns: stat.atime.ns, mtime_s: BigInt(stat.mtime.s), mtime_ns: stat.mtime.ns, ctime_s: BigInt(stat.ctime.s), ctime_ns: stat.ctime.ns,
  };
}

export async function stat(ctx: RequestContext, path: string, follow: boolean): Promise<LayerStat> {
  try {
    return layerStat(await withSession(ctx, (s) => s.call(Requests.fileStat, { path, follow })));
  } catch (err) {
    return zeroStat(fileErrno(err));
  }
}

/** OPEN_FILE: the stat and the whole contents, or an errno (EFBIG above the limit, with a warning). */
export async function openFile(ctx: RequestContext, path: string): Promise<{ stat: LayerStat; contents?: Buffer }> {
  try {
    const started = performance.now();
    const contents = await withSession(ctx, async (s) => {
      const answer = await s.call(Requests.fileRead, { path, maxBytes: ctx.maxFileBytes });
      const answered = performance.now();
      const stream = ctx.files.take(answer.stream);
      if (!stream) throw new Error(`fileRead ${path}: the agent's stream ${answer.stream} never arrived`);
      const data = await readAll(stream, answer.stat.size);
      ctx.log(`file: ${path} (${data.length} B): answer after ${(answered - started).toFixed(1)} ms, contents after ${(performance.now() - started).toFixed(1)} ms`);
      return { stat: answer.stat, data };
    });
    return { stat: layerStat(contents.stat), contents: contents.data };
  } catch (err) {
    const code = fileErrno(err);
    if (code === errno('EFBIG')) {
      ctx.warnOnce(`${path} in the pod is larger than feature.fs.max_file_size (${ctx.maxFileBytes} bytes): opening it fails with EFBIG`);
    } else if (code === errno('EIO')) {
      ctx.log(`file: reading ${path} failed: ${(err as Error).message}`);
    }
    return { stat: zeroStat(code) };
  }
}

export async function readdir(ctx: RequestContext, path: string): Promise<LayerMessageBody<'readdirOk'>> {
  try {
    const entries = await withSession(ctx, async (s) => {
      const all: Array<{ name: string; type: number; ino: bigint }> = [];
      let offset: number | null = 0;
      while (offset !== null) {
        const page: DirListAnswer = await s.call(Requests.dirList, offset === 0 ? { path } : { path, offset });
        for (const e of page.entries) all.push({ name: e.name, type: DT[e.type] ?? 0, ino: BigInt(e.ino) });
        offset = page.next;
      }
      return all;
    });
    return { err: 0, entries };
  } catch (err) {
    return { err: fileErrno(err), entries: [] };
  }
}

export async function readlink(ctx: RequestContext, path: string): Promise<LayerMessageBody<'readlinkOk'>> {
  try {
    const answer = await withSession(ctx, (s) => s.call(Requests.readLink, { path }));
    return { err: 0, target: answer.target };
  } catch (err) {
    return { err: fileErrno(err), target: '' };
  }
}

/** access(2) on a remote path: files from the pod are read-only here, so W_OK is EROFS. */
export async function access(ctx: RequestContext, path: string, mode: number): Promise<number> {
  const st = await stat(ctx, path, true);
  if (st.err !== 0) return st.err;
  if (mode & 2) return errno('EROFS');
  if ((mode & 4) && (st.mode & 0o444) === 0) return errno('EACCES');
  if ((mode & 1) && (st.mode & 0o111) === 0) return errno('EACCES');
  return 0;
}

/** AF_INET and AF_INET6 as Linux numbers them. */
const AF_INET = 2;
const AF_INET6 = 10;

export async function getaddrinfo(ctx: RequestContext, host: string, family: number): Promise<LayerMessageBody<'getaddrinfoOk'>> {
  const want = family === AF_INET ? 4 : family === AF_INET6 ? 6 : undefined;
  try {
    const answer = await withSession(ctx, (s) => s.lookup(host, want));
    const addrs = [...new Set(answer.addresses)].flatMap((a) => {
      const v = isIP(a);
      if (v === 0 || (want !== undefined && v !== want)) return [];
      return [{ family: v, addr: addressBytes(a) }];
    });
    if (addrs.length === 0) return { eai: Eai.noname, canonname: '', addrs: [] };
    return { eai: 0, canonname: host, addrs };
  } catch (err) {
    const code = err instanceof RequestError ? err.code : '';
    return { eai: code === ResponseErrorCode.notFound ? Eai.noname : Eai.again, canonname: '', addrs: [] };
  }
}

export async function getnameinfo(ctx: RequestContext, addr: Uint8Array): Promise<LayerMessageBody<'getnameinfoOk'>> {
  const text = addressText(addr);
  if (text === undefined) return { eai: Eai.family, host: '' };
  try {
    const answer = await withSession(ctx, (s) => s.call(Requests.dnsReverse, { address: text }));
    return { eai: 0, host: answer.host };
  } catch (err) {
    const code = err instanceof RequestError ? err.code : '';
    return { eai: code === ResponseErrorCode.notFound ? Eai.noname : Eai.again, host: '' };
  }
}

export { addressBytes, addressText };

function connectFailed(err: number): LayerMessageBody<'connectOk'> {
  return { err, token: 0n, relay_port: 0, local_family: 0, local_addr: new Uint8Array(0), local_port: 0 };
}

/** CONNECT tcp: answered only after the agent's OPEN_OK (or RESET). */
export async function connectTcp(ctx: RequestContext, host: string, port: number): Promise<LayerMessageBody<'connectOk'>> {
  try {
    const stream = await withSession(ctx, (s) => new Promise<ReturnType<Session['openStream']>>((resolve, reject) => {
      const st = s.openStream({ host, port });
      st.once('established', () => {
        st.off('error', reject);
        resolve(st);
      });
      st.once('error', reject);
    }));
    stream.on('error', () => {});
    const token = ctx.interceptor.offer(stream);
    return { err: 0, token, relay_port: ctx.interceptor.port, local_family: 0, local_addr: new Uint8Array(0), local_port: 0 };
  } catch (err) {
    const code = err instanceof StreamResetError ? connectErrno(err.reason) : errno('ECONNREFUSED');
    ctx.log(`tcp: connect ${host}:${port} failed: ${(err as Error).message}`);
    return connectFailed(code);
  }
}

/** CONNECT udp: a relay joined to a datagram stream; `track` gets it so the connection can close it. */
export async function connectUdp(ctx: RequestContext, host: string, port: number, track: (relay: UdpRelay) => () => void): Promise<LayerMessageBody<'connectOk'>> {
  try {
    const session = await ctx.source.session();
    const stream = session.openDatagramStream({ host, port });
    let untrack: () => void = () => {};
    const relay = await UdpRelay.bind(stream, () => untrack());
    untrack = track(relay);
    return { err: 0, token: 0n, relay_port: relay.port, local_family: 0, local_addr: new Uint8Array(0), local_port: 0 };
  } catch (err) {
    ctx.log(`udp: relay to ${host}:${port} failed: ${(err as Error).message}`);
    return connectFailed(err instanceof StreamResetError ? connectErrno(err.reason) : errno('ENETUNREACH'));
  }
}

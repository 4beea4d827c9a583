/**
 * A fake exec proxy for tests of the C layer with no cluster: it serves the layer link
 * (src/protocol/layer-codec.ts) on a Unix socket from an in-memory pod: files, directories and
 * symlinks, DNS answers, and outgoing TCP destinations that it relays, through the token relay
 * the real proxy uses, to local servers. It records every HELLO and LOG it receives.
 */
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { LayerDecoder, encodeLayerMessage, encodeOpenFileReply } from '../../src/protocol/layer-codec.ts';
import {
  LAYER_TOKEN_BYTES,
  LayerFilterSide,
  LayerFlag,
  LayerFsMode,
  type LayerMessage,
  type LayerMessageBody,
  type LayerStat,
} from '../../src/protocol/layer-messages.ts';
import { netFilterItem } from '../../src/exec/layer-config.ts';
import type { TrafficFilter } from '../../src/config/traffic-filter.ts';

const ENOENT = 2;
const EINVAL = 22;
const ENOTDIR = 20;
const EISDIR = 21;
const EFBIG = 27;
const ECONNREFUSED = 111;
const EAI_NONAME = -2;

export type FakeEntry =
  | { kind: 'file'; contents: Buffer | string; mode?: number; uid?: number }
  | { kind: 'dir'; mode?: number }
  | { kind: 'link'; target: string };

/**
 * Where a remote destination ("10.1.2.3:80") really goes: a local TCP port (answered after
 * `delayMs`, as a slow agent connect would be), a local UDP port, or 'refused'.
 */
export type FakeDestination = { port: number; delayMs?: number } | { udpPort: number } | 'refused';

export interface FakeLayerProxyOptions {
  /** Paths of the fake pod. Directories list the entries below them. */
  files?: Record<string, FakeEntry>;
  /** Host name → addresses ("10.1.2.3", "fd00::1"). */
  dns?: Record<string, string[]>;
  /** Address → name, for reverse lookups. */
  reverse?: Record<string, string>;
  /** "addr:port" → where the relay sends it. */
  destinations?: Record<string, FakeDestination>;
  flags?: number;
  fsMode?: number;
  maxFileBytes?: bigint;
  remotePaths?: string[];
  localPaths?: string[];
  notFoundPaths?: string[];
  /** feature.network.outgoing.filter and dns.filter, as the config check makes them. */
  outgoingFilter?: TrafficFilter;
  dnsFilter?: TrafficFilter;
  /** Close each layer connection instead of answering its first request after HELLO. */
  dropAfterHello?: boolean;
}

export interface FakeLayerProxy {
  socketPath: string;
  /** Every HELLO, in arrival order. */
  hellos: LayerMessageBody<'hello'>[];
  /** Every LOG message. */
  logs: LayerMessageBody<'log'>[];
  /** Every request name seen (for "did it go remote?" checks). */
  requests: { name: string; body: unknown }[];
  /** Destinations whose relayed connection carried the right token. */
  relayed: string[];
  close(): Promise<void>;
}

const ino = (path: string): bigint => BigInt([...path].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7));

function statOf(path: string, entry: FakeEntry | undefined, err = 0): LayerStat {
  const mode = !entry ? 0 : entry.kind === 'dir' ? 0o040000 | (entry.mode ?? 0o755)
    : entry.kind === 'link' ? 0o120777 : 0o100000 | (entry.mode ?? 0o644);
  const size = entry?.kind === 'file' ? BigInt(Buffer.byteLength(entry.contents)) : entry?.kind === 'link' ? BigInt(entry.target.length) : 4096n;
  return {
    err, mode, uid: entry?.kind === 'file' ? (entry.uid ?? 1234) : 0, gid: 4321, size: err ? 0n : size, nlink: 1n,
    ino: ino(path), dev: 77n, rdev: 0n, blksize: 4096, blocks: 8n,
    atime_s: 1_600_000_000n, atime_ns: 0, mtime_s: 1_600_000_001n, mtime_ns: 500, ctime_s: 1_600_000_002n, ctime_ns: 0,
  };
}

function addrBytes(text: string): { family: number; addr: Buffer } {
  if (text.includes(':')) {
    const [head, tail = ''] = text.split('::');
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
    const b = Buffer.alloc(16);
    groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
    return { family: 6, addr: b };
  }
  return { family: 4, addr: Buffer.from(text.split('.').map(Number)) };
}

function addrText(family: number, b: Uint8Array): string {
  if (family === 4) return [...b].join('.');
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(((b[i] << 8) | b[i + 1]).toString(16));
  return parts.join(':');
}

/** Resolves symlinks in every component, as the agent does inside the container's root. */
function resolvePath(files: Record<string, FakeEntry>, path: string, followLast: boolean): string {
  let parts = path.split('/').filter(Boolean);
  for (let hops = 0, i = 0; i < parts.length && hops < 40; i++) {
    const prefix = `/${parts.slice(0, i + 1).join('/')}`;
    const entry = files[prefix];
    if (entry?.kind !== 'link' || (i === parts.length - 1 && !followLast)) continue;
    const base = entry.target.startsWith('/') ? [] : parts.slice(0, i);
    parts = [...base, ...entry.target.split('/').filter(Boolean), ...parts.slice(i + 1)];
    i = -1;
    hops++;
  }
  return `/${parts.join('/')}`;
}

export async function startFakeLayerProxy(options: FakeLayerProxyOptions): Promise<FakeLayerProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'km-fake-proxy-'));
  const socketPath = join(dir, 'proxy.sock');
  const files = options.files ?? {};
  const hellos: LayerMessageBody<'hello'>[] = [];
  const logs: LayerMessageBody<'log'>[] = [];
  const requests: { name: string; body: unknown }[] = [];
  const relayed: string[] = [];
  const tokens = new Map<bigint, string>();
  const sockets = new Set<Socket>();
  const udpRelays = new Set<UdpSocket>();

  /** A per-destination UDP relay: the program's first datagram tells where answers go. */
  const udpRelay = async (targetPort: number): Promise<number> => {
    const relaySocket = createSocket('udp4');
    const upstream = createSocket('udp4');
    udpRelays.add(relaySocket);
    udpRelays.add(upstream);
    let program: { address: string; port: number } | undefined;
    relaySocket.on('message', (msg, rinfo) => {
      program = { address: rinfo.address, port: rinfo.port };
      upstream.send(msg, targetPort, '127.0.0.1');
    });
    upstream.on('message', (msg) => {
      if (program) relaySocket.send(msg, program.port, program.address);
    });
    await new Promise<void>((r) => relaySocket.bind(0, '127.0.0.1', () => r()));
    return relaySocket.address().port;
  };

  // The token relay: 8 bytes of token, then the bytes of the destination's server. Half-open,
  // so a program's shutdown(SHUT_WR) still gets the server's answer back.
  const relay: Server = createServer({ allowHalfOpen: true }, (conn) => {
    sockets.add(conn);
    conn.on('close', () => sockets.delete(conn));
    conn.on('error', () => {});
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      if (head.length < LAYER_TOKEN_BYTES) return;
      conn.off('data', onData);
      conn.pause();
      const dest = tokens.get(head.readBigUInt64LE(0));
      const target = dest ? options.destinations?.[dest] : undefined;
      if (!dest || !target || target === 'refused' || !('port' in target)) {
        conn.destroy();
        return;
      }
      tokens.delete(head.readBigUInt64LE(0));
      relayed.push(dest);
      const upstream = tcpConnect({ port: target.port, host: '127.0.0.1', allowHalfOpen: true });
      sockets.add(upstream);
      upstream.on('close', () => sockets.delete(upstream));
      upstream.on('error', () => conn.destroy());
      const rest = head.subarray(LAYER_TOKEN_BYTES);
      if (rest.length) upstream.write(rest);
      conn.pipe(upstream).pipe(conn);
      conn.resume();
    };
    conn.on('data', onData);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const relayPort = (relay.address() as { port: number }).port;

  const answer = async (m: LayerMessage): Promise<Buffer[]> => {
    switch (m.name) {
      case 'hello':
        hellos.push(m.body);
        return [encodeLayerMessage('helloOk', m.id, {
          flags: options.flags ?? (LayerFlag.remoteFs | LayerFlag.remoteDns | LayerFlag.outgoingTcp | LayerFlag.outgoingUdp),
          fs_mode: options.fsMode ?? LayerFsMode.read,
          max_file_bytes: options.maxFileBytes ?? 1024n * 1024n,
          remote_paths: (options.remotePaths ?? []).map((pattern) => ({ pattern })),
          local_paths: (options.localPaths ?? []).map((pattern) => ({ pattern })),
          not_found_paths: (options.notFoundPaths ?? []).map((pattern) => ({ pattern })),
          connect_timeout_ms: 5000,
          outgoing_filter_side: options.outgoingFilter ? LayerFilterSide[options.outgoingFilter.side] : LayerFilterSide.none,
          outgoing_filter: (options.outgoingFilter?.entries ?? []).map(netFilterItem),
          dns_filter_side: options.dnsFilter ? LayerFilterSide[options.dnsFilter.side] : LayerFilterSide.none,
          dns_filter: (options.dnsFilter?.entries ?? []).map(netFilterItem),
        })];
      case 'log':
        logs.push(m.body);
        return [];
      case 'stat': {
        const path = resolvePath(files, m.body.path, m.body.follow === 1);
        const entry = files[path];
        return [encodeLayerMessage('statOk', m.id, statOf(path, entry, entry ? 0 : ENOENT))];
      }
      case 'openFile': {
        const path = resolvePath(files, m.body.path, true);
        const entry = files[path];
        if (!entry) return encodeOpenFileReply(m.id, statOf(path, undefined, ENOENT));
        if (entry.kind === 'dir') return encodeOpenFileReply(m.id, statOf(path, undefined, EISDIR));
        if (entry.kind !== 'file') return encodeOpenFileReply(m.id, statOf(path, undefined, EINVAL));
        const data = Buffer.from(entry.contents);
        if (BigInt(data.length) > (options.maxFileBytes ?? 1024n * 1024n)) return encodeOpenFileReply(m.id, statOf(path, undefined, EFBIG));
        return encodeOpenFileReply(m.id, statOf(path, entry), data);
      }
      case 'readdir': {
        const dirPath = resolvePath(files, m.body.path, true);
        const entry = files[dirPath];
        if (!entry) return [encodeLayerMessage('readdirOk', m.id, { err: ENOENT, entries: [] })];
        if (entry.kind !== 'dir') return [encodeLayerMessage('readdirOk', m.id, { err: ENOTDIR, entries: [] })];
        const prefix = `${dirPath}/`;
        const entries = Object.entries(files)
          .filter(([p]) => p.startsWith(prefix) && !p.slice(prefix.length).includes('/'))
          .map(([p, e]) => ({ name: p.slice(prefix.length), type: e.kind === 'dir' ? 4 : e.kind === 'link' ? 10 : 8, ino: ino(p) }));
        return [encodeLayerMessage('readdirOk', m.id, { err: 0, entries })];
      }
      case 'readlink': {
        const entry = files[resolvePath(files, m.body.path, false)];
        const err = !entry ? ENOENT : entry.kind === 'link' ? 0 : EINVAL;
        return [encodeLayerMessage('readlinkOk', m.id, { err, target: entry?.kind === 'link' ? entry.target : '' })];
      }
      case 'access':
        return [encodeLayerMessage('accessOk', m.id, { err: files[resolvePath(files, m.body.path, true)] ? 0 : ENOENT })];
      case 'getaddrinfo': {
        const found = options.dns?.[m.body.host];
        const addrs = (found ?? []).map(addrBytes).filter((a) => m.body.family === 0 || (m.body.family === 2 ? a.family === 4 : a.family === 6));
        return [encodeLayerMessage('getaddrinfoOk', m.id, { eai: found ? 0 : EAI_NONAME, canonname: found ? m.body.host : '', addrs })];
      }
      case 'getnameinfo': {
        const host = options.reverse?.[addrText(m.body.family, m.body.addr)];
        return [encodeLayerMessage('getnameinfoOk', m.id, { eai: host ? 0 : EAI_NONAME, host: host ?? '' })];
      }
      case 'connect': {
        const dest = `${addrText(m.body.family, m.body.addr)}:${m.body.port}`;
        const target = options.destinations?.[dest];
        const zero = { local_family: 0, local_addr: new Uint8Array(0), local_port: 0 };
        if (m.body.proto === 17 && target && target !== 'refused' && 'udpPort' in target) {
          relayed.push(`udp ${dest}`);
          return [encodeLayerMessage('connectOk', m.id, { err: 0, token: 0n, relay_port: await udpRelay(target.udpPort), ...zero })];
        }
        if (!target || target === 'refused' || m.body.proto !== 6 || !('port' in target)) {
          return [encodeLayerMessage('connectOk', m.id, { err: ECONNREFUSED, token: 0n, relay_port: 0, ...zero })];
        }
        if (target.delayMs) await new Promise((r) => setTimeout(r, target.delayMs));
        const token = randomBytes(8).readBigUInt64LE(0);
        tokens.set(token, dest);
        return [encodeLayerMessage('connectOk', m.id, { err: 0, token, relay_port: relayPort, ...zero })];
      }
      default:
        return [encodeLayerMessage('error', m.id, { err: EINVAL, message: `the fake proxy does not serve ${m.name}` })];
    }
  };

  const server = createServer((conn) => {
    sockets.add(conn);
    conn.on('close', () => sockets.delete(conn));
    conn.on('error', () => {});
    const decoder = new LayerDecoder('layer → proxy');
    // Each answer goes out when it is ready (a slow CONNECT does not hold up the others), as the
    // real proxy's are; a frame and the file contents after it are written together.
    conn.on('data', (chunk) => {
      let messages;
      try {
        messages = decoder.push(chunk);
      } catch {
        conn.destroy();
        return;
      }
      for (const m of messages) {
        if (m.name === 'fileContent') continue;
        if (m.name !== 'hello' && m.name !== 'log') requests.push({ name: m.name, body: m.body });
        if (options.dropAfterHello && m.name !== 'hello' && m.name !== 'log') {
          conn.destroy();
          return;
        }
        void answer(m).then((buffers) => {
          for (const b of buffers) conn.write(b);
        });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));

  return {
    socketPath,
    hellos,
    logs,
    requests,
    relayed,
    async close() {
      for (const s of sockets) s.destroy();
      for (const u of udpRelays) u.close();
      await Promise.all([new Promise((r) => server.close(r)), new Promise((r) => relay.close(r))]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Cluster DNS over UDP and TCP on port 53 of the cluster DNS IP (10.96.0.10, a local address on the
 * node's bridge, which every pod reaches through its default gateway). TCP carries each message
 * with a two-byte length prefix (RFC 1035 4.2.2), several per connection (RFC 7766).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { Store } from '../contract.ts';
import { resolve } from './dns-records.ts';
import { CLASSIC_UDP_MAX, DnsFormatError, EDNS_UDP_MAX, encodeResponse, errorResponse, parseQuery, RCODE } from './dns-wire.ts';
import { DNS_IP } from './network-constants.ts';

const DNS_PORT = 53;

/** Builds the reply to one raw message; `udp` limits its size. Never throws. */
export function answer(store: Store, raw: Buffer, udp: boolean): Buffer | undefined {
  let query;
  try {
    query = parseQuery(raw);
  } catch (err) {
    return err instanceof DnsFormatError && raw.length >= 2 ? errorResponse(raw, RCODE.FORMERR) : undefined;
  }
  if (query.opcode !== 0) return encodeResponse(query, { rcode: RCODE.NOTIMP, answers: [], authority: [], authoritative: false });
  const parts = resolve(store, query.question.name, query.question.type);
  const max = query.ednsUdpSize !== undefined ? Math.max(CLASSIC_UDP_MAX, Math.min(query.ednsUdpSize, EDNS_UDP_MAX)) : CLASSIC_UDP_MAX;
  return encodeResponse(query, parts, udp ? max : undefined);
}

export class ClusterDns {
  readonly #store: Store;
  readonly #host: string;
  readonly #port: number;
  #udp?: dgram.Socket;
  #tcp?: net.Server;
  #connections = new Set<net.Socket>();

  /** `host`/`port` default to the cluster DNS address; tests may use a loopback port. */
  constructor(store: Store, host = DNS_IP, port = DNS_PORT) {
    this.#store = store;
    this.#host = host;
    this.#port = port;
  }

  /** Binds both sockets; rejects if either address is taken. */
  async start(): Promise<void> {
    const udp = dgram.createSocket('udp4');
    udp.on('message', (msg, rinfo) => {
      const reply = answer(this.#store, msg, true);
      if (reply) udp.send(reply, rinfo.port, rinfo.address);
    });
    await new Promise<void>((res, rej) => { udp.once('error', rej); udp.bind(this.#port, this.#host, () => res()); });
    udp.on('error', () => undefined);
    this.#udp = udp;
    const tcp = net.createServer((sock) => this.#serveTcp(sock));
    // Same port as UDP (port 0 picks one for UDP; TCP then follows it).
    await new Promise<void>((res, rej) => { tcp.once('error', rej); tcp.listen(this.port, this.#host, () => res()); });
    this.#tcp = tcp;
  }

  /** The bound UDP/TCP port (useful when constructed with port 0). */
  get port(): number {
    return (this.#udp?.address() as { port: number } | undefined)?.port ?? this.#port;
  }

  #serveTcp(sock: net.Socket): void {
    this.#connections.add(sock);
    sock.on('close', () => this.#connections.delete(sock));
    let pending = Buffer.alloc(0);
    sock.on('error', () => undefined);
    sock.setTimeout(10_000, () => sock.destroy());
    sock.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const len = pending.readUInt16BE(0);
        const reply = answer(this.#store, pending.subarray(2, 2 + len), false);
        pending = pending.subarray(2 + len);
        if (!reply) return sock.destroy();
        const prefix = Buffer.alloc(2);
        prefix.writeUInt16BE(reply.length);
        sock.write(Buffer.concat([prefix, reply]));
      }
    });
  }

  async stop(): Promise<void> {
    this.#udp?.close();
    for (const sock of this.#connections) sock.destroy();
    await new Promise<void>((res) => (this.#tcp ? this.#tcp.close(() => res()) : res()));
    this.#udp = undefined;
    this.#tcp = undefined;
  }
}

/**
 * Where the layer connects a program's TCP socket once the agent has opened the stream: a listener
 * on 127.0.0.1. The layer writes the 8-byte token from CONNECT_OK first; the interceptor matches it
 * and splices the socket to the stream. A token nobody claims within 30 s is released (the stream
 * reset), so an abandoned connect (Happy Eyeballs) does not leak a stream.
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { LAYER_TOKEN_BYTES } from '../protocol/layer-messages.ts';
import { splice } from '../session/splice.ts';
import type { MuxStream } from '../session/stream.ts';

const UNCLAIMED_MS = 30_000;

export class TcpInterceptor {
  readonly #server: net.Server;
  readonly #pending = new Map<bigint, { stream: MuxStream; timer: NodeJS.Timeout }>();
  readonly #sockets = new Set<net.Socket>();
  readonly #log: (line: string) => void;

  private constructor(server: net.Server, log: (line: string) => void) {
    this.#server = server;
    this.#log = log;
    server.on('connection', (socket) => this.#accept(socket));
  }

  static async listen(log: (line: string) => void): Promise<TcpInterceptor> {
    const server = net.createServer({ allowHalfOpen: true, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new TcpInterceptor(server, log);
  }

  get port(): number {
    return (this.#server.address() as net.AddressInfo).port;
  }

  /** Registers an established stream; returns the token the layer must present. */
  offer(stream: MuxStream): bigint {
    let token: bigint;
    do token = randomBytes(LAYER_TOKEN_BYTES).readBigUInt64LE(0); while (token === 0n || this.#pending.has(token));
    const timer = setTimeout(() => {
      this.#pending.delete(token);
      stream.destroy();
      this.#log(`tcp: token for ${stream.open.destination.host}:${stream.open.destination.port} not claimed within ${UNCLAIMED_MS / 1000} s; stream released`);
    }, UNCLAIMED_MS);
    timer.unref();
    this.#pending.set(token, { stream, timer });
    // The agent may send before the program claims the stream; keep it until then.
    stream.pause();
    return token;
  }

  #accept(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {});
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      if (head.length < LAYER_TOKEN_BYTES) return;
      socket.off('data', onData);
      socket.pause();
      const token = head.readBigUInt64LE(0);
      const entry = this.#pending.get(token);
      if (!entry) {
        this.#log('tcp: a connection to the interceptor presented an unknown token; closed');
        socket.resetAndDestroy();
        return;
      }
      this.#pending.delete(token);
      clearTimeout(entry.timer);
      const rest = head.subarray(LAYER_TOKEN_BYTES);
      if (rest.length > 0) socket.unshift(rest);
      // splice() resumes the socket when it pipes it, which may wait for the session's send budget:
      // resumed here, it would flow before anything reads it.
      void splice(socket, entry.stream);
      entry.stream.resume();
    };
    socket.on('data', onData);
  }

  async close(): Promise<void> {
    for (const { stream, timer } of this.#pending.values()) {
      clearTimeout(timer);
      stream.destroy();
    }
    this.#pending.clear();
    for (const socket of this.#sockets) socket.resetAndDestroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/**
 * The Unix socket every process that loads the layer connects to, one connection per process. Each
 * connection has its own decoder; requests are served concurrently (a threaded program may have
 * several in flight) and answered with their id. A malformed frame ends that connection only.
 * Connections are never timed out: a program paused in a debugger keeps its link for hours.
 */
import net from 'node:net';
import { EventEmitter } from 'node:events';
import { encodeLayerMessage, encodeOpenFileReply, LayerDecoder, type LayerDecoded } from '../protocol/layer-codec.ts';
import { LayerFlag, LayerLogLevel, LayerProto, type LayerMessage } from '../protocol/layer-messages.ts';
import { helloOk, type HelloContext } from './layer-config.ts';
import * as layerRequests from './layer-requests.ts';
import type { RequestContext } from './layer-requests.ts';
import type { UdpRelay } from './udp-relay.ts';
import { errno } from './errno.ts';

export interface LayerServerEvents {
  /** The number of open layer connections changed. */
  count: [open: number];
}

export class LayerServer extends EventEmitter<LayerServerEvents> {
  readonly #server: net.Server;
  readonly #connections = new Set<net.Socket>();
  readonly #ctx: RequestContext;
  readonly #hello: HelloContext;
  /**
   * How many processes have said HELLO, not counting the launcher (the env(1) the CLI starts the
   * program through, which connects and is gone at its exec): while this is 0, the program itself
   * has not connected yet (or cannot: a static binary).
   */
  programs = 0;
  /** The launcher's path (its HELLO is not counted in `programs`). */
  launcher: string | undefined;

  private constructor(server: net.Server, ctx: RequestContext, hello: HelloContext) {
    super();
    this.#server = server;
    this.#ctx = ctx;
    this.#hello = hello;
    server.on('connection', (socket) => this.#serve(socket));
  }

  static async listen(path: string, ctx: RequestContext, hello: HelloContext): Promise<LayerServer> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    return new LayerServer(server, ctx, hello);
  }

  get open(): number {
    return this.#connections.size;
  }

  async close(): Promise<void> {
    for (const socket of this.#connections) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #serve(socket: net.Socket): void {
    this.#connections.add(socket);
    this.emit('count', this.#connections.size);
    const decoder = new LayerDecoder('layer → proxy');
    const relays = new Set<UdpRelay>();
    let who = 'a process';
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      let messages: LayerDecoded[];
      try {
        messages = decoder.push(chunk);
      } catch (err) {
        this.#ctx.log(`layer: ${who}: malformed message (${(err as Error).message}); its link is closed`);
        socket.destroy();
        return;
      }
      for (const message of messages) {
        if (message.name === 'hello') {
          who = `pid ${message.body.pid} (${message.body.exe})`;
          if (message.body.exe !== this.launcher || this.programs > 0) this.programs++;
        }
        void this.#answer(socket, message as LayerMessage, relays).catch((err: unknown) => {
          this.#ctx.log(`layer: ${who}: ${message.name} failed: ${(err as Error).message}`);
          if (message.id !== 0 && !socket.destroyed) socket.write(encodeLayerMessage('error', message.id, { err: errno('EIO'), message: (err as Error).message }));
        });
      }
    });
    socket.once('close', () => {
      for (const relay of relays) relay.close();
      this.#ctx.incoming?.disconnected(socket);
      this.#connections.delete(socket);
      this.#ctx.log(`layer: ${who} disconnected`);
      this.emit('count', this.#connections.size);
    });
  }

  async #answer(socket: net.Socket, message: LayerMessage, relays: Set<UdpRelay>): Promise<void> {
    const ctx = this.#ctx;
    const reply = (buf: Buffer | Buffer[]) => {
      if (socket.destroyed) return;
      for (const b of Array.isArray(buf) ? buf : [buf]) socket.write(b);
    };
    const { id } = message;
    switch (message.name) {
      case 'hello': {
        const body = helloOk(this.#hello, message.body.exe, message.body.argv0);
        ctx.log(`layer: pid ${message.body.pid} (ppid ${message.body.ppid}) ${message.body.exe} connected${body.flags & LayerFlag.skip ? ' (skipped: passes everything through)' : ''}`);
        return reply(encodeLayerMessage('helloOk', id, body));
      }
      case 'stat':
        return reply(encodeLayerMessage('statOk', id, await layerRequests.stat(ctx, message.body.path, message.body.follow !== 0)));
      case 'openFile': {
        const { stat, contents } = await layerRequests.openFile(ctx, message.body.path);
        return reply(encodeOpenFileReply(id, stat, contents));
      }
      case 'readdir':
        return reply(encodeLayerMessage('readdirOk', id, await layerRequests.readdir(ctx, message.body.path)));
      case 'readlink':
        return reply(encodeLayerMessage('readlinkOk', id, await layerRequests.readlink(ctx, message.body.path)));
      case 'access':
        return reply(encodeLayerMessage('accessOk', id, { err: await layerRequests.access(ctx, message.body.path, message.body.mode) }));
      case 'getaddrinfo':
        return reply(encodeLayerMessage('getaddrinfoOk', id, await layerRequests.getaddrinfo(ctx, message.body.host, message.body.family)));
      case 'getnameinfo':
        return reply(encodeLayerMessage('getnameinfoOk', id, await layerRequests.getnameinfo(ctx, message.body.addr)));
      case 'connect': {
        const host = layerRequests.addressText(message.body.addr);
        if (host === undefined) return reply(encodeLayerMessage('error', id, { err: errno('EAFNOSUPPORT'), message: 'CONNECT address must be 4 or 16 bytes' }));
        const answer = message.body.proto === LayerProto.tcp
          ? await layerRequests.connectTcp(ctx, host, message.body.port)
          : await layerRequests.connectUdp(ctx, host, message.body.port, (relay) => {
            relays.add(relay);
            return () => relays.delete(relay);
          });
        return reply(encodeLayerMessage('connectOk', id, answer));
      }
      case 'incomingBind': {
        const host = layerRequests.addressText(message.body.addr);
        const answer = host === undefined || !ctx.incoming ? { listener: 0, listen_port: 0 } : ctx.incoming.bind(socket, host, message.body.port);
        return reply(encodeLayerMessage('incomingBindOk', id, answer));
      }
      case 'incomingListen': {
        const host = layerRequests.addressText(message.body.addr);
        const err = host === undefined || !ctx.incoming ? errno('EINVAL') : await ctx.incoming.listen(socket, message.body.listener, host, message.body.port);
        return reply(encodeLayerMessage('incomingListenOk', id, { err }));
      }
      case 'incomingHold':
        return ctx.incoming?.hold(socket, message.body.listener);
      case 'incomingClose':
        return ctx.incoming?.close(socket, message.body.listener);
      case 'incomingPeer': {
        const none = { found: 0, family: 0, addr: new Uint8Array(), port: 0 };
        return reply(encodeLayerMessage('incomingPeerOk', id, ctx.incoming ? await ctx.incoming.peer(message.body.family, message.body.port) : none));
      }
      case 'log': {
        if (message.body.level === LayerLogLevel.warn) ctx.warnOnce(message.body.message);
        else ctx.log(`layer: ${message.body.message}`);
        return;
      }
      default:
        if (id !== 0) reply(encodeLayerMessage('error', id, { err: errno('ENOSYS'), message: `the proxy does not serve ${message.name}` }));
    }
  }
}

/**
 * One pods/portforward WebSocket as a node Duplex carrying the bytes of one pod port, so the session
 * layer can run over it like over a TCP socket.
 *
 * Backpressure, both directions:
 * - cluster → us: when `push()` says our reader is full we `ws.pause()`, which stops reading the
 *   TCP socket, so the kernel window closes and the API server stops sending; `_read()` resumes.
 * - us → cluster: `_write` completes at once while `ws.bufferedAmount` is under the high-water mark,
 *   and otherwise only when ws reports this message handed to the socket. (`ws.createWebSocketStream`
 *   is not used: it has no port header handling, and it completes writes before they are sent.)
 * Keepalive: a WebSocket ping every `keepaliveMs`; no pong and no message by the next ping ends the
 * stream with `EKEEPALIVE`, so a dead path is noticed even when no data flows. The check is skipped
 * while reading is paused for backpressure, since a pong cannot be read then.
 */
import { Duplex } from 'node:stream';
import WebSocket from 'ws';
import { PortForwardError } from './portforward-error.ts';
import { PORT_HEADER_BYTES, PortForwardChannel } from './portforward-protocol.ts';

export interface PortForwardStreamOptions {
  /** The pod port (as in `?ports=`): the server's port headers must name it. */
  port: number;
  /** Interval between WebSocket pings, ms; 0 disables. Default 15000. */
  keepaliveMs?: number;
  /** Bytes buffered in each direction before backpressure applies. Default 256 KiB. */
  highWaterMark?: number;
}

/**
 * 256 KiB, the session writer's bound (TRANSPORT_BUFFER): the writer waits for 'drain', which a
 * Writable only emits once a write has gone over its high-water mark.
 */
const DEFAULT_HIGH_WATER_MARK = 256 * 1024;

/**
 * Reused message buffers. Every message needs the channel byte in front of the session's bytes, so
 * each is a copy; allocating a fresh 256 KiB buffer per message made garbage collection 17% of the
 * CLI's busy time in a -L upload (CPU profile of `npm run bench`'s -L case). A buffer goes back to
 * the pool once ws reports the socket has taken it.
 */
const POOLED_MESSAGE_BYTES = 256 * 1024 + 64;
const POOL_LIMIT = 16;
const messagePool: Buffer[] = [];
/**
 * Messages up to this size are allocated as they are, not taken from the pool: many small ones
 * (one per datagram of a -L /udp) are in flight at once, more than the pool holds, and each would
 * otherwise cost a fresh 256 KiB buffer (GC was 21% of the CLI's time in a UDP echo, CPU profile).
 */
const SMALL_MESSAGE_BYTES = 16 * 1024;

function takeMessageBuffer(length: number): Buffer {
  if (length > POOLED_MESSAGE_BYTES || length <= SMALL_MESSAGE_BYTES) return Buffer.allocUnsafe(length);
  return (messagePool.pop() ?? Buffer.allocUnsafe(POOLED_MESSAGE_BYTES)).subarray(0, length);
}

function returnMessageBuffer(message: Buffer): void {
  if (message.buffer.byteLength === POOLED_MESSAGE_BYTES && message.byteOffset === 0 && messagePool.length < POOL_LIMIT) {
    messagePool.push(Buffer.from(message.buffer, 0, POOLED_MESSAGE_BYTES));
  }
}
const DEFAULT_KEEPALIVE_MS = 15_000;

export class PortForwardStream extends Duplex {
  readonly #ws: WebSocket;
  readonly #port: number;
  readonly #sendHighWater: number;
  /** Header bytes still expected on [data, error] channels; they may arrive split or with data. */
  readonly #headerLeft = [PORT_HEADER_BYTES, PORT_HEADER_BYTES];
  readonly #headerBytes = [Buffer.alloc(PORT_HEADER_BYTES), Buffer.alloc(PORT_HEADER_BYTES)];
  #keepaliveTimer: NodeJS.Timeout | undefined;
  #aliveSinceLastPing = true;

  /** Wraps an OPEN WebSocket that negotiated the binary channel protocol. */
  constructor(ws: WebSocket, options: PortForwardStreamOptions) {
    const highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    super({ readableHighWaterMark: highWaterMark, writableHighWaterMark: highWaterMark, allowHalfOpen: false });
    this.#ws = ws;
    this.#port = options.port;
    this.#sendHighWater = highWaterMark;
    ws.binaryType = 'nodebuffer';
    // Nothing is read until our reader asks (_read): an error that came with the upgrade response
    // must not be emitted before the caller has had a chance to listen for it.
    ws.pause();
    ws.on('message', (data: Buffer) => this.#onMessage(data));
    ws.on('pong', () => (this.#aliveSinceLastPing = true));
    ws.on('error', (err) => this.destroy(new PortForwardError('EWEBSOCKET', `portforward WebSocket failed: ${err.message}`, { cause: err })));
    ws.on('close', (code, reason) => this.#onClose(code, reason.toString()));
    const keepaliveMs = options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS;
    if (keepaliveMs > 0) {
      this.#keepaliveTimer = setInterval(() => this.#keepalive(keepaliveMs), keepaliveMs);
      this.#keepaliveTimer.unref();
    }
  }

  #onMessage(message: Buffer): void {
    this.#aliveSinceLastPing = true;
    if (message.length === 0) return;
    const channel = message[0];
    let payload = message.subarray(1);
    if (channel !== PortForwardChannel.data && channel !== PortForwardChannel.error) {
      this.destroy(new PortForwardError('EPROTO', `portforward sent channel ${channel}; only 0 (data) and 1 (error) exist for one port`));
      return;
    }
    payload = this.#consumeHeader(channel, payload);
    if (payload.length === 0 || this.destroyed) return;
    if (channel === PortForwardChannel.error) {
      // The kubelet writes the failure as text, then closes (websocket.go: portForward error path).
      this.destroy(new PortForwardError('EPORTFORWARD', payload.toString('utf8').trim()));
      return;
    }
    if (!this.push(payload)) this.#ws.pause();
  }

  /** Strips the uint16 LE port header at the start of a channel, checking it names our port. */
  #consumeHeader(channel: 0 | 1, payload: Buffer): Buffer {
    const left = this.#headerLeft[channel];
    if (left === 0) return payload;
    const take = Math.min(left, payload.length);
    payload.copy(this.#headerBytes[channel], PORT_HEADER_BYTES - left, 0, take);
    this.#headerLeft[channel] = left - take;
    if (this.#headerLeft[channel] === 0) {
      const port = this.#headerBytes[channel].readUInt16LE(0);
      if (port !== this.#port) {
        this.destroy(new PortForwardError('EPROTO', `portforward channel ${channel} announced port ${port}, expected ${this.#port}`));
      }
    }
    return payload.subarray(take);
  }

  #onClose(code: number, reason: string): void {
    this.#stopKeepalive();
    if (this.destroyed) return;
    // 1000 (normal) and 1005 (no status) are how the server ends a tunnel whose pod connection closed.
    if (code === 1000 || code === 1005) {
      this.push(null);
      this.end();
      return;
    }
    const why = reason ? `: ${reason}` : '';
    this.destroy(new PortForwardError('ECLOSED', `the portforward WebSocket closed with code ${code}${why}`));
  }

  #keepalive(keepaliveMs: number): void {
    // While paused (our reader is slow) we are not reading the socket, so a pong cannot arrive.
    if (this.#ws.isPaused) this.#aliveSinceLastPing = true;
    if (!this.#aliveSinceLastPing) {
      this.destroy(new PortForwardError('EKEEPALIVE', `no answer on the portforward WebSocket for ${2 * keepaliveMs} ms`));
      return;
    }
    this.#aliveSinceLastPing = false;
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.ping();
  }

  #stopKeepalive(): void {
    if (this.#keepaliveTimer) clearInterval(this.#keepaliveTimer);
    this.#keepaliveTimer = undefined;
  }

  override _read(): void {
    if (this.#ws.isPaused) this.#ws.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#send([chunk], chunk.length, callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    let total = 0;
    for (const { chunk } of chunks) total += chunk.length;
    this.#send(chunks.map((c) => c.chunk), total, callback);
  }

  /** Sends one data-channel message; completes the write at once unless ws is already holding a lot. */
  #send(chunks: Buffer[], length: number, callback: (error?: Error | null) => void): void {
    if (this.#ws.readyState !== WebSocket.OPEN) {
      callback(new PortForwardError('ECLOSED', 'the portforward WebSocket is closed'));
      return;
    }
    const message = takeMessageBuffer(1 + length);
    message[0] = PortForwardChannel.data;
    let offset = 1;
    for (const chunk of chunks) offset += chunk.copy(message, offset);
    const waitForSocket = this.#ws.bufferedAmount >= this.#sendHighWater;
    this.#ws.send(message, { binary: true }, (err) => {
      // The socket has taken the bytes (encrypted them, for TLS): the buffer can carry the next message.
      returnMessageBuffer(message);
      if (waitForSocket) callback(err);
      else if (err) this.destroy(err);
    });
    if (!waitForSocket) callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    // No half-close exists in this protocol: ending our side ends the tunnel.
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.close(1000);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#stopKeepalive();
    if (this.#ws.readyState === WebSocket.OPEN || this.#ws.readyState === WebSocket.CONNECTING) {
      if (error) this.#ws.terminate();
      else this.#ws.close(1000);
    }
    callback(error);
  }
}

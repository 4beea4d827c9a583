/**
 * pods/portforward over SPDY/3.1, the protocol kubectl port-forward falls back to when the server
 * refuses its WebSocket tunnel (client-go tools/portforward, kubelet
 * pkg/kubelet/cri/streaming/portforward/httpstream.go). Per forwarded connection the client opens
 * an error stream and a data stream (headers `streamtype`, `port`, `requestid`); once both exist
 * the pod port is dialled and bytes are relayed on the data stream; a dial or relay error is written
 * on the error stream; both streams are then finished (FIN).
 */
import type { Duplex } from 'node:stream';
import type { PodDialer } from './portforward.ts';
import { controlFrame, dataFrame, FLAG_FIN, FRAME, FrameReader, HeaderCodec, MAX_FRAME_DATA, RST, rstStreamFrame, type Frame } from './spdy-framer.ts';

/** The X-Stream-Protocol-Version kubectl asks for. */
export const SPDY_PORT_FORWARD_PROTOCOL = 'portforward.k8s.io';
/** Pause reading the pod when this much waits to go out on the connection. */
const HIGH_WATER = 4 * 1024 * 1024;

interface StreamState {
  id: number;
  type: string;
  port: number;
  requestId: string;
  pod?: Duplex;
  /** Client data that arrived before the pod connection was up. */
  early: Buffer[];
  clientFinished: boolean;
}

/** One SPDY connection carrying any number of forwarded connections. */
export class SpdyPortForward {
  private readonly conn: Duplex;
  private readonly dial: PodDialer;
  private readonly reader = new FrameReader();
  private readonly codec = new HeaderCodec();
  private readonly streams = new Map<number, StreamState>();
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(conn: Duplex, dial: PodDialer) {
    this.conn = conn;
    this.dial = dial;
  }

  /** Starts reading frames; `head` are bytes that arrived with the upgrade request. */
  start(head: Buffer): void {
    const onData = (chunk: Buffer): void => {
      for (const frame of this.reader.push(chunk)) this.queue = this.queue.then(() => this.handle(frame)).catch(() => this.close());
    };
    if (head.length) onData(head);
    this.conn.on('data', onData);
    this.conn.on('close', () => this.close());
    this.conn.on('error', () => this.close());
  }

  private write(bytes: Buffer): boolean {
    if (this.closed) return false;
    return this.conn.write(bytes);
  }

  private async handle(frame: Frame): Promise<void> {
    if (!frame.control) return this.onData(frame.streamId, frame.flags, frame.data);
    const p = frame.payload;
    switch (frame.type) {
      case FRAME.SYN_STREAM: return this.onSynStream(p.readUInt32BE(0) & 0x7fffffff, frame.flags, p.subarray(10));
      case FRAME.RST_STREAM: return this.onReset(p.readUInt32BE(0) & 0x7fffffff);
      case FRAME.PING: {
        this.write(controlFrame(FRAME.PING, 0, p));
        return;
      }
      case FRAME.GOAWAY: return this.close();
      default: return undefined;
    }
  }

  private async onSynStream(id: number, flags: number, block: Buffer): Promise<void> {
    const headers = await this.codec.decode(block);
    const type = headers.get('streamtype') ?? '';
    const port = Number(headers.get('port'));
    if ((type !== 'error' && type !== 'data') || !Number.isInteger(port) || port < 1 || port > 65535) {
      this.write(rstStreamFrame(id, RST.PROTOCOL_ERROR));
      return;
    }
    // Without a requestid, kubelets pair an error stream with the data stream two ids later.
    const requestId = headers.get('requestid') ?? String(type === 'error' ? id : id - 2);
    const stream: StreamState = { id, type, port, requestId, early: [], clientFinished: (flags & FLAG_FIN) !== 0 };
    this.streams.set(id, stream);
    const reply = Buffer.alloc(4);
    reply.writeUInt32BE(id);
    this.write(controlFrame(FRAME.SYN_REPLY, 0, Buffer.concat([reply, await this.codec.encode([])])));
    const pair = [...this.streams.values()].filter((s) => s.requestId === requestId);
    const errorStream = pair.find((s) => s.type === 'error');
    const data = pair.find((s) => s.type === 'data');
    if (errorStream && data) this.forward(errorStream, data);
  }

  private forward(errorStream: StreamState, data: StreamState): void {
    const finish = (message?: string): void => {
      if (message) this.write(dataFrame(errorStream.id, 0, Buffer.from(message)));
      this.write(dataFrame(errorStream.id, FLAG_FIN, Buffer.alloc(0)));
      this.write(dataFrame(data.id, FLAG_FIN, Buffer.alloc(0)));
      this.streams.delete(errorStream.id);
      this.streams.delete(data.id);
    };
    this.dial(data.port).then((pod) => {
      if (this.closed || !this.streams.has(data.id)) {
        pod.destroy();
        return;
      }
      data.pod = pod;
      for (const chunk of data.early) pod.write(chunk);
      if (data.clientFinished) pod.end();
      pod.on('data', (chunk: Buffer) => {
        for (let off = 0; off < chunk.length; off += MAX_FRAME_DATA) this.write(dataFrame(data.id, 0, chunk.subarray(off, off + MAX_FRAME_DATA)));
        if (this.conn.writableLength > HIGH_WATER) {
          pod.pause();
          this.conn.once('drain', () => pod.resume());
        }
      });
      pod.on('drain', () => this.conn.resume());
      pod.on('error', (err) => finish(`error forwarding port ${data.port}: ${err.message}`));
      pod.on('close', () => {
        if (this.streams.has(data.id)) finish();
      });
    }, (err: Error) => finish(err.message));
  }

  private onData(id: number, flags: number, bytes: Buffer): void {
    const stream = this.streams.get(id);
    if (!stream || stream.type !== 'data') return;
    if (bytes.length) {
      if (!stream.pod) stream.early.push(Buffer.from(bytes));
      else if (!stream.pod.write(bytes)) this.conn.pause();
    }
    if (flags & FLAG_FIN) {
      stream.clientFinished = true;
      stream.pod?.end();
    }
  }

  private onReset(id: number): void {
    const stream = this.streams.get(id);
    if (!stream) return;
    this.streams.delete(id);
    stream.pod?.destroy();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.streams.values()) s.pod?.destroy();
    this.streams.clear();
    this.codec.close();
    this.conn.destroy();
  }
}

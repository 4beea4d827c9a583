/**
 * pods/portforward over WebSocket, spoken as a kubelet does (pkg/kubelet/cri/streaming/portforward/
 * websocket.go): subprotocols v4.channel.k8s.io and v4.base64.channel.k8s.io; port i in `ports=`
 * uses data channel 2i and error channel 2i+1; right after the upgrade the server sends on each
 * channel a message holding the port as uint16 little-endian; the pod connection is dialled at
 * once; errors are text on the error channel; when every port's connection has ended the WebSocket
 * closes. Backpressure is respected both ways.
 */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { badRequest } from './status.ts';

/** WebSocket subprotocols served for pods/portforward (there is no v5 for port-forward). */
export const PORT_FORWARD_PROTOCOLS = ['v4.channel.k8s.io', 'v4.base64.channel.k8s.io'];
/** Pause reading the pod when this much is queued for the WebSocket. */
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;

/** Parses `ports=P&ports=Q` (also `ports=P,Q`); throws ApiError 400 for missing or bad values. */
export function parsePorts(query: URLSearchParams): number[] {
  const raw = query.getAll('ports').flatMap((p) => p.split(','));
  if (raw.length === 0) throw badRequest('query parameter "ports" is required');
  return raw.map((p) => {
    const port = Number(p.trim());
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw badRequest(`invalid port value "${p}": must be an integer between 1 and 65535`);
    return port;
  });
}

/** The dialler: `node.dialPod` bound to the pod. */
export type PodDialer = (port: number) => Promise<Duplex>;

/** One port-forward session on an upgraded WebSocket: one pod connection per requested port. */
class PortForwardSession {
  private readonly ws: WebSocket;
  private readonly ports: number[];
  private readonly base64: boolean;
  private readonly sockets = new Map<number, Duplex>();
  /** What the client sent for a port before its pod connection was up. */
  private readonly early = new Map<number, Buffer[]>();
  private open: number;

  constructor(ws: WebSocket, ports: number[]) {
    this.ws = ws;
    this.ports = ports;
    this.base64 = ws.protocol === 'v4.base64.channel.k8s.io';
    this.open = ports.length;
  }

  /** Sends the port headers, dials every port and starts relaying. */
  start(dial: PodDialer): void {
    this.ports.forEach((port, i) => {
      const header = Buffer.alloc(2);
      header.writeUInt16LE(port);
      this.sendFrame(2 * i, header);
      this.sendFrame(2 * i + 1, header);
    });
    this.ports.forEach((port, i) => {
      dial(port).then((socket) => this.attach(i, port, socket), (err: Error) => {
        this.sendFrame(2 * i + 1, Buffer.from(err.message));
        this.portEnded();
      });
    });
    this.ws.on('message', (data: Buffer, isBinary: boolean) => this.fromClient(isBinary ? data : decodeBase64Frame(data.toString())));
    this.ws.on('close', () => {
      for (const socket of this.sockets.values()) socket.destroy();
      this.sockets.clear();
    });
    this.ws.on('error', () => this.ws.terminate());
  }

  private sendFrame(channel: number, data: Buffer, done?: () => void): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (this.base64) this.ws.send(String.fromCharCode(48 + channel) + data.toString('base64'), done);
    else this.ws.send(Buffer.concat([Buffer.from([channel]), data]), done);
  }

  /** When every port's pod connection has ended, the WebSocket closes (there is no half-close in v4). */
  private portEnded(): void {
    this.open -= 1;
    if (this.open === 0 && this.ws.readyState === this.ws.OPEN) this.ws.close(1000);
  }

  private attach(i: number, port: number, socket: Duplex): void {
    if (this.ws.readyState !== this.ws.OPEN) {
      socket.destroy();
      return;
    }
    this.sockets.set(i, socket);
    for (const chunk of this.early.get(i) ?? []) socket.write(chunk);
    this.early.delete(i);
    socket.on('data', (chunk: Buffer) => {
      if (this.ws.bufferedAmount > HIGH_WATER) socket.pause();
      this.sendFrame(2 * i, chunk, () => {
        if (socket.isPaused() && this.ws.bufferedAmount < LOW_WATER) socket.resume();
      });
    });
    socket.on('drain', () => this.ws.resume());
    socket.on('error', (err) => this.sendFrame(2 * i + 1, Buffer.from(`error forwarding port ${port}: ${err.message}`)));
    socket.on('close', () => {
      this.sockets.delete(i);
      this.portEnded();
    });
  }

  /** Client frames: data channels go to their pod connection; error channels and unknown ones are ignored. */
  private fromClient(frame: Buffer | undefined): void {
    if (!frame || frame.length < 2 || frame[0] % 2 !== 0) return;
    const index = frame[0] / 2;
    if (index >= this.ports.length) return;
    const socket = this.sockets.get(index);
    if (!socket) {
      this.early.set(index, [...(this.early.get(index) ?? []), Buffer.from(frame.subarray(1))]);
      return;
    }
    if (!socket.write(frame.subarray(1))) this.ws.pause();
  }
}

/** Runs one port-forward session on an upgraded WebSocket. */
export function servePortForward(ws: WebSocket, ports: number[], dial: PodDialer): void {
  new PortForwardSession(ws, ports).start(dial);
}

function decodeBase64Frame(text: string): Buffer | undefined {
  if (text.length === 0) return undefined;
  const channel = text.charCodeAt(0) - 48;
  if (channel < 0 || channel > 9) return undefined;
  return Buffer.concat([Buffer.from([channel]), Buffer.from(text.slice(1), 'base64')]);
}

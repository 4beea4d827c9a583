/**
 * One UDP relay per (program socket, destination): a UDP socket on 127.0.0.1 that the layer points
 * the program's socket at, joined to one datagram stream through the agent. The relay learns the
 * program's address from the first datagram and sends the pod's answers back there; the layer maps
 * the relay's address back to the real destination in recvfrom/getpeername.
 */
import dgram from 'node:dgram';
import type { DatagramStream } from '../session/datagram-stream.ts';

export class UdpRelay {
  readonly #socket: dgram.Socket;
  readonly #stream: DatagramStream;
  #program: { address: string; port: number } | undefined;
  #closed = false;
  readonly #onClose: () => void;

  private constructor(socket: dgram.Socket, stream: DatagramStream, onClose: () => void) {
    this.#socket = socket;
    this.#stream = stream;
    this.#onClose = onClose;
    socket.on('message', (datagram, from) => {
      // Only the first sender is the program's socket; anything else on loopback is ignored.
      if (this.#program === undefined) this.#program = { address: from.address, port: from.port };
      else if (this.#program.address !== from.address || this.#program.port !== from.port) return;
      stream.send(datagram);
    });
    socket.on('error', () => this.close());
    stream.on('message', (datagram: Buffer) => {
      if (this.#program && !this.#closed) socket.send(datagram, this.#program.port, this.#program.address);
    });
    stream.on('close', () => this.close());
    stream.on('error', () => this.close());
  }

  /** Binds a relay for `stream`; `onClose` runs once when either side ends. */
  static async bind(stream: DatagramStream, onClose: () => void): Promise<UdpRelay> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => resolve());
    });
    return new UdpRelay(socket, stream, onClose);
  }

  get port(): number {
    return this.#socket.address().port;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.close();
    this.#stream.close();
    this.#onClose();
  }
}

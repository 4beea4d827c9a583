/**
 * A Duplex over a socket that first replays bytes already read from it. node:http2 reads a
 * net.Socket through its native handle and ignores bytes buffered or unshifted in JavaScript, so
 * a connection whose preface the sniffer consumed is handed to it wrapped in this, which http2
 * treats as a generic stream.
 */
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

export function replaySocket(socket: Socket, head: Buffer): Duplex {
  const duplex = new Duplex({
    allowHalfOpen: true,
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk, callback);
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(err, callback) {
      if (!socket.destroyed) socket.destroy(err ?? undefined);
      callback(err);
    },
  });
  if (head.length > 0) duplex.push(head);
  socket.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('error', (err) => duplex.destroy(err));
  socket.on('close', () => { if (!duplex.destroyed) duplex.destroy(); });
  return duplex;
}

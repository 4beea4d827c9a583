/**
 * Joins a TCP socket and a stream, both directions, honouring TCP half-close: the socket's FIN
 * becomes the stream's `end()` (a FIN at the destination) and the stream's end becomes the socket's
 * FIN. `pipe` carries the backpressure: a slow side pauses the other, and a session stream's socket
 * is not read while the session's send budget is full. The stream is a session
 * stream (the CLI's -L, SOCKS and -R; the agent's outgoing and incoming) or another socket (the
 * agent handing a connection to the original app).
 *
 * A stream reset (the destination refused, reset, or the session dropped) resets the socket (RST)
 * so the program behind it sees a failure rather than a clean EOF; a socket error resets the stream.
 */
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { MuxStream } from './stream.ts';

export interface SpliceResult {
  /** Bytes user → destination and destination → user. */
  sent: number;
  received: number;
  /** Why it ended, if it failed. */
  error: Error | undefined;
}

/**
 * Splices until both directions are done or either side fails. The socket must have been accepted
 * with `allowHalfOpen: true`, or its FIN would close our sending side too.
 */
export function splice(socket: Socket, stream: Duplex | Socket): Promise<SpliceResult> {
  return new Promise((resolve) => {
    const result: SpliceResult = { sent: 0, received: 0, error: undefined };
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      result.error = error;
      resolve(result);
    };
    stream.on('data', (chunk: Buffer) => (result.received += chunk.length));
    stream.on('error', (err) => {
      if (!socket.destroyed) socket.resetAndDestroy();
      finish(err);
    });
    socket.on('error', (err) => {
      if (stream instanceof Socket) {
        if (!stream.destroyed) stream.resetAndDestroy();
      } else stream.destroy();
      finish(err);
    });
    socket.on('close', () => {
      // The socket is fully closed. A stream we already ended keeps flushing what it holds to the
      // destination; one never ended has nobody to talk to and is reset.
      if (!stream.destroyed && !stream.writableEnded) stream.destroy();
      finish();
    });
    stream.on('close', () => {
      if (!socket.destroyed && !stream.readableEnded) socket.resetAndDestroy();
    });
    if (stream.destroyed) {
      // Reset before it was handed over (its 'close' has been and gone).
      if (!socket.destroyed) socket.resetAndDestroy();
      finish(stream.errored ?? undefined);
      return;
    }
    stream.pipe(socket);
    const readSocket = () => {
      if (settled || socket.destroyed) return;
      // A 'data' listener starts the socket flowing, so it comes with the pipe, not before.
      socket.on('data', (chunk: Buffer) => (result.sent += chunk.length));
      socket.pipe(stream);
    };
    // While the session holds all it may queue for sending, the socket is not read: what its
    // program sends waits in the kernel, and TCP holds the program back (send-budget.ts).
    const admission = stream instanceof MuxStream ? stream.sendAdmission() : undefined;
    if (admission) void admission.then(readSocket);
    else readSocket();
  });
}

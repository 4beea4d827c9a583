/**
 * Whole-connection steal: every redirected connection becomes one stream toward the CLI, which
 * pipes it to the user's app. Bytes flow both ways with half-close. If the CLI resets the stream
 * (the user's app is not listening, so the CLI answers with reason refused), the client's
 * connection is reset at once, so the client sees the refusal instead of a hang.
 */
import { openUserAppStream, type RedirectedConnection } from './redirected.ts';

export function stealConnection(conn: RedirectedConnection): void {
  const { socket } = conn;
  const stream = openUserAppStream(conn);
  if (!stream) {
    socket.resetAndDestroy();
    return;
  }
  stream.on('error', (err: Error & { code?: string }) => {
    conn.log.debug('stolen connection reset by the CLI', { port: conn.port, code: err.code, message: err.message });
    if (!socket.destroyed) socket.resetAndDestroy();
  });
  socket.on('error', (err) => {
    if (!stream.destroyed) stream.destroy(err);
  });
  socket.pipe(stream);
  stream.pipe(socket);
}

/**
 * Mirror: the original app keeps receiving and answering the connection (the agent relays it to
 * 127.0.0.1:<port>, "passthrough"), and a copy of the client's bytes goes to the CLI on a stream of
 * its own, whose answers the agent reads and discards.
 *
 * The copy never slows the passthrough: the agent never waits for the copy stream. When the copy
 * cannot take more bytes (more than COPY_LIMIT queued, because the user's app or the link is slow)
 * or the CLI reset it (no user app listening), the copy is dropped for the rest of that connection
 * and counted; MirrorStats tells the CLI.
 */
import { splice } from '../../src/session/splice.ts';
import { connectOriginalApp } from './original-app.ts';
import { openUserAppStream, type RedirectedConnection } from './redirected.ts';
import type { MirrorStats } from './mirror-notices.ts';
import type { MuxStream } from '../../src/session/stream.ts';

/** Bytes a copy stream may hold unsent before its copy is dropped. */
export const COPY_LIMIT = 256 * 1024;
/** How long a copy may stay open after the mirrored connection closed, ms. */
const COPY_LINGER_MS = 10_000;

export function mirrorConnection(conn: RedirectedConnection, stats: MirrorStats): void {
  const { socket } = conn;
  const app = connectOriginalApp(conn.port);
  void splice(socket, app);
  stats.countConnection();
  let copy: MuxStream | undefined = openUserAppStream(conn);
  const drop = (why: string) => {
    if (!copy) return;
    conn.log.debug('mirror copy dropped', { port: conn.port, why });
    const dead = copy;
    copy = undefined;
    if (!dead.destroyed) dead.destroy();
    stats.countDrop();
  };
  if (!copy) {
    stats.countDrop();
    return;
  }
  copy.on('error', (err: Error) => drop(`the CLI reset the copy: ${err.message}`));
  copy.resume(); // what the user's app answers goes nowhere
  socket.on('data', (chunk: Buffer) => {
    if (!copy) return;
    if (copy.queuedBytes + copy.writableLength + chunk.length > COPY_LIMIT) {
      drop(`the copy fell ${COPY_LIMIT} bytes behind`);
      return;
    }
    copy.write(chunk);
  });
  socket.once('end', () => copy?.end());
  socket.once('close', () => {
    const last = copy;
    if (!last) return;
    last.end();
    setTimeout(() => { if (!last.destroyed) last.destroy(); }, COPY_LINGER_MS).unref();
  });
}

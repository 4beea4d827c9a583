/**
 * The original app: the process in the pod that listens on the subscribed port. The agent reaches
 * it at 127.0.0.1:<port>, which takes the OUTPUT path and so is never redirected back to the agent
 * (see iptables.ts). An app that listens only on the pod IP and not on loopback is not reached.
 */
import { connect, type Socket } from 'node:net';
import { splice } from '../../src/session/splice.ts';

/** Opens a connection to the original app on `port`. */
export function connectOriginalApp(port: number): Socket {
  return connect({ host: '127.0.0.1', port, allowHalfOpen: true, noDelay: true });
}

/**
 * Hands the whole client connection to the original app: bytes both ways, half-close both ways, a
 * reset on either side resets the other. `head` holds bytes already read from the client.
 */
export function passThrough(client: Socket, port: number, head?: Buffer): Socket {
  const app = connectOriginalApp(port);
  if (head && head.length > 0) app.write(head);
  void splice(client, app);
  return app;
}

/**
 * Runs inside a pod's network namespace (started by pod-dialer.ts through `nsenter --net`), one per
 * pod. For each request `{ id, port }` on the IPC channel it connects to the pod's loopback and sends
 * the connected socket itself back to the daemon (SCM_RIGHTS, through Node's handle passing). The
 * daemon then owns a TCP socket inside the pod: no process copies bytes, so port-forward runs at
 * loopback speed with the kernel's own backpressure.
 *
 * Like containerd's portforward it tries IPv4 127.0.0.1 first, then IPv6 ::1.
 */
import net from 'node:net';

interface DialRequest { id: number; port: number }
/** The reply; on success the socket travels as the message's handle. */
export interface DialReply { id: number; ok: boolean; ipv4Error?: string; ipv6Error?: string }

function connect(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    // noDelay: containerd dials this connection with Go's net package, whose TCP connections have
    // Nagle's algorithm off unless a program turns it on (TCPConn.SetNoDelay: "the default is true
    // (no delay)"). With Nagle on here, a small write queued behind an unacknowledged one waits for
    // the pod's delayed ACK (about 40 ms on Linux): back-to-back small requests stall. The option
    // belongs to the socket, so it travels with the descriptor handed to the daemon.
    const socket = new net.Socket({ noDelay: true });
    // Paused before connecting, so nothing the pod's server sends first is read here and lost.
    socket.pause();
    socket.once('error', reject);
    socket.connect({ host, port }, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

async function dial(req: DialRequest): Promise<void> {
  let ipv4Error = '';
  for (const host of ['127.0.0.1', '::1']) {
    try {
      const socket = await connect(host, req.port);
      process.send!({ id: req.id, ok: true } satisfies DialReply, socket);
      return;
    } catch (err) {
      if (host === '127.0.0.1') ipv4Error = (err as NodeJS.ErrnoException).code ?? String(err);
      else process.send!({ id: req.id, ok: false, ipv4Error, ipv6Error: (err as NodeJS.ErrnoException).code ?? String(err) } satisfies DialReply);
    }
  }
}

if (!process.send) {
  process.stderr.write('pod-relay: must be started by the sandbox node with an IPC channel\n');
  process.exit(2);
}
process.on('message', (msg: DialRequest) => void dial(msg));
// The daemon is gone: nothing can use this relay any more.
process.on('disconnect', () => process.exit(0));
process.send({ ready: true });

/**
 * The daemon's side of pod-relay.ts: one relay process per pod, started in the pod's network
 * namespace, handing back connected sockets for `dialPod`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type net from 'node:net';
import type { DialReply } from './pod-relay.ts';

const RELAY = fileURLToPath(new URL('./pod-relay.ts', import.meta.url));

/** Go's text for the errno codes a dial can hit, as containerd prints them. */
const GO_ERRNO_TEXT: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  EHOSTUNREACH: 'no route to host',
  ENETUNREACH: 'network is unreachable',
  ETIMEDOUT: 'connection timed out',
  EADDRNOTAVAIL: 'cannot assign requested address',
};

/** The 64-hex id containerd would give the pod's sandbox; stable per pod uid. */
export function sandboxId(podUid: string): string {
  return createHash('sha256').update(`sandbox:${podUid}`).digest('hex');
}

/** Dials ports on one pod's loopback. */
export class PodDialer {
  #child: ChildProcess;
  #ready: Promise<void>;
  #pending = new Map<number, { port: number; resolve: (s: net.Socket) => void; reject: (e: Error) => void }>();
  #nextId = 1;
  readonly #podUid: string;
  readonly #netnsPath: string;

  /** Starts the relay in `netnsPath`; `dial` waits for it to be ready. */
  constructor(podUid: string, netnsPath: string) {
    this.#podUid = podUid;
    this.#netnsPath = netnsPath;
    this.#child = spawn('nsenter', [`--net=${netnsPath}`, process.execPath, RELAY], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      serialization: 'json',
    });
    this.#ready = new Promise((resolve, reject) => {
      this.#child.once('message', () => resolve());
      this.#child.once('exit', (code) => reject(new Error(`pod relay for ${netnsPath} exited with code ${code}`)));
      this.#child.once('error', reject);
    });
    this.#ready.catch(() => undefined);
    this.#child.on('message', (msg: DialReply, handle?: net.Socket) => this.#onReply(msg, handle));
    this.#child.on('exit', () => this.#failAll());
  }

  /** A connected socket to 127.0.0.1:`port` (or [::1]) in the pod; rejects with the kubelet's text. */
  async dial(port: number): Promise<net.Socket> {
    await this.#ready;
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { port, resolve, reject });
      this.#child.send({ id, port });
    });
  }

  /** Stops the relay process. */
  close(): void {
    this.#child.kill('SIGKILL');
  }

  #onReply(msg: DialReply, handle?: net.Socket): void {
    if (!('id' in msg)) return;
    const waiter = this.#pending.get(msg.id);
    if (!waiter) return;
    this.#pending.delete(msg.id);
    // The socket arrives in paused mode with Node already reading into its buffer: nothing the
    // pod sends first is lost before the caller attaches its listeners.
    if (msg.ok && handle) return waiter.resolve(handle);
    waiter.reject(new Error(this.#errorText(waiter.port, msg)));
  }

  #errorText(port: number, msg: DialReply): string {
    const id = sandboxId(this.#podUid);
    const v4 = GO_ERRNO_TEXT[msg.ipv4Error ?? ''] ?? msg.ipv4Error;
    const v6 = GO_ERRNO_TEXT[msg.ipv6Error ?? ''] ?? msg.ipv6Error;
    // containerd's text (internal/cri/server/sandbox_portforward_linux.go), "uid :" included.
    return `error forwarding port ${port} to pod ${id}, uid : failed to execute portforward in network namespace ` +
      `"${this.#netnsPath}": failed to connect to localhost:${port} inside namespace "${id}", ` +
      `IPv4: dial tcp4 127.0.0.1:${port}: connect: ${v4} IPv6 dial tcp6 [::1]:${port}: connect: ${v6}`;
  }

  #failAll(): void {
    for (const [id, w] of this.#pending) {
      this.#pending.delete(id);
      w.reject(new Error(`error forwarding port ${w.port} to pod ${sandboxId(this.#podUid)}, uid : pod sandbox is gone`));
    }
  }
}

/**
 * exec's incoming traffic, proxy side: the program's listening sockets (as the layer reports them
 * over INCOMING_BIND/LISTEN/HOLD/CLOSE) become subscriptions of ReverseForwards, the same machinery
 * `-R` uses, added and removed as the program listens and closes.
 *
 * Holders: a listener is held by each layer connection (one per process) that listens on it or
 * inherited it (INCOMING_HOLD after a fork). Its pod port is unsubscribed when the last holder
 * closes it or disconnects; a process killed with SIGKILL disconnects when the kernel closes its
 * link, so its redirects go as soon as the proxy reads that end of file.
 *
 * Client addresses: each connection delivered to the program is recorded by the port of the
 * proxy's own end (DeliveryTracker), so INCOMING_PEER can name the pod's client for a peer the
 * layer sees on loopback. A lookup that arrives before the proxy's connect completed waits for it.
 */
import net from 'node:net';
import type { DeliveryTracker, ReverseForwards } from '../forward/reverse-forward.ts';
import type { ReversePlan } from '../forward/reverse-spec.ts';
import { LayerFamily } from '../protocol/layer-messages.ts';
import type { IncomingPlan } from './exec-plan.ts';
import { decideBind, unfilteredWarning } from './incoming-rules.ts';
import { addressBytes, addressText } from './ip-bytes.ts';
import { errno } from './errno.ts';

/** How long a peer lookup waits for a delivery still connecting. */
const PEER_WAIT_MS = 2_000;
/** A delivered connection stays known this long after it closed (the program may accept late). */
const PEER_KEEP_MS = 10_000;

interface Listener {
  id: number;
  appPort: number;
  remotePort: number;
  /** The connection that bound it: until it listens, a close or disconnect of this one drops it. */
  creator: object;
  holders: Set<object>;
  /** Where the program really listens, once it does. */
  address: { host: string; port: number } | undefined;
}

export interface IncomingOptions {
  plan: IncomingPlan;
  /** undefined without a target (or when the cluster refused incoming): every listen stays local. */
  forwards: ReverseForwards | undefined;
  /** Why listens stay local without forwards; by default, that no target was given. */
  localReason?: string;
  log: (line: string) => void;
  warnOnce: (line: string) => void;
}

export interface PeerAnswer {
  found: number;
  family: number;
  addr: Uint8Array;
  port: number;
}

export class IncomingListeners implements DeliveryTracker {
  readonly #options: IncomingOptions;
  readonly #listeners = new Map<number, Listener>();
  /** Listening listeners by pod port: the port is subscribed while this set is not empty. */
  readonly #byRemote = new Map<number, Set<Listener>>();
  readonly #peers = new Map<string, { host: string; port: number }>();
  #connecting = 0;
  #changed: (() => void)[] = [];
  #nextId = 1;

  constructor(options: IncomingOptions) {
    this.#options = options;
  }

  /** Pod ports subscribed now (for the log and the tests). */
  get subscribedPorts(): number[] {
    return [...this.#byRemote.keys()];
  }

  /** Delivered connections whose client is still known. */
  get knownPeers(): number {
    return this.#peers.size;
  }

  /** INCOMING_BIND. */
  bind(conn: object, host: string, port: number): { listener: number; listen_port: number } {
    const decision = decideBind(this.#options.plan, host, port);
    if (!decision.take) {
      this.#options.log(`incoming: port ${port} stays on this machine: ${decision.why}`);
      return { listener: 0, listen_port: 0 };
    }
    if (!this.#options.forwards) {
      this.#options.warnOnce(`the program listens on port ${port}, which stays on this machine: ${this.#options.localReason ?? 'incoming traffic needs a target (--target)'}`);
      return { listener: 0, listen_port: 0 };
    }
    const listener: Listener = { id: this.#nextId++, appPort: port, remotePort: decision.remotePort, creator: conn, holders: new Set(), address: undefined };
    this.#listeners.set(listener.id, listener);
    return { listener: listener.id, listen_port: decision.listenPort };
  }

  /** INCOMING_LISTEN: subscribes the pod port (if no other listener has) before answering. */
  async listen(conn: object, id: number, host: string, port: number): Promise<number> {
    const listener = this.#listeners.get(id);
    if (!listener) return errno('EINVAL');
    listener.holders.add(conn);
    if (listener.address) return 0;
    // An unspecified address is reached on loopback, in its own family (`::` answers on ::1 even v6-only).
    listener.address = { host: host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host, port };
    const others = this.#byRemote.get(listener.remotePort);
    if (others) {
      others.add(listener);
      return 0;
    }
    this.#byRemote.set(listener.remotePort, new Set([listener]));
    const plan = this.#options.plan;
    const warning = unfilteredWarning(plan, listener.remotePort);
    if (warning) this.#options.warnOnce(warning);
    const reverse: ReversePlan = {
      remotePort: listener.remotePort,
      localPort: port,
      userAppHost: listener.address.host,
      mode: plan.mode === 'steal' ? 'steal' : 'mirror',
      filter: plan.mode === 'steal' ? plan.httpFilter : undefined,
    };
    const mapped = listener.remotePort === listener.appPort ? '' : ` (the pod's port ${listener.remotePort})`;
    try {
      await this.#options.forwards!.add(reverse);
      this.#options.log(`incoming: port ${listener.appPort}${mapped} ${reverse.mode === 'steal' ? 'stolen' : 'mirrored'} to ${net.isIPv6(reverse.userAppHost!) ? `[${reverse.userAppHost}]` : reverse.userAppHost}:${port}`);
      return 0;
    } catch (err) {
      this.#byRemote.get(listener.remotePort)?.delete(listener);
      if (this.#byRemote.get(listener.remotePort)?.size === 0) this.#byRemote.delete(listener.remotePort);
      this.#options.warnOnce(`${(err as Error).message}; the program's port ${listener.appPort} gets no traffic from the pod`);
      return errno('EADDRNOTAVAIL');
    }
  }

  /** INCOMING_HOLD: a fork child holds what its parent held. */
  hold(conn: object, id: number): void {
    this.#listeners.get(id)?.holders.add(conn);
  }

  /** INCOMING_CLOSE: `conn` has no fd of the listener left. */
  close(conn: object, id: number): void {
    const listener = this.#listeners.get(id);
    if (!listener) return;
    listener.holders.delete(conn);
    this.#release(listener, conn);
  }

  /** A layer connection ended (its process exited or was killed): everything it held goes. */
  disconnected(conn: object): void {
    for (const listener of [...this.#listeners.values()]) {
      if (!listener.holders.delete(conn) && listener.creator !== conn) continue;
      this.#release(listener, conn);
    }
  }

  #release(listener: Listener, conn: object): void {
    if (listener.holders.size > 0) return;
    if (!listener.address && listener.creator !== conn) return;
    this.#listeners.delete(listener.id);
    const set = this.#byRemote.get(listener.remotePort);
    if (!set?.delete(listener) || set.size > 0) return;
    this.#byRemote.delete(listener.remotePort);
    this.#options.log(`incoming: port ${listener.appPort} closed by the program; unsubscribing the pod's port ${listener.remotePort}`);
    void this.#options.forwards?.remove(listener.remotePort);
  }

  connecting(source: { host: string; port: number } | undefined): { connected(socket: net.Socket): void; done(): void } {
    this.#connecting++;
    let key: string | undefined;
    let pending = true;
    const settle = () => {
      if (pending) this.#connecting--;
      pending = false;
      this.#notify();
    };
    return {
      connected: (socket) => {
        if (source && socket.localPort !== undefined) {
          key = `${net.isIPv6(socket.localAddress ?? '') ? 6 : 4}:${socket.localPort}`;
          this.#peers.set(key, source);
        }
        settle();
      },
      done: () => {
        settle();
        if (key === undefined) return;
        const k = key;
        const entry = this.#peers.get(k);
        setTimeout(() => {
          if (this.#peers.get(k) === entry) this.#peers.delete(k);
        }, PEER_KEEP_MS).unref();
      },
    };
  }

  #notify(): void {
    const waiting = this.#changed;
    this.#changed = [];
    for (const wake of waiting) wake();
  }

  /** INCOMING_PEER: the pod's client of a connection the proxy delivered from loopback `port`. */
  async peer(family: number, port: number): Promise<PeerAnswer> {
    const key = `${family === LayerFamily.ipv6 ? 6 : 4}:${port}`;
    const deadline = Date.now() + PEER_WAIT_MS;
    while (!this.#peers.has(key) && this.#connecting > 0 && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.#changed.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const client = this.#peers.get(key);
    if (!client || net.isIP(client.host) === 0) return { found: 0, family: 0, addr: new Uint8Array(), port: 0 };
    // A dual-stack agent socket reports IPv4 clients v4-mapped (::ffff:a.b.c.d): they are IPv4 clients.
    const host = addressText(addressBytes(client.host)) ?? client.host;
    return { found: 1, family: net.isIPv6(host) ? LayerFamily.ipv6 : LayerFamily.ipv4, addr: addressBytes(host), port: client.port };
  }
}

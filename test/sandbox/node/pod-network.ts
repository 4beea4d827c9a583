/**
 * A pod's network: its own network namespace (`kmsb-<pod uid>`), loopback up, a veth whose pod end
 * is `eth0` with the pod's IPv4 (10.244.0.0/16) and IPv6 (fd00:10:244::/64), the host end on the
 * bridge, and a default route through the bridge's gateway: what a bridge CNI plugin sets up.
 */
import { sh } from './sh.ts';
import { BRIDGE, GATEWAY_IP, GATEWAY_IP6, NETNS_PREFIX, POD_PREFIX_LEN, VETH_PREFIX } from './network-constants.ts';

/** A pod's addresses and the names of what was created for it. */
export interface PodNetwork {
  netns: string;
  /** `/run/netns/<netns>`: what `nsenter --net=` and error messages use. */
  netnsPath: string;
  vethHost: string;
  ip: string;
  ip6: string;
  /** hostNetwork: the node's own namespace, nothing created, nothing to delete. */
  hostNetwork?: boolean;
}

/** A hostNetwork pod's "network": the daemon's own namespace and the node's addresses. */
export function hostPodNetwork(): PodNetwork {
  return { netns: '', netnsPath: `/proc/${process.pid}/ns/net`, vethHost: '', ip: GATEWAY_IP, ip6: GATEWAY_IP6, hostNetwork: true };
}

/** Hands out pod IPs from 10.244.0.2 upwards, never reusing one still held. */
export class PodIpAllocator {
  #inUse = new Set<number>();
  #next = 2;

  /** Returns a free IPv4 in the pod range. Throws when all 65533 are taken. */
  allocate(): string {
    for (let tries = 0; tries < 65534; tries++) {
      const n = this.#next;
      this.#next = n >= 65534 ? 2 : n + 1;
      if (!this.#inUse.has(n)) {
        this.#inUse.add(n);
        return `10.244.${n >> 8}.${n & 255}`;
      }
    }
    throw new Error('pod IP range 10.244.0.0/16 is exhausted: delete pods to free addresses');
  }

  release(ip: string): void {
    const [, , a, b] = ip.split('.').map(Number);
    this.#inUse.delete((a << 8) | b);
  }
}

/** The pod's IPv6 address, derived from its IPv4 so the two never disagree: 10.244.1.5 → fd00:10:244::1:5. */
export function ipv6For(ip: string): string {
  const [, , a, b] = ip.split('.').map(Number);
  // RFC 5952 form: no leading zero group after the `::`.
  return a === 0 ? `fd00:10:244::${b.toString(16)}` : `fd00:10:244::${a.toString(16)}:${b.toString(16)}`;
}

/** Creates the namespace and its interfaces. On failure removes what it created, then throws. */
export async function createPodNetwork(podUid: string, ip: string): Promise<PodNetwork> {
  const netns = `${NETNS_PREFIX}${podUid}`;
  const vethHost = `${VETH_PREFIX}${podUid.replace(/-/g, '').slice(0, 10)}`;
  const net: PodNetwork = { netns, netnsPath: `/run/netns/${netns}`, vethHost, ip, ip6: ipv6For(ip) };
  try {
    // `ip -batch` runs many changes in one process: a pod's network costs two spawns, not eight.
    await sh('ip', ['-batch', '-'], {
      input: [`netns add ${netns}`, `link add ${vethHost} type veth peer name eth0 netns ${netns}`, `link set ${vethHost} master ${BRIDGE} up`,
        // Hairpin: a pod reaching itself through its Service is DNAT'd in the bridge's PREROUTING
        // (br_netfilter) and must leave by the port it came in on (kubelet's "hairpin-veth" mode).
        `link set ${vethHost} type bridge_slave hairpin on`, ''].join('\n'),
    });
    await sh('ip', ['-n', netns, '-batch', '-'], {
      input: [
        'link set lo up',
        `addr add ${ip}/${POD_PREFIX_LEN} dev eth0`,
        `addr add ${net.ip6}/64 dev eth0 nodad`,
        'link set eth0 up',
        `route add default via ${GATEWAY_IP}`,
        '',
      ].join('\n'),
    });
  } catch (err) {
    await deletePodNetwork(net);
    throw err;
  }
  return net;
}

/** Removes the namespace (which takes the veth pair with it). Idempotent. */
export async function deletePodNetwork(net: Pick<PodNetwork, 'netns' | 'vethHost' | 'hostNetwork'>): Promise<void> {
  if (net.hostNetwork) return;
  await sh('ip', ['link', 'del', net.vethHost], { allowFail: true });
  await sh('ip', ['netns', 'del', net.netns], { allowFail: true });
}

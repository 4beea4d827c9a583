/**
 * Every address, name and number the sandbox node puts on the host, in one place, so cleanup can
 * find all of it after a crash. Everything on the host starts with `kmsb` / `KMSB-`.
 */
export const NODE_NAME = 'sandbox';
/** Prefix of every network namespace, link and iptables chain the node creates. */
export const NETNS_PREFIX = 'kmsb-';
export const CHAIN_PREFIX = 'KMSB-';
export const BRIDGE = 'kmsb0';
/** Host side of a pod's veth: `kmsbv` + 8 hex digits (interface names are at most 15 bytes). */
export const VETH_PREFIX = 'kmsbv';

export const POD_CIDR = '10.244.0.0/16';
export const POD_PREFIX_LEN = 16;
/** The bridge's address: the pods' default gateway, the node's IP as pods see it. */
export const GATEWAY_IP = '10.244.0.1';
export const POD_CIDR6 = 'fd00:10:244::/64';
export const GATEWAY_IP6 = 'fd00:10:244::1';
/** ClusterIPs are allocated here by the API server; they are only ever DNAT'd, never routed. */
export const SERVICE_CIDR = '10.96.0.0/16';
/** kube-dns's conventional ClusterIP: the node owns it as a local address on the bridge. */
export const DNS_IP = '10.96.0.10';
export const CLUSTER_DOMAIN = 'cluster.local';

/**
 * Policy routing table for everything that arrives from the bridge: only the pod range is routable
 * there, everything else is `unreachable`, so a pod can never reach the host's default gateway even
 * though ip_forward is on.
 */
export const POD_ROUTE_TABLE = 2440;
export const POD_RULE_PRIORITY = 2440;
/** Metric of the backstop `unreachable` routes that sit behind the bridge's connected routes. */
export const BACKSTOP_METRIC = 9999;

/** Where crash-surviving bookkeeping lives (tmpfs: gone after reboot, like everything it tracks). */
export const RUN_DIR = '/run/kmsb-node';

/** The mark kube-proxy uses for "masquerade this" (KUBE-MARK-MASQ), the same bit here. */
export const MASQ_MARK = '0x4000/0x4000';

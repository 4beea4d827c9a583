/**
 * Values the API server half shares with the node half and with tests. The node helper uses the same
 * ranges (agreed in the brief): Services 10.96.0.0/16, pods 10.244.0.0/16 and fd00:10:244::/64.
 */

/** Service ClusterIPs are allocated from this IPv4 range (kube-apiserver's --service-cluster-ip-range). */
export const SERVICE_CIDR = '10.96.0.0/16';
/** Pod IPv4 range the node assigns from. */
export const POD_CIDR = '10.244.0.0/16';
/** Pod IPv6 range the node assigns from. */
export const POD_CIDR_V6 = 'fd00:10:244::/64';
/** The one node's name; the sandbox's "scheduler" puts every pod there. */
export const NODE_NAME = 'sandbox';
/** The node's InternalIP as shown in `nodes` (the bridge address the node helper creates). */
export const NODE_INTERNAL_IP = '10.244.0.1';
/** Cluster DNS service IP (kubelet's --cluster-dns), the tenth address of SERVICE_CIDR as kubeadm picks. */
export const CLUSTER_DNS_IP = '10.96.0.10';
/** The Kubernetes version the sandbox claims to be. */
export const KUBE_VERSION = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.4',
  gitCommit: '59526cd4867447956156ae3a602fcbac10a2c335',
  gitTreeState: 'clean',
  buildDate: '2025-04-22T16:02:27Z',
  goVersion: 'go1.23.6',
  compiler: 'gc',
  platform: 'linux/amd64',
} as const;
/** How many watch events the store keeps for resuming watches; older resourceVersions get 410 Gone. */
export const WATCH_HISTORY = 2000;

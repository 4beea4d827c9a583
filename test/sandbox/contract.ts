/**
 * The seam between the sandbox's two halves.
 *
 * - `apiserver/` owns the object store, the HTTPS API, watch, admission, the controllers
 *   (deployments, replicasets, statefulsets, jobs, endpoints) and the `up/down/status` daemon.
 * - `node/` is the kubelet plus the node's networking: it runs pods as real processes in network
 *   namespaces, runs cluster DNS, programs Service ClusterIPs the way kube-proxy does, and gives the
 *   API server a way to reach a pod's port (pods/portforward), its logs and exec.
 *
 * Both run in the one sandbox daemon process. Neither imports the other's internals: only this file.
 */
import type { Readable, Duplex } from 'node:stream';

/** Any Kubernetes object as stored: plain JSON with apiVersion, kind, metadata, spec, status. */
export interface KObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid: string;
    resourceVersion: string;
    generation?: number;
    creationTimestamp: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }>;
    [key: string]: unknown;
  };
  spec?: any;
  status?: any;
  [key: string]: unknown;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/**
 * The store as the node sees it. `resource` is the plural lower-case name ("pods", "services",
 * "endpoints", "configmaps", "secrets", "namespaces"). Cluster-scoped resources take namespace
 * undefined. Every write bumps resourceVersion and is delivered to API watchers as well.
 */
export interface Store {
  get(resource: string, namespace: string | undefined, name: string): KObject | undefined;
  list(resource: string, namespace?: string): KObject[];
  /** Calls `handler` for every later change; returns the unsubscribe function. Replays nothing. */
  watch(resource: string, handler: (type: WatchEventType, obj: KObject) => void): () => void;
  /** Replaces `status` of an existing object (what a kubelet's status PATCH does). */
  updateStatus(resource: string, namespace: string | undefined, name: string, status: unknown): KObject | undefined;
  /** Removes the object at once (a kubelet confirming a graceful deletion). */
  remove(resource: string, namespace: string | undefined, name: string): void;
}

export interface ExecOptions {
  container?: string;
  command: string[];
  stdin: boolean;
  tty: boolean;
}

/** What the kubelet asks the API server for: bound ServiceAccount tokens (the TokenRequest API). */
export interface TokenIssuer {
  /** A token for the pod's ServiceAccount, bound to the pod, valid for `expirationSeconds`. */
  serviceAccountToken(pod: KObject, expirationSeconds: number): string;
}

/** The kubelet and node networking, as the API server uses it. */
export interface SandboxNode {
  /**
   * Creates host networking (bridge, DNS, iptables chains) and starts reconciling pods and services.
   * `tokens` issues the ServiceAccount tokens of projected volumes.
   */
  start(store: Store, tokens?: TokenIssuer): Promise<void>;
  /**
   * The node's address on the pod network, where the API server also listens so pods reach it
   * through the `kubernetes` Service (as a control plane's address is reachable from pods).
   * Valid once `start` resolved; undefined for nodes without a pod network.
   */
  podFacingAddress?(): string | undefined;
  /** Stops every pod and removes everything `start` created. Idempotent. */
  stop(): Promise<void>;
  /**
   * Opens a TCP connection to `port` on the pod's own loopback (127.0.0.1 inside its network
   * namespace), as a kubelet does for pods/portforward. Rejects with an Error whose message is what a
   * kubelet would put on the error channel, e.g.
   * `error forwarding port 80 to pod <uid>, uid : failed to execute portforward in network namespace "...": failed to connect to localhost:80 inside namespace "...", IPv4: dial tcp4 127.0.0.1:80: connect: connection refused IPv6 dial tcp6: address localhost: no suitable address found`.
   */
  dialPod(namespace: string, name: string, port: number): Promise<Duplex>;
  /** A container's log (stdout and stderr interleaved). `follow` keeps the stream open. */
  podLogs(namespace: string, name: string, container: string | undefined, opts: { follow: boolean; tailLines?: number }): Readable;
  /** Runs a command in a container's namespaces. Optional: omit if not built. */
  exec?(namespace: string, name: string, opts: ExecOptions): { stdin: NodeJS.WritableStream | null; stdout: Readable; stderr: Readable; exit: Promise<number> };
}

/** Removes whatever an earlier sandbox (even a crashed one) left on the host. Safe to call any time. */
export type CleanupHost = () => Promise<void>;

/**
 * The sandbox's node: kubelet (pods as processes in network namespaces), pod networking, kube-proxy
 * (iptables) and cluster DNS, behind the SandboxNode seam of contract.ts.
 */
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Duplex, Readable } from 'node:stream';
import type { CleanupHost, ExecOptions, SandboxNode, Store, TokenIssuer } from '../contract.ts';
import { GATEWAY_IP } from './network-constants.ts';
import { cleanupHost as cleanup, registerStateDir } from './cleanup.ts';
import { defaultHostDirs } from './container-rootfs.ts';
import { ClusterDns } from './dns-server.ts';
import { setupHostNetwork } from './host-network.ts';
import { setupExecBlock } from './exec-block.ts';
import { ImageRegistry } from './images.ts';
import { cgroupHierarchy } from './container-cgroup.ts';
import { KubeProxy } from './kube-proxy.ts';
import { Kubelet } from './kubelet.ts';
import { PodIpAllocator } from './pod-network.ts';
import { podLogs } from './pod-logs.ts';
import { execInPod } from './pod-exec.ts';
import { claimNode, releaseNode } from './node-lock.ts';

export const cleanupHost: CleanupHost = cleanup;

/** Seconds each pod gets to stop when the whole node stops. */
const STOP_GRACE_SECONDS = 2;

/** Thrown by dialPod/podLogs/exec for a pod that does not run on this node (yet). */
export class PodNotRunningError extends Error {
  readonly code = 'POD_NOT_RUNNING';
}

/**
 * Creates the node. Nothing touches the host until `start`. `stateDir` is the sandbox's state
 * directory (the node uses `<stateDir>/node`); `repoRoot` is where images find their programs.
 */
export function createNode(opts: { stateDir: string; repoRoot: string }): SandboxNode {
  const nodeDir = join(opts.stateDir, 'node');
  let kubelet: Kubelet | undefined;
  let proxy: KubeProxy | undefined;
  let dns: ClusterDns | undefined;
  let owned = false;
  const token = randomUUID();

  const worker = (namespace: string, name: string) => {
    const w = kubelet?.worker(namespace, name);
    if (!w?.dialer) throw new PodNotRunningError(`pod ${namespace}/${name} is not running on node sandbox`);
    return w;
  };

  const node: SandboxNode = {
    async start(store: Store, tokens?: TokenIssuer) {
      await claimNode(token);
      owned = true;
      try {
        await cleanup();
        await registerStateDir(nodeDir);
        await mkdir(join(nodeDir, 'pods'), { recursive: true });
        await setupHostNetwork();
        proxy = new KubeProxy(store);
        await proxy.start();
        await setupExecBlock();
        dns = new ClusterDns(store);
        await dns.start();
      } catch (err) {
        // Half a node is worse than none: take down whatever was set up, then report.
        await node.stop().catch(() => undefined);
        throw err;
      }
      kubelet = new Kubelet({
        store, images: ImageRegistry.forRepo(opts.repoRoot, join(opts.stateDir, 'images')), ips: new PodIpAllocator(),
        podsDir: join(nodeDir, 'pods'), hostDirs: defaultHostDirs(opts.repoRoot), imageCacheDir: join(nodeDir, 'images'),
        cgroupHierarchy: cgroupHierarchy(), tokens,
      });
      kubelet.start();
    },
    async stop() {
      // A node that never claimed the host must not clean it: another sandbox may own it.
      if (!owned) return;
      proxy?.stop();
      await kubelet?.stop(STOP_GRACE_SECONDS);
      await dns?.stop();
      kubelet = undefined;
      proxy = undefined;
      dns = undefined;
      await cleanup();
      await releaseNode(token);
      owned = false;
    },
    podFacingAddress: () => (owned ? GATEWAY_IP : undefined),
    async dialPod(namespace: string, name: string, port: number): Promise<Duplex> {
      return worker(namespace, name).dialer!.dial(port);
    },
    podLogs(namespace: string, name: string, container: string | undefined, o: { follow: boolean; tailLines?: number }): Readable {
      return podLogs(worker(namespace, name), container, o);
    },
    exec(namespace: string, name: string, o: ExecOptions) {
      return execInPod(worker(namespace, name), o);
    },
  };
  return node;
}

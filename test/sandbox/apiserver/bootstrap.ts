/**
 * The objects a fresh cluster has before anyone writes to it: the system namespaces, the one node,
 * the `kubernetes` Service, and `kube-dns` in kube-system in front of the cluster DNS (kubeadm,
 * kind and minikube all name CoreDNS's Service kube-dns, ClusterIP the 10th address of the
 * Service range, with ports dns/53 UDP, dns-tcp/53 TCP and metrics/9153 TCP).
 */
import type { KObject } from '../contract.ts';
import { CLUSTER_DNS_IP, KUBE_VERSION, NODE_INTERNAL_IP, NODE_NAME } from './constants.ts';
import { resourceByPlural } from './resources.ts';
import type { Registry } from './registry.ts';

function nodeObject(): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: NODE_NAME, uid: '', resourceVersion: '', creationTimestamp: '',
      labels: {
        'kubernetes.io/hostname': NODE_NAME, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/os': 'linux', 'beta.kubernetes.io/arch': 'amd64', 'node-role.kubernetes.io/control-plane': '',
      },
    },
    spec: { podCIDR: '10.244.0.0/16', podCIDRs: ['10.244.0.0/16', 'fd00:10:244::/64'] },
    status: {
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }],
      addresses: [{ type: 'InternalIP', address: NODE_INTERNAL_IP }, { type: 'Hostname', address: NODE_NAME }],
      capacity: { cpu: '2', memory: '4Gi', pods: '110', 'ephemeral-storage': '20Gi' },
      allocatable: { cpu: '2', memory: '4Gi', pods: '110', 'ephemeral-storage': '20Gi' },
      nodeInfo: {
        kubeletVersion: KUBE_VERSION.gitVersion, kubeProxyVersion: KUBE_VERSION.gitVersion, operatingSystem: 'linux', architecture: 'amd64',
        containerRuntimeVersion: 'sandbox://1.0.0', kernelVersion: '', osImage: 'kubectl-mirrord sandbox', machineID: '', systemUUID: '', bootID: '',
      },
    },
  };
}

/** Creates the initial objects through the registry (so they are defaulted like any other). */
export function bootstrap(registry: Registry): void {
  const namespaces = resourceByPlural('namespaces')!;
  for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
    registry.create(namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } } as KObject);
  }
  const node = nodeObject();
  const created = registry.create(resourceByPlural('nodes')!, undefined, node);
  registry.store.updateStatus('nodes', undefined, created.metadata.name, node.status);
  registry.create(resourceByPlural('services')!, 'default', {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name: 'kubernetes', labels: { component: 'apiserver', provider: 'kubernetes' } },
    spec: { clusterIP: '10.96.0.1', ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 6443 }] },
  } as unknown as KObject);
  // No selector and no Endpoints: the sandbox's DNS server answers on the ClusterIP itself (a
  // local address of the node), so kube-proxy leaves this address alone (kube-proxy.ts).
  registry.create(resourceByPlural('services')!, 'kube-system', {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name: 'kube-dns', labels: { 'k8s-app': 'kube-dns', 'kubernetes.io/name': 'CoreDNS', 'kubernetes.io/cluster-service': 'true' } },
    spec: {
      clusterIP: CLUSTER_DNS_IP,
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
        { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
      ],
    },
  } as unknown as KObject);
}

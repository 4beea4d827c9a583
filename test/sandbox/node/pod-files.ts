/**
 * Files a kubelet writes for a pod on the node: /etc/hosts, /etc/hostname, /etc/resolv.conf and the
 * contents of configMap, secret, projected, downwardAPI (as AtomicWriter lays them out) and emptyDir volumes.
 */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import type { KObject, Store, TokenIssuer } from '../contract.ts';
import { ContainerConfigError } from './container-env.ts';
import { CLUSTER_DOMAIN, DNS_IP } from './network-constants.ts';
import type { VolumeMount } from './container-rootfs.ts';
import { writeAtomic, type PayloadFile } from './atomic-writer.ts';

export interface PodFiles { hosts: string; hostname: string; resolvConf: string }

/**
 * resolv.conf as the kubelet writes it (pkg/kubelet/network/dns/dns.go): for ClusterFirst (and
 * ClusterFirstWithHostNet) the namespace's service domain, svc, the cluster domain and ndots:5;
 * for Default (and ClusterFirst on the host network) the node's own file; for None only dnsConfig.
 * dnsConfig's searches, nameservers and options are appended.
 */
export function resolvConf(namespace: string, pod?: KObject): string {
  const cfg = pod?.spec?.dnsConfig;
  const policy = pod?.spec?.dnsPolicy ?? 'ClusterFirst';
  const nodeDefault = policy === 'Default' || (policy === 'ClusterFirst' && pod?.spec?.hostNetwork);
  let search: string[] = [];
  let servers: string[] = [];
  let options: string[] = [];
  if (nodeDefault) {
    const host = readFileSync('/etc/resolv.conf', 'utf8').split('\n').map((l) => l.trim().split(/\s+/));
    search = host.filter((l) => l[0] === 'search').flatMap((l) => l.slice(1));
    servers = host.filter((l) => l[0] === 'nameserver').map((l) => l[1]);
    options = host.filter((l) => l[0] === 'options').flatMap((l) => l.slice(1));
  } else if (policy !== 'None') {
    search = [`${namespace}.svc.${CLUSTER_DOMAIN}`, `svc.${CLUSTER_DOMAIN}`, CLUSTER_DOMAIN];
    servers = [DNS_IP];
    options = ['ndots:5'];
  }
  search.push(...(cfg?.searches ?? []));
  servers.push(...(cfg?.nameservers ?? []));
  options.push(...((cfg?.options ?? []) as Array<{ name: string; value?: string }>).map((o) => (o.value ? `${o.name}:${o.value}` : o.name)));
  return [search.length ? `search ${search.join(' ')}` : '', ...servers.map((s) => `nameserver ${s}`), options.length ? `options ${options.join(' ')}` : '']
    .filter(Boolean).join('\n') + '\n';
}

/** /etc/hosts as the kubelet writes it (pkg/kubelet/kubelet_pods.go managedHostsFileContent). */
export function hostsFile(pod: KObject, podIP: string, podIP6: string): string {
  const hostname = pod.spec?.hostname ?? pod.metadata.name;
  const fqdn = pod.spec?.subdomain ? `${hostname}.${pod.spec.subdomain}.${pod.metadata.namespace}.svc.${CLUSTER_DOMAIN}\t` : '';
  let out = '# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' +
    'fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n' +
    `${podIP}\t${fqdn}${hostname}\n${podIP6}\t${fqdn}${hostname}\n`;
  for (const alias of pod.spec?.hostAliases ?? []) out += `\n# Entries added by HostAliases.\n${alias.ip}\t${(alias.hostnames ?? []).join('\t')}\n`;
  return out;
}

/** Writes hosts/hostname/resolv.conf into `dir`; resolves to their paths. */
export async function writePodFiles(dir: string, pod: KObject, podIP: string, podIP6: string): Promise<PodFiles> {
  await mkdir(dir, { recursive: true });
  const files = { hosts: join(dir, 'hosts'), hostname: join(dir, 'hostname'), resolvConf: join(dir, 'resolv.conf') };
  await writeFile(files.hosts, hostsFile(pod, podIP, podIP6));
  await writeFile(files.hostname, `${pod.spec?.hostname ?? pod.metadata.name}\n`);
  await writeFile(files.resolvConf, resolvConf(pod.metadata.namespace ?? 'default', pod));
  return files;
}

function decoded(obj: KObject): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  const binary = obj.kind === 'Secret' ? 'base64' : 'utf8';
  for (const [k, v] of Object.entries((obj.data ?? {}) as Record<string, string>)) out[k] = Buffer.from(v, binary);
  for (const [k, v] of Object.entries((obj.binaryData ?? {}) as Record<string, string>)) out[k] = Buffer.from(v, 'base64');
  // The API server folds stringData into data on write; accept it here too for stores that do not.
  for (const [k, v] of Object.entries((obj.stringData ?? {}) as Record<string, string>)) out[k] = Buffer.from(v, 'utf8');
  return out;
}

/** Adds a source's keys (all, or the `items` named) to a volume's payload with `mode`, as the kubelet's volume plugins build it. */
function addKeys(payload: Map<string, PayloadFile>, data: Record<string, Buffer>, items: Array<{ key: string; path: string; mode?: number }> | undefined, mode: number): void {
  const entries = items ? items.filter((i) => i.key in data).map((i) => [i.path, data[i.key], i.mode ?? mode] as const)
    : Object.entries(data).map(([k, v]) => [k, v, mode] as const);
  for (const [path, content, m] of entries) payload.set(path, { content, mode: m });
}

function source(store: Store, ns: string, kind: 'configMap' | 'secret', ref: any): Record<string, Buffer> {
  const name = kind === 'secret' ? (ref.secretName ?? ref.name) : ref.name;
  const obj = store.get(kind === 'secret' ? 'secrets' : 'configmaps', ns, name);
  if (obj) return decoded(obj);
  if (ref.optional) return {};
  throw new ContainerConfigError(`${kind === 'secret' ? 'secret' : 'configmap'} "${name}" not found`);
}

/** downwardAPI items with a fieldRef to metadata (namespace, name, uid, labels, annotations). */
function downwardItems(items: Array<{ path: string; fieldRef?: { fieldPath: string } }>, pod: KObject): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  const lines = (m: Record<string, string> | undefined) => Object.entries(m ?? {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join('\n');
  for (const item of items) {
    const field = item.fieldRef?.fieldPath;
    const value = field === 'metadata.namespace' ? pod.metadata.namespace : field === 'metadata.name' ? pod.metadata.name : field === 'metadata.uid' ? pod.metadata.uid
      : field === 'metadata.labels' ? lines(pod.metadata.labels) : field === 'metadata.annotations' ? lines(pod.metadata.annotations) : undefined;
    if (value !== undefined) out[item.path] = Buffer.from(value ?? '');
  }
  return out;
}

/**
 * Fills one volume's directory under `dir`. configMap, secret, downwardAPI and projected volumes
 * are written as the kubelet's AtomicWriter writes them (atomic-writer.ts): a timestamped
 * directory, `..data` and one symlink per key. Throws ContainerConfigError on a missing source.
 */
async function fillVolume(dir: string, vol: any, pod: KObject, store: Store, tokens: TokenIssuer | undefined): Promise<string> {
  const ns = pod.metadata.namespace ?? 'default';
  if (vol.hostPath) return vol.hostPath.path;
  await mkdir(dir, { recursive: true });
  // emptyDir is world-writable (0777), so containers running as any user can write to it.
  if (vol.emptyDir) await chmod(dir, 0o777);
  const payload = new Map<string, PayloadFile>();
  if (vol.configMap) addKeys(payload, source(store, ns, 'configMap', vol.configMap), vol.configMap.items, vol.configMap.defaultMode ?? 0o644);
  if (vol.secret) addKeys(payload, source(store, ns, 'secret', vol.secret), vol.secret.items, vol.secret.defaultMode ?? 0o644);
  if (vol.downwardAPI) addKeys(payload, downwardItems(vol.downwardAPI.items ?? [], pod), undefined, vol.downwardAPI.defaultMode ?? 0o644);
  for (const src of vol.projected?.sources ?? []) {
    const mode = vol.projected.defaultMode ?? 0o644;
    if (src.configMap) addKeys(payload, source(store, ns, 'configMap', src.configMap), src.configMap.items, mode);
    if (src.secret) addKeys(payload, source(store, ns, 'secret', src.secret), src.secret.items, mode);
    // A bound token from the API server (the kubelet's TokenRequest); a placeholder when there is none to ask.
    if (src.serviceAccountToken) {
      const token = tokens?.serviceAccountToken(pod, Number(src.serviceAccountToken.expirationSeconds ?? 3607)) ?? 'sandbox-token';
      addKeys(payload, { [src.serviceAccountToken.path]: Buffer.from(token) }, undefined, mode);
    }
    if (src.downwardAPI) addKeys(payload, downwardItems(src.downwardAPI.items ?? [], pod), undefined, mode);
  }
  if (vol.configMap || vol.secret || vol.downwardAPI || vol.projected) await writeAtomic(dir, payload);
  return dir;
}

/**
 * Writes every volume of the pod under `dir/<volume name>` and returns a lookup from volume name
 * to the host path a container's volumeMount binds.
 */
export async function writeVolumes(dir: string, pod: KObject, store: Store, tokens?: TokenIssuer): Promise<Map<string, PodVolume>> {
  const out = new Map<string, PodVolume>();
  for (const vol of pod.spec?.volumes ?? []) {
    // configMap, secret, projected and downwardAPI volumes are always read-only in a container.
    const readOnly = !!(vol.configMap || vol.secret || vol.projected || vol.downwardAPI);
    out.set(vol.name, { path: await fillVolume(join(dir, vol.name), vol, pod, store, tokens), readOnly });
  }
  return out;
}

/** A volume's directory on the host, and whether containers always see it read-only. */
export interface PodVolume { path: string; readOnly: boolean }

/** A container's volumeMounts as bind mounts; a mount naming an unknown volume is a config error. */
export function containerMounts(container: any, volumes: Map<string, PodVolume>): VolumeMount[] {
  return (container.volumeMounts ?? []).map((m: any) => {
    const vol = volumes.get(m.name);
    if (!vol) throw new ContainerConfigError(`cannot find volume "${m.name}" to mount into container "${container.name}"`);
    return { source: m.subPath ? join(vol.path, m.subPath) : vol.path, target: m.mountPath, readOnly: vol.readOnly || !!m.readOnly };
  });
}

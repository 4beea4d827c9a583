/**
 * A container's environment as a kubelet builds it (pkg/kubelet/kubelet_pods.go makeEnvironmentVariables):
 * service links first, then envFrom in order, then env in order (later wins), with $(VAR) expansion
 * against what is already defined. A missing ConfigMap/Secret/key that is not `optional` is a
 * CreateContainerConfigError with the kubelet's message.
 */
import type { KObject, Store } from '../contract.ts';
import { NODE_NAME } from './network-constants.ts';

/** The kubelet's CreateContainerConfigError: the container never starts, the message says why. */
export class ContainerConfigError extends Error {
  readonly reason = 'CreateContainerConfigError';
}

/** What fieldRef can read besides the pod object itself. */
export interface PodFacts { podIP: string; hostIP: string }

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Expands `$(NAME)` from `vars`; `$$(NAME)` is an escaped literal `$(NAME)`; unknown names stay as
 * written (Kubernetes third_party/forked/golang/expansion).
 */
export function expandVars(input: string, vars: Map<string, string>): string {
  return input.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) => {
    if (m === '$$') return '$';
    return vars.has(name!) ? vars.get(name!)! : m;
  });
}

function decodeData(obj: KObject): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((obj.data ?? {}) as Record<string, string>)) {
    out[k] = obj.kind === 'Secret' ? Buffer.from(v, 'base64').toString('utf8') : v;
  }
  if (obj.kind === 'Secret') Object.assign(out, (obj.stringData ?? {}) as Record<string, string>);
  return out;
}

function lookup(store: Store, resource: 'configmaps' | 'secrets', ns: string, name: string, optional?: boolean): Record<string, string> | undefined {
  const obj = store.get(resource, ns, name);
  if (obj) return decodeData(obj);
  if (optional) return undefined;
  throw new ContainerConfigError(`${resource === 'configmaps' ? 'configmap' : 'secret'} "${name}" not found`);
}

function fieldRef(path: string, pod: KObject, facts: PodFacts): string {
  const labelMatch = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (labelMatch) return (pod.metadata[labelMatch[1]] as Record<string, string> | undefined)?.[labelMatch[2]] ?? '';
  switch (path) {
    case 'metadata.name': return pod.metadata.name;
    case 'metadata.namespace': return pod.metadata.namespace ?? 'default';
    case 'metadata.uid': return pod.metadata.uid;
    case 'spec.nodeName': return pod.spec?.nodeName ?? NODE_NAME;
    case 'spec.serviceAccountName': return pod.spec?.serviceAccountName ?? 'default';
    case 'status.podIP': case 'status.podIPs': return facts.podIP;
    case 'status.hostIP': case 'status.hostIPs': return facts.hostIP;
    default: throw new ContainerConfigError(`unsupported fieldRef fieldPath "${path}"`);
  }
}

function valueFrom(src: any, ns: string, pod: KObject, facts: PodFacts, store: Store): string | undefined {
  if (src.fieldRef) return fieldRef(src.fieldRef.fieldPath, pod, facts);
  const ref = src.configMapKeyRef ?? src.secretKeyRef;
  if (ref) {
    const data = lookup(store, src.configMapKeyRef ? 'configmaps' : 'secrets', ns, ref.name, ref.optional);
    if (!data) return undefined;
    if (!(ref.key in data)) {
      if (ref.optional) return undefined;
      throw new ContainerConfigError(`couldn't find key ${ref.key} in ${src.configMapKeyRef ? 'ConfigMap' : 'Secret'} ${ns}/${ref.name}`);
    }
    return data[ref.key];
  }
  if (src.resourceFieldRef) return '0';
  return undefined;
}

/** Docker-link style variables for every Service in the pod's namespace (enableServiceLinks). */
function serviceLinks(store: Store, ns: string, vars: Map<string, string>, onlyKubernetes = false): void {
  const kubernetes = store.get('services', 'default', 'kubernetes');
  const services = onlyKubernetes ? [] : store.list('services', ns).filter((s) => !(ns === 'default' && s.metadata.name === 'kubernetes'));
  if (kubernetes) services.push(kubernetes);
  for (const svc of services) {
    const ip = svc.spec?.clusterIP;
    if (!ip || ip === 'None') continue;
    const base = svc.metadata.name.toUpperCase().replace(/-/g, '_');
    const ports: any[] = svc.spec.ports ?? [];
    if (ports.length === 0) continue;
    vars.set(`${base}_SERVICE_HOST`, ip);
    vars.set(`${base}_SERVICE_PORT`, String(ports[0].port));
    for (const p of ports) {
      const proto = (p.protocol ?? 'TCP').toLowerCase();
      if (p.name) vars.set(`${base}_SERVICE_PORT_${p.name.toUpperCase().replace(/-/g, '_')}`, String(p.port));
      const key = `${base}_PORT_${p.port}_${proto.toUpperCase()}`;
      vars.set(key, `${proto}://${ip}:${p.port}`);
      vars.set(`${key}_PROTO`, proto);
      vars.set(`${key}_PORT`, String(p.port));
      vars.set(`${key}_ADDR`, ip);
    }
    vars.set(`${base}_PORT`, `${(ports[0].protocol ?? 'TCP').toLowerCase()}://${ip}:${ports[0].port}`);
  }
}

/**
 * The container's environment, in definition order. `imageEnv` (`K=V` strings) comes first, as
 * the image's ENV would. Throws ContainerConfigError for a missing required reference.
 */
export function buildEnv(container: any, pod: KObject, facts: PodFacts, store: Store, imageEnv: string[]): Map<string, string> {
  const ns = pod.metadata.namespace ?? 'default';
  const vars = new Map<string, string>([['PATH', DEFAULT_PATH]]);
  for (const kv of imageEnv) vars.set(kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1));
  vars.set('HOSTNAME', pod.metadata.name);
  // What Docker and containerd set when the image has no HOME of its own.
  if (!vars.has('HOME')) vars.set('HOME', '/root');
  if (pod.spec?.enableServiceLinks !== false) serviceLinks(store, ns, vars);
  // The API server's Service variables are set even without service links, as the kubelet does
  // (pkg/kubelet/kubelet_pods.go getServiceEnvVarMap: the master service is always included).
  else serviceLinks(store, ns, vars, true);
  for (const from of container.envFrom ?? []) {
    const ref = from.configMapRef ?? from.secretRef;
    const data = lookup(store, from.configMapRef ? 'configmaps' : 'secrets', ns, ref.name, ref.optional);
    for (const [k, v] of Object.entries(data ?? {})) vars.set(`${from.prefix ?? ''}${k}`, v);
  }
  for (const e of container.env ?? []) {
    const value = e.valueFrom ? valueFrom(e.valueFrom, ns, pod, facts, store) : expandVars(e.value ?? '', vars);
    if (value !== undefined) vars.set(e.name, value);
  }
  return vars;
}

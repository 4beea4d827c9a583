/**
 * The mirrord-style config file (`-f/--config-file`): which fields are accepted, and their check
 * into a plain `FileConfig`. Pure: the file is read and parsed by config-file.ts.
 *
 * Field names and meanings follow mirrord's config (https://metalbear.com/mirrord/docs/config/):
 * - `target`: `"deployment/web"`, or `{ path, namespace }`;
 * - `agent.image`, `agent.image_pull_policy`, `agent.image_pull_secrets` (`[{ name }]`, or names),
 *   `agent.namespace`;
 * - `feature.copy_target`: `true`/`false`, or `{ scale_down, exclude_containers, exclude_init_containers }`;
 * - `feature.network.incoming`: `"mirror"`, `"steal"` or `"off"`, or `{ mode, http_filter:
 *   { header_filter, path_filter, ports }, port_mapping: [[local, remote], ...], listen_ports,
 *   ignore_localhost, ignore_ports, ports }`. As in mirrord, each port_mapping pair is the port the
 *   user's app listens on, then the pod's port; each listen_ports pair is the port the app asks
 *   for, then the port really bound on this machine. The last four are exec's (the program's own
 *   listening sockets); port-forward's -R names its ports itself.
 *
 * Unknown fields are errors that name the field's path and the accepted names: a typo that is
 * silently ignored (`incomming`) would otherwise steal nothing and say nothing.
 */
import { UsageError } from '../errors.ts';
import { parseTarget, type TargetSpec } from '../kube/target-spec.ts';
import { DEFAULT_HTTP_FILTER_PORTS } from '../protocol/requests.ts';
import { parsePullPolicy, parsePullSecrets, PULL_POLICIES, type PullPolicy } from '../kube/agent-image.ts';
import type { CopyTargetPlan } from '../kube/copy-target.ts';
import { checkExecConfig, EXEC_FEATURE_KEYS, EXEC_NETWORK_KEYS, EXEC_TOP_KEYS, type ExecFileConfig } from './exec-schema.ts';

export type IncomingMode = 'mirror' | 'steal';

/** Which requests of a stolen port go to the user's app. Regex sources, compiled with flag `i`. */
export interface HttpFilterConfig {
  header: string | undefined;
  path: string | undefined;
  /** Ports the filter applies to; the other stolen ports are stolen whole. Default [80, 8080]. */
  ports: number[];
}

export interface IncomingConfig {
  /** `off` turns incoming traffic off (mirrord's spelling); `-R` then has no mode to use. */
  mode: IncomingMode | 'off';
  httpFilter: HttpFilterConfig | undefined;
  /** Pod port → port of the user's app, from `port_mapping`. */
  portMapping: Map<number, number>;
  /** exec: port the app asks for → port really bound on this machine, from `listen_ports`. */
  listenPorts: Map<number, number>;
  /** exec: a socket bound to loopback stays local. */
  ignoreLocalhost: boolean;
  /** exec: app ports that stay local. */
  ignorePorts: number[];
  /** exec: only these app ports are subscribed (undefined: all). */
  ports: number[] | undefined;
}

/** A checked config file. Every field is optional: flags fill in or override. */
export interface FileConfig {
  target: TargetSpec | undefined;
  targetNamespace: string | undefined;
  agentImage: string | undefined;
  agentImagePullPolicy: PullPolicy | undefined;
  agentImagePullSecrets: string[] | undefined;
  agentNamespace: string | undefined;
  incoming: IncomingConfig | undefined;
  /** `feature.copy_target`: `true`, or `{ scale_down, exclude_containers, exclude_init_containers }`. */
  copyTarget: CopyTargetPlan | undefined;
  /** What `exec` reads (feature.env, feature.fs, dns, outgoing, skip_processes): exec-schema.ts. */
  exec: ExecFileConfig;
  /** One line per known mirrord field that kubectl-mirrord accepts and ignores. */
  warnings: string[];
}

type Obj = Record<string, unknown>;

/** Checks config values; `file` names the config file in every message. */
class Checker {
  readonly file: string;
  constructor(file: string) {
    this.file = file;
  }

  fail(field: string, problem: string, accepted: string): never {
    throw new UsageError('ECONFIG', `config file ${this.file}: ${field} ${problem}`, { hint: accepted });
  }

  /** An object with only the given keys. `$schema` is allowed at the top, as editors add it. */
  object(value: unknown, field: string, keys: readonly string[]): Obj {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) this.fail(field, `must be an object, got ${describe(value)}`, `${field} takes the fields ${keys.join(', ')}`);
    const obj = value as Obj;
    for (const key of Object.keys(obj)) {
      if (keys.includes(key) || (field === '' && key === '$schema')) continue;
      const path = field === '' ? key : `${field}.${key}`;
      this.fail(path, 'is not a known field', `accepted ${field === '' ? 'at the top level' : `in ${field}`}: ${keys.join(', ')}`);
    }
    return obj;
  }

  string(value: unknown, field: string, accepted: string): string | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string' || value.trim() === '') this.fail(field, `must be a non-empty string, got ${describe(value)}`, accepted);
    return value;
  }

  port(value: unknown, field: string): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) this.fail(field, `must be a TCP port (1-65535), got ${describe(value)}`, `${field} takes a whole number from 1 to 65535`);
    return value;
  }

  /** A JavaScript regex source, compiled here so a bad one fails before any agent starts. */
  regex(value: unknown, field: string): string | undefined {
    const source = this.string(value, field, `${field} takes a JavaScript regular expression, e.g. "^x-user: me$"`);
    if (source === undefined) return undefined;
    try {
      new RegExp(source, 'i');
    } catch (err) {
      this.fail(field, `is not a valid regular expression: ${(err as Error).message}`, `${field} takes a JavaScript regular expression (look-around such as ^(?!/health) works)`);
    }
    return source;
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : JSON.stringify(value);
}

const TOP_KEYS = ['target', 'agent', 'feature', ...EXEC_TOP_KEYS] as const;
const TARGET_KEYS = ['path', 'namespace'] as const;
const AGENT_KEYS = ['image', 'image_pull_policy', 'image_pull_secrets', 'namespace'] as const;
const FEATURE_KEYS = ['network', 'copy_target', ...EXEC_FEATURE_KEYS] as const;
const COPY_KEYS = ['scale_down', 'exclude_containers', 'exclude_init_containers'] as const;
const NETWORK_KEYS = ['incoming', ...EXEC_NETWORK_KEYS] as const;
const INCOMING_KEYS = ['mode', 'http_filter', 'port_mapping', 'listen_ports', 'ignore_localhost', 'ignore_ports', 'ports'] as const;
const FILTER_KEYS = ['header_filter', 'path_filter', 'ports'] as const;
const MODES = ['mirror', 'steal', 'off'];

/** mirrord's form is `[{ name: "regcred" }]`; plain names are accepted too. */
function checkPullSecrets(c: Checker, value: unknown, file: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  const field = 'agent.image_pull_secrets';
  const accepted = `${field} takes a list of Secret names or { name } objects, e.g. [{ name: regcred }]`;
  if (!Array.isArray(value)) c.fail(field, `must be a list, got ${describe(value)}`, accepted);
  const names = value.map((entry, i) => {
    if (typeof entry === 'string') return entry;
    const obj = c.object(entry, `${field}[${i}]`, ['name'] as const);
    const name = c.string(obj.name, `${field}[${i}].name`, accepted);
    if (name === undefined) c.fail(`${field}[${i}]`, 'has no name', accepted);
    return name as string;
  });
  return parsePullSecrets(names, `${field} in ${file}:`);
}

function checkTarget(c: Checker, value: unknown): { target: TargetSpec | undefined; namespace: string | undefined } {
  if (value === undefined || value === null) return { target: undefined, namespace: undefined };
  const accepted = 'target takes "KIND/NAME" (e.g. "deployment/web") or { path, namespace }';
  if (typeof value === 'string') return { target: parseTarget(value, `target in ${c.file}`), namespace: undefined };
  const obj = c.object(value, 'target', TARGET_KEYS);
  const path = c.string(obj.path, 'target.path', accepted);
  return { target: path === undefined ? undefined : parseTarget(path, `target.path in ${c.file}`), namespace: c.string(obj.namespace, 'target.namespace', 'a namespace name') };
}

function checkFilter(c: Checker, value: unknown): HttpFilterConfig | undefined {
  if (value === undefined || value === null) return undefined;
  const field = 'feature.network.incoming.http_filter';
  const obj = c.object(value, field, FILTER_KEYS);
  const header = c.regex(obj.header_filter, `${field}.header_filter`);
  const path = c.regex(obj.path_filter, `${field}.path_filter`);
  if (header === undefined && path === undefined) c.fail(field, 'has neither header_filter nor path_filter', 'give a header_filter or a path_filter regex, or leave http_filter out to steal every request');
  let ports = [...DEFAULT_HTTP_FILTER_PORTS];
  if (obj.ports !== undefined) {
    if (!Array.isArray(obj.ports) || obj.ports.length === 0) c.fail(`${field}.ports`, `must be a non-empty list of ports, got ${describe(obj.ports)}`, `e.g. ports: [80, 8080]`);
    ports = obj.ports.map((p, i) => c.port(p, `${field}.ports[${i}]`));
  }
  return { header, path, ports };
}

/** A list of [a, b] port pairs; neither side may repeat. Returned as a → b. */
function portPairs(c: Checker, value: unknown, field: string, accepted: string, sides: [string, string], names: [string, string]): Map<number, number> {
  const mapping = new Map<number, number>();
  if (value === undefined || value === null) return mapping;
  if (!Array.isArray(value)) c.fail(field, `must be a list, got ${describe(value)}`, accepted);
  const seconds = new Set<number>();
  value.forEach((pair, i) => {
    if (!Array.isArray(pair) || pair.length !== 2) c.fail(`${field}[${i}]`, `must be a [${names[0]}, ${names[1]}] pair, got ${JSON.stringify(pair)}`, accepted);
    const a = c.port(pair[0], `${field}[${i}][0]`);
    const b = c.port(pair[1], `${field}[${i}][1]`);
    if (mapping.has(a)) c.fail(`${field}[${i}]`, `maps ${sides[0]} ${a} a second time`, `name each ${sides[0]} once`);
    if (seconds.has(b)) c.fail(`${field}[${i}]`, `maps ${sides[1]} ${b} a second time`, `name each ${sides[1]} once`);
    mapping.set(a, b);
    seconds.add(b);
  });
  return mapping;
}

function checkPortMapping(c: Checker, value: unknown): Map<number, number> {
  const field = 'feature.network.incoming.port_mapping';
  const accepted = `${field} takes a list of [local_port, remote_port] pairs, e.g. [[9333, 80]]: the port your app listens on, then the pod's`;
  const localToRemote = portPairs(c, value, field, accepted, ['local port', 'remote port'], ['local_port', 'remote_port']);
  return new Map([...localToRemote].map(([local, remote]) => [remote, local]));
}

function portList(c: Checker, value: unknown, field: string): number[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) c.fail(field, `must be a list of ports, got ${describe(value)}`, `e.g. ${field.split('.').pop()}: [8080, 9090]`);
  return value.map((p, i) => c.port(p, `${field}[${i}]`));
}

/** exec's fields: listen_ports, ignore_localhost, ignore_ports, ports. */
function checkExecIncoming(c: Checker, obj: Obj): Pick<IncomingConfig, 'listenPorts' | 'ignoreLocalhost' | 'ignorePorts' | 'ports'> {
  const field = 'feature.network.incoming';
  const listenPorts = portPairs(c, obj.listen_ports, `${field}.listen_ports`, `${field}.listen_ports takes a list of [port, local_port] pairs, e.g. [[80, 7777]]: the port your app asks for, then the port really bound on this machine`, ['port', 'local port'], ['port', 'local_port']);
  if (obj.ignore_localhost !== undefined && typeof obj.ignore_localhost !== 'boolean') c.fail(`${field}.ignore_localhost`, `must be true or false, got ${describe(obj.ignore_localhost)}`, `${field}.ignore_localhost takes true or false`);
  const ignorePorts = portList(c, obj.ignore_ports, `${field}.ignore_ports`);
  const ports = portList(c, obj.ports, `${field}.ports`);
  if (ignorePorts !== undefined && ports !== undefined) {
    c.fail(`${field}.ports`, 'was given together with ignore_ports', 'give one: ports lists the only ports to subscribe, ignore_ports the ones to keep local');
  }
  return { listenPorts, ignoreLocalhost: obj.ignore_localhost === true, ignorePorts: ignorePorts ?? [], ports };
}

function names(c: Checker, value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  const accepted = `${field} takes a list of container names, e.g. ["istio-proxy"]`;
  if (!Array.isArray(value)) c.fail(field, `must be a list, got ${describe(value)}`, accepted);
  return value.map((v, i) => c.string(v, `${field}[${i}]`, accepted)!);
}

function checkCopyTarget(c: Checker, value: unknown): CopyTargetPlan | undefined {
  const field = 'feature.copy_target';
  if (value === undefined || value === null || value === false) return undefined;
  if (value === true) return { scaleDown: false, excludeContainers: [], excludeInitContainers: [] };
  if (typeof value !== 'object' || Array.isArray(value)) c.fail(field, `must be true, false or an object, got ${describe(value)}`, `${field} takes true, or { scale_down, exclude_containers, exclude_init_containers }`);
  const obj = c.object(value, field, COPY_KEYS);
  if (obj.scale_down !== undefined && typeof obj.scale_down !== 'boolean') c.fail(`${field}.scale_down`, `must be true or false, got ${describe(obj.scale_down)}`, `${field}.scale_down takes true or false`);
  return {
    scaleDown: obj.scale_down === true,
    excludeContainers: names(c, obj.exclude_containers, `${field}.exclude_containers`),
    excludeInitContainers: names(c, obj.exclude_init_containers, `${field}.exclude_init_containers`),
  };
}

function checkIncoming(c: Checker, value: unknown): IncomingConfig | undefined {
  if (value === undefined || value === null) return undefined;
  const field = 'feature.network.incoming';
  const modeAccepted = `${field} takes "mirror", "steal", "off", or { ${INCOMING_KEYS.join(', ')} }`;
  if (typeof value === 'string') {
    if (!MODES.includes(value)) c.fail(field, `is ${JSON.stringify(value)}`, modeAccepted);
    return { mode: value as IncomingConfig['mode'], httpFilter: undefined, portMapping: new Map(), listenPorts: new Map(), ignoreLocalhost: false, ignorePorts: [], ports: undefined };
  }
  const obj = c.object(value, field, INCOMING_KEYS);
  const mode = obj.mode === undefined ? 'mirror' : obj.mode;
  if (typeof mode !== 'string' || !MODES.includes(mode)) c.fail(`${field}.mode`, `is ${describe(mode)}`, `${field}.mode takes "mirror" (the default), "steal" or "off"`);
  const httpFilter = checkFilter(c, obj.http_filter);
  if (httpFilter && mode !== 'steal') {
    c.fail(`${field}.http_filter`, `needs mode "steal" (the mode is "${mode}")`, 'an HTTP filter chooses which requests are stolen: set mode: steal (or pass --steal); mirror copies every connection');
  }
  return { mode: mode as IncomingConfig['mode'], httpFilter, portMapping: checkPortMapping(c, obj.port_mapping), ...checkExecIncoming(c, obj) };
}

/**
 * Checks a parsed config document.
 * @param file the file's path, named in every message.
 * @throws UsageError ECONFIG naming the field's path (e.g. `feature.network.incomming`) and what is
 *   accepted; ETARGET for a bad target.
 */
export function checkConfig(document: unknown, file: string): FileConfig {
  const c = new Checker(file);
  const warnings: string[] = [];
  const warn = (text: string) => warnings.push(`config file ${file}: ${text}`);
  if (document === undefined || document === null) {
    return {
      target: undefined, targetNamespace: undefined, agentImage: undefined, agentImagePullPolicy: undefined, agentImagePullSecrets: undefined, agentNamespace: undefined, incoming: undefined, copyTarget: undefined,
      exec: checkExecConfig(c, {}, {}, {}, warn), warnings,
    };
  }
  const top = c.object(document, '', TOP_KEYS);
  const { target, namespace } = checkTarget(c, top.target);
  const agent = top.agent === undefined ? {} : c.object(top.agent, 'agent', AGENT_KEYS);
  const feature = top.feature === undefined ? {} : c.object(top.feature, 'feature', FEATURE_KEYS);
  const network = feature.network === undefined ? {} : c.object(feature.network, 'feature.network', NETWORK_KEYS);
  return {
    target,
    targetNamespace: namespace,
    agentImage: c.string(agent.image, 'agent.image', 'agent.image takes a container image reference'),
    agentImagePullPolicy: parsePullPolicy(c.string(agent.image_pull_policy, 'agent.image_pull_policy', `agent.image_pull_policy takes ${PULL_POLICIES.join(', ')}`), `agent.image_pull_policy in ${file}`),
    agentImagePullSecrets: checkPullSecrets(c, agent.image_pull_secrets, file),
    agentNamespace: c.string(agent.namespace, 'agent.namespace', 'agent.namespace takes a namespace name'),
    incoming: checkIncoming(c, network.incoming),
    copyTarget: checkCopyTarget(c, feature.copy_target),
    exec: checkExecConfig(c, top, feature, network, warn),
    warnings,
  };
}

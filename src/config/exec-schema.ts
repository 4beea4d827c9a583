/**
 * The parts of a mirrord-style config file that `exec` reads: `feature.env`, `feature.fs`,
 * `feature.network.dns`, `feature.network.outgoing` (their `filter`s: traffic-filter.ts),
 * `skip_processes` and `skip_build_tools`, with
 * mirrord's field names and meanings (research/layer.md, "Config schema"). Known mirrord fields that
 * kubectl-mirrord does not implement are accepted with a warning naming them, so an existing file
 * still works; unknown fields, wrong types and contradictions are errors (config-schema.ts's Checker).
 */
import { UsageError } from '../errors.ts';
import { checkTrafficFilter, type TrafficFilter } from './traffic-filter.ts';

/** `feature.env`. Lists keep mirrord's wildcard patterns (`*`, `?`) as written. */
export interface EnvConfig {
  /** `feature.env: false` (or the object form's absence of every remote variable). */
  enabled: boolean;
  include: string[] | undefined;
  exclude: string[] | undefined;
  override: Record<string, string>;
  unset: string[];
  envFile: string | undefined;
  /** Regex source (matched against variable names) → replacement value, in file order. */
  mapping: Array<[string, string]>;
}

export type FsMode = 'local' | 'read' | 'localwithoverrides';

/** `feature.fs`. Patterns are regex sources, matched case-insensitively as mirrord does. */
export interface FsConfig {
  mode: FsMode | undefined;
  readOnly: string[];
  local: string[];
  notFound: string[];
  /** Our own key `feature.fs.max_file_size` (bytes): a bigger remote file fails with EFBIG. */
  maxFileBytes: number | undefined;
}

export interface OutgoingConfig {
  tcp: boolean;
  udp: boolean;
  ignoreLocalhost: boolean;
  /** `feature.network.outgoing.filter` (traffic-filter.ts). */
  filter: TrafficFilter | undefined;
}

/** Everything exec takes from the file; each field undefined when the file does not say. */
export interface ExecFileConfig {
  env: EnvConfig | undefined;
  fs: FsConfig | undefined;
  dns: boolean | undefined;
  /** `feature.network.dns.filter` (traffic-filter.ts). */
  dnsFilter: TrafficFilter | undefined;
  outgoing: OutgoingConfig | undefined;
  skipProcesses: string[] | undefined;
  skipBuildTools: boolean | undefined;
}

/** The default size limit of a remote file (`feature.fs.max_file_size`). */
export const DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024;

type Obj = Record<string, unknown>;

/** What exec-schema needs from config-schema's Checker (declared here so no import goes back). */
export interface FieldChecker {
  readonly file: string;
  fail(field: string, problem: string, accepted: string): never;
  object(value: unknown, field: string, keys: readonly string[]): Obj;
  regex(value: unknown, field: string): string | undefined;
}

/** Fields of mirrord's schema that exist but do nothing here: accepted, with one warning each. */
export const UNSUPPORTED_TOP = ['accept_invalid_certificates', 'operator', 'kubeconfig', 'kube_context', 'internal_proxy', 'experimental', 'use_proxy', 'sip_binaries', 'skip_sip', 'skip_extra_build_tools', 'telemetry', 'pause', 'connect_tcp', 'external_proxy', 'container', 'ci', 'profile'] as const;
export const UNSUPPORTED_FEATURE = ['hostname', 'magic', 'split_queues', 'db_branches', 'preview'] as const;
export const UNSUPPORTED_NETWORK = ['ipv6'] as const;
const ENV_KEYS = ['include', 'exclude', 'override', 'unset', 'env_file', 'mapping', 'load_from_process'] as const;
const FS_KEYS = ['mode', 'read_only', 'local', 'not_found', 'readonly_file_buffer', 'max_file_size', 'read_write', 'mapping'] as const;
const DNS_KEYS = ['enabled', 'filter'] as const;
const OUTGOING_KEYS = ['tcp', 'udp', 'ignore_localhost', 'filter', 'unix_streams'] as const;
const FS_MODES = ['local', 'read', 'localwithoverrides'];

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : JSON.stringify(value);
}

function bool(c: FieldChecker, value: unknown, field: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') c.fail(field, `must be true or false, got ${describe(value)}`, `${field} takes true or false`);
  return value;
}

/** mirrord's "list or `;`-separated string" of names or patterns. */
function nameList(c: FieldChecker, value: unknown, field: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  const accepted = `${field} takes a list of names (wildcards * and ? allowed) or one "A;B" string`;
  const items = typeof value === 'string' ? value.split(';') : Array.isArray(value) ? value : c.fail(field, `must be a list or a string, got ${describe(value)}`, accepted);
  return items.map((item, i) => {
    if (typeof item !== 'string') c.fail(`${field}[${i}]`, `must be a string, got ${describe(item)}`, accepted);
    return item.trim();
  }).filter((item) => item !== '');
}

function regexList(c: FieldChecker, value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  const items = typeof value === 'string' ? [value] : Array.isArray(value) ? value : c.fail(field, `must be a list of regular expressions or one, got ${describe(value)}`, `${field} takes e.g. ["^/app/config/.*"]`);
  return items.map((item, i) => c.regex(item, `${field}[${i}]`) as string).filter((s) => s !== undefined);
}

function stringMap(c: FieldChecker, value: unknown, field: string, accepted: string): Array<[string, string]> {
  if (value === undefined || value === null) return [];
  if (typeof value !== 'object' || Array.isArray(value)) c.fail(field, `must be an object, got ${describe(value)}`, accepted);
  return Object.entries(value as Obj).map(([key, v]) => {
    if (typeof v !== 'string') c.fail(`${field}.${key}`, `must be a string, got ${describe(v)}`, accepted);
    return [key, v];
  });
}

function checkEnv(c: FieldChecker, value: unknown, warn: (text: string) => void): EnvConfig | undefined {
  const field = 'feature.env';
  const base: EnvConfig = { enabled: true, include: undefined, exclude: undefined, override: {}, unset: [], envFile: undefined, mapping: [] };
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'boolean') return { ...base, enabled: value };
  const obj = c.object(value, field, ENV_KEYS);
  const include = nameList(c, obj.include, `${field}.include`);
  const exclude = nameList(c, obj.exclude, `${field}.exclude`);
  if (include !== undefined && exclude !== undefined) {
    c.fail(`${field}.include`, `and ${field}.exclude are both given`, 'give one of them: include lists the only pod variables to take, exclude the ones to leave out');
  }
  if (obj.load_from_process !== undefined) warn(`${field}.load_from_process is not supported and is ignored: kubectl-mirrord always fetches the environment before the program starts`);
  const mapping = stringMap(c, obj.mapping, `${field}.mapping`, `${field}.mapping takes { "REGEX": "value" }, e.g. { ".+_TIMEOUT": "1000" }`);
  mapping.forEach(([pattern], i) => c.regex(pattern, `${field}.mapping key ${i + 1}`));
  const envFile = obj.env_file === undefined || obj.env_file === null ? undefined : typeof obj.env_file === 'string' && obj.env_file !== '' ? obj.env_file : c.fail(`${field}.env_file`, `must be a file path, got ${describe(obj.env_file)}`, `${field}.env_file takes the path of a .env file`);
  return {
    enabled: true,
    include,
    exclude,
    override: Object.fromEntries(stringMap(c, obj.override, `${field}.override`, `${field}.override takes { "NAME": "value" }`)),
    unset: nameList(c, obj.unset, `${field}.unset`) ?? [],
    envFile,
    mapping,
  };
}

function checkFs(c: FieldChecker, value: unknown, warn: (text: string) => void): FsConfig | undefined {
  const field = 'feature.fs';
  const accepted = `${field}.mode takes "read" (the default with a target), "local" or "localwithoverrides"`;
  if (value === undefined || value === null) return undefined;
  const empty: FsConfig = { mode: undefined, readOnly: [], local: [], notFound: [], maxFileBytes: undefined };
  const mode = (m: unknown, at: string): FsMode | undefined => {
    if (m === undefined || m === null) return undefined;
    if (m === true) return 'read';
    if (m === false) return 'local';
    if (m === 'write') {
      warn(`${at} "write" is not supported: files are read from the pod and written locally ("read")`);
      return 'read';
    }
    if (typeof m !== 'string' || !FS_MODES.includes(m)) c.fail(at, `is ${describe(m)}`, accepted);
    return m as FsMode;
  };
  if (typeof value !== 'object' || Array.isArray(value)) return { ...empty, mode: mode(value, field) };
  const obj = c.object(value, field, FS_KEYS);
  for (const key of ['read_write', 'mapping'] as const) {
    if (obj[key] !== undefined) warn(`${field}.${key} is not supported and is ignored: writes stay on this machine`);
  }
  if (obj.readonly_file_buffer !== undefined && (typeof obj.readonly_file_buffer !== 'number' || obj.readonly_file_buffer < 0)) {
    c.fail(`${field}.readonly_file_buffer`, `must be a number of bytes, got ${describe(obj.readonly_file_buffer)}`, 'it is accepted and ignored: a remote file is fetched whole');
  }
  let maxFileBytes: number | undefined;
  if (obj.max_file_size !== undefined) {
    const v = obj.max_file_size;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) c.fail(`${field}.max_file_size`, `must be a whole number of bytes, got ${describe(v)}`, `e.g. ${DEFAULT_MAX_FILE_BYTES} (64 MiB, the default)`);
    maxFileBytes = v;
  }
  return { mode: mode(obj.mode, `${field}.mode`), readOnly: regexList(c, obj.read_only, `${field}.read_only`), local: regexList(c, obj.local, `${field}.local`), notFound: regexList(c, obj.not_found, `${field}.not_found`), maxFileBytes };
}

function checkDns(c: FieldChecker, value: unknown, warn: (text: string) => void): { enabled: boolean | undefined; filter: TrafficFilter | undefined } {
  const field = 'feature.network.dns';
  if (value === undefined || value === null) return { enabled: undefined, filter: undefined };
  if (typeof value === 'boolean') return { enabled: value, filter: undefined };
  const obj = c.object(value, field, DNS_KEYS);
  return { enabled: bool(c, obj.enabled, `${field}.enabled`) ?? true, filter: checkTrafficFilter(c, obj.filter, `${field}.filter`, true, warn) };
}

function checkOutgoing(c: FieldChecker, value: unknown, warn: (text: string) => void): OutgoingConfig | undefined {
  const field = 'feature.network.outgoing';
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'boolean') return { tcp: value, udp: value, ignoreLocalhost: false, filter: undefined };
  const obj = c.object(value, field, OUTGOING_KEYS);
  if (obj.unix_streams !== undefined) warn(`${field}.unix_streams is not supported and is ignored: Unix sockets stay on this machine`);
  return {
    tcp: bool(c, obj.tcp, `${field}.tcp`) ?? true,
    udp: bool(c, obj.udp, `${field}.udp`) ?? true,
    ignoreLocalhost: bool(c, obj.ignore_localhost, `${field}.ignore_localhost`) ?? false,
    filter: checkTrafficFilter(c, obj.filter, `${field}.filter`, false, warn),
  };
}

function dnsFields(dns: ReturnType<typeof checkDns>): Pick<ExecFileConfig, 'dns' | 'dnsFilter'> {
  return { dns: dns.enabled, dnsFilter: dns.filter };
}

/**
 * Checks exec's fields of a config document.
 * @param top the top-level object, feature and network the checked sub-objects (or {}).
 * @param warn receives one line per known-but-unsupported field.
 * @throws UsageError ECONFIG naming the field and what is accepted.
 */
export function checkExecConfig(c: FieldChecker, top: Obj, feature: Obj, network: Obj, warn: (text: string) => void): ExecFileConfig {
  for (const key of UNSUPPORTED_TOP) if (top[key] !== undefined) warn(`${key} is a mirrord field kubectl-mirrord does not support; it is ignored`);
  for (const key of UNSUPPORTED_FEATURE) if (feature[key] !== undefined) warn(`feature.${key} is a mirrord field kubectl-mirrord does not support; it is ignored`);
  for (const key of UNSUPPORTED_NETWORK) if (network[key] !== undefined) warn(`feature.network.${key} is a mirrord field kubectl-mirrord does not support; it is ignored`);
  return {
    env: checkEnv(c, feature.env, warn),
    fs: checkFs(c, feature.fs, warn),
    ...dnsFields(checkDns(c, network.dns, warn)),
    outgoing: checkOutgoing(c, network.outgoing, warn),
    skipProcesses: nameList(c, top.skip_processes, 'skip_processes'),
    skipBuildTools: bool(c, top.skip_build_tools, 'skip_build_tools'),
  };
}

/** Keys exec adds to each level of the config (for config-schema's lists of accepted names). */
export const EXEC_TOP_KEYS = ['skip_processes', 'skip_build_tools', ...UNSUPPORTED_TOP] as const;
export const EXEC_FEATURE_KEYS = ['env', 'fs', ...UNSUPPORTED_FEATURE] as const;
export const EXEC_NETWORK_KEYS = ['dns', 'outgoing', ...UNSUPPORTED_NETWORK] as const;

/** For callers that reject a value after the file check (e.g. a flag contradicting the file). */
export function configError(file: string, field: string, problem: string, accepted: string): UsageError {
  return new UsageError('ECONFIG', `config file ${file}: ${field} ${problem}`, { hint: accepted });
}

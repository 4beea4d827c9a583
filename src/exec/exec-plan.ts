/**
 * `exec`'s flags and config file, validated into a plain, JSON-safe `ExecPlan` (the CLI hands it to
 * the exec proxy over a pipe). Flags override the file. Pure: every bad input is unit tested.
 */
import { UsageError } from '../errors.ts';
import type { FileConfig, HttpFilterConfig } from '../config/config-schema.ts';
import { DEFAULT_MAX_FILE_BYTES, type EnvConfig, type FsMode, type OutgoingConfig } from '../config/exec-schema.ts';
import type { TrafficFilter } from '../config/traffic-filter.ts';

/** The exec-only flags, exactly as commander hands them over. */
export interface RawExecFlags {
  envFile?: string;
  envInclude?: string[];
  envExclude?: string[];
  fsMode?: string;
  /** commander's negation: `--no-remote-dns` sets it false. */
  remoteDns?: boolean;
  outgoing?: boolean;
  remote?: string[];
  steal?: boolean;
}

export interface FsPlan {
  mode: FsMode;
  readOnly: string[];
  local: string[];
  notFound: string[];
  maxFileBytes: number;
}

/**
 * `feature.network.incoming` for exec (JSON-safe: pairs, not Maps). The ports are the program's
 * own: what it binds (listen_ports, ignore_ports, ports) and what it is mapped to in the pod.
 */
export interface IncomingPlan {
  mode: 'mirror' | 'steal' | 'off';
  /** [app port, pod port]: port_mapping. */
  portMapping: [number, number][];
  /** [app port, port really bound here]: listen_ports. */
  listenPorts: [number, number][];
  ignoreLocalhost: boolean;
  ignorePorts: number[];
  /** Only these app ports; undefined: every port. */
  ports: number[] | undefined;
  /** Only with mode steal. */
  httpFilter: HttpFilterConfig | undefined;
  /**
   * The user asked for incoming traffic (--steal, or feature.network.incoming in the file), rather
   * than getting mirror as the default: then a cluster that refuses it is an error, not a warning.
   */
  asked: boolean;
}

/** What exec does besides the agent: validated, flags over file. */
export interface ExecFeatures {
  incoming: IncomingPlan;
  env: EnvConfig;
  fs: FsPlan;
  dns: boolean;
  /** `feature.network.dns.filter`; undefined without one, or when DNS is not remote at all. */
  dnsFilter: TrafficFilter | undefined;
  outgoing: OutgoingConfig;
  skipProcesses: string[];
  skipBuildTools: boolean;
  /** Lines to print once, before the program runs (known-but-unsupported fields, ...). */
  warnings: string[];
}

/**
 * mirrord's skip_build_tools list (mirrord/layer/src/load.rs), plus package managers the issue
 * names: these programs never get remote files, DNS or traffic when skip_build_tools is on.
 */
export const BUILD_TOOLS: readonly string[] = [
  'as', 'cc', 'ld', 'go', 'air', 'asm', 'cc1', 'cgo', 'dlv', 'gcc', 'git', 'link', 'math', 'cargo', 'hpack', 'rustc',
  'compile', 'collect2', 'cargo-watch', 'debugserver', 'jspawnhelper', 'bazel-real', 'clang', 'npm', 'npx', 'yarn', 'pnpm', 'make',
];

const FS_MODES: readonly string[] = ['local', 'read', 'localwithoverrides'];

function splitList(values: string[] | undefined): string[] | undefined {
  if (values === undefined) return undefined;
  return values.flatMap((v) => v.split(';')).map((v) => v.trim()).filter((v) => v !== '');
}

function planEnv(flags: RawExecFlags, file: EnvConfig | undefined, targeted: boolean): EnvConfig {
  const env: EnvConfig = file ? { ...file } : { enabled: true, include: undefined, exclude: undefined, override: {}, unset: [], envFile: undefined, mapping: [] };
  const include = splitList(flags.envInclude);
  const exclude = splitList(flags.envExclude);
  if (include && exclude) {
    throw new UsageError('EENVFILTER', '-s/--env-include and -x/--env-exclude were both given', { hint: 'give one: -s lists the only pod variables to take, -x the ones to leave out' });
  }
  if (include) env.include = include;
  if (exclude) env.exclude = exclude;
  if (env.include && env.exclude) {
    const which = include ? '-s/--env-include' : '-x/--env-exclude';
    throw new UsageError('EENVFILTER', `${which} contradicts feature.env.${include ? 'exclude' : 'include'} in the config file`, { hint: 'include and exclude cannot be used together; drop one of them' });
  }
  if (flags.envFile !== undefined) env.envFile = flags.envFile;
  if (!targeted) env.enabled = false;
  return env;
}

function planFs(flags: RawExecFlags, config: FileConfig | undefined, targeted: boolean, warnings: string[]): FsPlan {
  const file = config?.exec.fs;
  if (flags.fsMode !== undefined && !FS_MODES.includes(flags.fsMode)) {
    throw new UsageError('EFSMODE', `invalid --fs-mode '${flags.fsMode}'`, { hint: '--fs-mode accepts read (the default with a target: mounts and /etc/resolv.conf from the pod), local, or localwithoverrides' });
  }
  let mode = (flags.fsMode as FsMode | undefined) ?? file?.mode ?? (targeted ? 'read' : 'local');
  if (!targeted && mode !== 'local') {
    if (flags.fsMode !== undefined) {
      throw new UsageError('ENOTARGET', `--fs-mode ${flags.fsMode} reads the target's files, and no --target was given`, { hint: 'add --target deployment/NAME, or drop --fs-mode' });
    }
    warnings.push(`feature.fs.mode "${mode}" needs a target; without one every file is local`);
    mode = 'local';
  }
  return {
    mode,
    readOnly: file?.readOnly ?? [],
    local: file?.local ?? [],
    notFound: file?.notFound ?? [],
    maxFileBytes: file?.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES,
  };
}

/** -R: exec subscribes the ports the program listens on itself. @throws UsageError EEXECINCOMING */
export function rejectIncoming(flags: RawExecFlags): void {
  if ((flags.remote?.length ?? 0) > 0) {
    throw new UsageError('EEXECINCOMING', '-R does not apply to exec: the ports the program listens on are subscribed by themselves', {
      hint: 'drop -R; feature.network.incoming.port_mapping maps a port of the program to another port of the pod, and --steal steals instead of mirroring',
    });
  }
}

/**
 * The incoming plan: mode from --steal over the file (mirror by default).
 * @throws UsageError ENOTARGET for --steal without a target.
 */
export function planIncoming(flags: RawExecFlags, config: FileConfig | undefined, targeted: boolean): IncomingPlan {
  const file = config?.incoming;
  if (flags.steal && !targeted) {
    throw new UsageError('ENOTARGET', '--steal takes the traffic of a target pod, and no --target was given', { hint: 'add --target deployment/NAME (kubectl mirrord ls lists them), or drop --steal' });
  }
  const mode = flags.steal ? 'steal' : file?.mode ?? 'mirror';
  return {
    mode,
    portMapping: file ? [...file.portMapping].map(([remote, local]) => [local, remote]) : [],
    listenPorts: file ? [...file.listenPorts] : [],
    ignoreLocalhost: file?.ignoreLocalhost ?? false,
    ignorePorts: file?.ignorePorts ?? [],
    ports: file?.ports,
    httpFilter: mode === 'steal' ? file?.httpFilter : undefined,
    asked: flags.steal === true || file !== undefined,
  };
}

/**
 * @param config the loaded config file, if any (its warnings are carried over).
 * @param targeted whether a target was given (flag or file).
 * @throws UsageError for -R, --steal without a target, contradicting env filters, a bad --fs-mode.
 */
export function planExecFeatures(flags: RawExecFlags, config: FileConfig | undefined, targeted: boolean): ExecFeatures {
  rejectIncoming(flags);
  const warnings = [...(config?.warnings ?? [])];
  const file = config?.exec;
  const outgoing = file?.outgoing ?? { tcp: true, udp: true, ignoreLocalhost: false, filter: undefined };
  const dns = flags.remoteDns === false ? false : file?.dns ?? true;
  if (!dns && file?.dnsFilter) warnings.push(`feature.network.dns.filter is ignored: ${flags.remoteDns === false ? '--no-remote-dns' : 'feature.network.dns false'} resolves every name on this machine`);
  return {
    incoming: planIncoming(flags, config, targeted),
    env: planEnv(flags, file?.env, targeted),
    fs: planFs(flags, config, targeted, warnings),
    dns,
    dnsFilter: dns ? file?.dnsFilter : undefined,
    outgoing: flags.outgoing === false ? { ...outgoing, tcp: false, udp: false } : outgoing,
    skipProcesses: file?.skipProcesses ?? [],
    skipBuildTools: file?.skipBuildTools ?? true,
    warnings,
  };
}

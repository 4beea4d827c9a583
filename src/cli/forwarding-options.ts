/**
 * The flags shared by `port-forward` and `socks`, and their validation into a plain `ForwardingPlan`
 * (no commander types past this file). Validation is pure, so every bad input is unit tested.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { isLoopbackAddress } from '../forward/address-spec.ts';
import type { ForwardSpec } from '../forward/forward-spec.ts';
import { parseBindAddress, parseForwardSpecs } from '../forward/forward-spec.ts';
import type { SocksCredentials, SocksListenSpec } from '../socks/socks-spec.ts';
import { parseSocksAuth, parseSocksSpec } from '../socks/socks-spec.ts';
import { parseDuration } from './duration.ts';
import { loadConfigFile } from '../config/config-file.ts';
import type { FileConfig } from '../config/config-schema.ts';
import { planTargeting, type Targeting } from './targeting-options.ts';
import { parsePullPolicy, parsePullSecrets, type AgentImagePull } from '../kube/agent-image.ts';

/** The environment variable that may carry `user:pass` for the SOCKS server. */
export const SOCKS_AUTH_ENV = 'KUBECTL_MIRRORD_SOCKS_AUTH';

/** Flags exactly as commander hands them over. */
export interface RawForwardingFlags {
  local?: string[];
  remote?: string[];
  socks?: string;
  socksAuth?: string;
  socksAuthFile?: string;
  socksAllowUnauthenticated?: boolean;
  insecureAgentLink?: boolean;
  address?: string;
  namespace?: string;
  agentNamespace?: string;
  agentImage?: string;
  agentImagePullPolicy?: string;
  agentImagePullSecret?: string[];
  agentIdleTimeout?: string;
  agentStartupTimeout?: string;
  kubeconfig?: string;
  context?: string;
  exitOnDisconnect?: boolean;
  verbose?: boolean;
  target?: string;
  steal?: boolean;
  configFile?: string;
  agentMode?: string;
  udpIdleTimeout?: string;
  copyTarget?: boolean;
  scaleDown?: boolean;
}

/** Everything a forwarding run needs, validated. */
export interface ForwardingPlan {
  forwards: ForwardSpec[];
  socks: SocksListenSpec | undefined;
  socksAuth: SocksCredentials | undefined;
  /** --insecure-agent-link: an http:// API server may carry the agent link (and its token) in clear. */
  insecureAgentLink: boolean;
  /** Bind address of the -L listeners (and of --socks when it names none). */
  bindAddress: string;
  /** Set when the listeners are reachable from other machines: the CLI prints it as a warning. */
  exposedWarning: string | undefined;
  kubeconfigPath: string | undefined;
  context: string | undefined;
  /** Undefined: the kubeconfig context's namespace. With a target: the target's namespace. */
  namespace: string | undefined;
  /** The target, its agent and -R; undefined for the targetless agent. */
  targeting: Targeting | undefined;
  agentImage: string | undefined;
  /** --agent-image-pull-policy / -secret, else agent.image_pull_policy / _secrets. */
  agentImagePull: AgentImagePull;
  agentIdleTimeoutMs: number;
  agentStartupTimeoutMs: number;
  exitOnDisconnect: boolean;
  verbose: boolean;
  /** A UDP peer's datagram stream (-L /udp, SOCKS UDP ASSOCIATE) ends after this long idle, ms. */
  udpIdleTimeoutMs: number;
}

export const DEFAULT_AGENT_IDLE_TIMEOUT_MS = 60_000;
export const DEFAULT_AGENT_STARTUP_TIMEOUT_MS = 60_000;
/** RFC 4787 REQ-5 (UDP mappings live at least 2 minutes) and Linux conntrack's 120 s UDP stream timeout. */
export const DEFAULT_UDP_IDLE_TIMEOUT_MS = 120_000;

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Adds the cluster and agent flags both forwarding commands share. */
export function addClusterFlags(command: Command): Command {
  return command
    .option('-n, --namespace <namespace>', "namespace for the agent (default: the kubeconfig context's)")
    .option('-a, --agent-namespace <namespace>', 'same as --namespace (mirrord spelling)')
    .option('--address <ip>', 'bind address for local listeners; non-loopback addresses are exposed to your network', '127.0.0.1')
    .option('--socks-auth <user:pass>', `require SOCKS5 username/password; other users of this machine see it in ps, so prefer ${SOCKS_AUTH_ENV} or --socks-auth-file`)
    .option('--socks-auth-file <path>', 'read the SOCKS5 user:pass from this file (its first line)')
    .option('--socks-allow-unauthenticated', 'let --socks listen on a non-loopback address without --socks-auth (an open proxy into the cluster)')
    .option('--insecure-agent-link', "allow an http:// API server for the agent link, which then carries the session token in clear")
    .option('--agent-image <image>', 'agent container image (default: pinned to this CLI version)')
    .option('--agent-image-pull-policy <policy>', "agent image pull policy: Always, IfNotPresent or Never (default: the cluster's)")
    .option('--agent-image-pull-secret <name>', 'a Secret the agent pod pulls its image with (repeatable)', collect)
    .option('--agent-idle-timeout <duration>', 'agent exits after this long with no client (e.g. 60s)', '60s')
    .option('--agent-startup-timeout <duration>', 'give up if the agent is not ready after this long', '60s')
    .option('--udp-idle-timeout <duration>', 'a UDP peer (-L .../udp, SOCKS UDP) with no datagram for this long loses its stream', '120s')
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG or ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context (default: the current context)')
    .option('-t, --target <KIND/NAME>', 'run the agent in this pod: pod/NAME, deployment/NAME, statefulset/NAME, replicaset/NAME, job/NAME [/container/NAME]')
    .option('--agent-mode <mode>', 'targeted agent: auto (ephemeral container, else a Job), ephemeral, or job (on the target\'s node)', 'auto')
    .option('--copy-target', "run against a new copy of the target's pod, without probes (feature.copy_target)")
    .option('--scale-down', 'with a copy, scale the target workload to 0 until exit (feature.copy_target.scale_down; implies --copy-target)')
    .option('-f, --config-file <path>', 'mirrord-style config (JSON or YAML): target, agent.image, agent.image_pull_policy, agent.image_pull_secrets, agent.namespace, feature.network.incoming')
    .option('--exit-on-disconnect', `exit with code 7 when the agent connection drops instead of reconnecting`)
    .option('-v, --verbose', 'name the Node runtime, log every connection, and print stack traces on errors');
}

/** `-L` and `-R` as commander options (repeatable). `stealHelp`: what --steal means for the command (exec's differs). */
export function addForwardFlags(command: Command, stealHelp = '-R takes the traffic (the local app answers) instead of mirroring a copy'): Command {
  return command
    .option('-L, --local <[local_port:]host:port[/udp]>', 'forward a local TCP (or /udp) port to host:port as the cluster sees it (repeatable)', collect)
    .option('-R, --remote <remote_port[:local_port]>', "send the target pod's traffic on remote_port to 127.0.0.1:local_port (repeatable; mirror unless --steal)", collect)
    .option('--steal', stealHelp)
    .option('--socks <[addr:]port>', 'also run a SOCKS5 server here');
}

function namespaceOf(flags: RawForwardingFlags, configAgentNamespace: string | undefined): string | undefined {
  const { namespace, agentNamespace } = flags;
  if (namespace !== undefined && agentNamespace !== undefined && namespace !== agentNamespace) {
    throw new UsageError('ENAMESPACECONFLICT', `-n/--namespace '${namespace}' and -a/--agent-namespace '${agentNamespace}' disagree`, {
      hint: 'give one of them, or the same namespace to both',
    });
  }
  return namespace ?? agentNamespace ?? configAgentNamespace;
}

export interface PlanOptions {
  /** The config file, already loaded (exec reads more of it); else loaded from flags.configFile. */
  config?: FileConfig;
  /** exec: -L, -R and --socks are extras, not the point. */
  allowNothingToForward?: boolean;
}

/**
 * The SOCKS credentials from --socks-auth, else --socks-auth-file (its first line), else
 * KUBECTL_MIRRORD_SOCKS_AUTH. The flag and the file together are refused: one of them would be ignored.
 * @throws UsageError ESOCKSAUTH naming where the bad value came from.
 */
function socksCredentials(flags: RawForwardingFlags, env: Record<string, string | undefined>): SocksCredentials | undefined {
  if (flags.socksAuth !== undefined && flags.socksAuthFile !== undefined) {
    throw new UsageError('ESOCKSAUTH', '--socks-auth and --socks-auth-file were both given', { hint: 'give one of them' });
  }
  if (flags.socksAuth !== undefined) return parseSocksAuth(flags.socksAuth, '--socks-auth');
  if (flags.socksAuthFile !== undefined) {
    const source = `--socks-auth-file ${flags.socksAuthFile}`;
    let text: string;
    try {
      text = readFileSync(flags.socksAuthFile, 'utf8');
    } catch (err) {
      throw new UsageError('ESOCKSAUTH', `cannot read ${source}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
        hint: 'give a readable file holding user:password on its first line',
      });
    }
    return parseSocksAuth(text.split(/\r?\n/)[0], source);
  }
  const fromEnv = env[SOCKS_AUTH_ENV];
  return fromEnv === undefined || fromEnv === '' ? undefined : parseSocksAuth(fromEnv, SOCKS_AUTH_ENV);
}

/**
 * Validates the flags. `env` is passed in (not read from `process.env`) so tests can vary it.
 * @param socksFlag how the SOCKS listen spec was given, for messages (`socks` takes it positionally).
 * @throws UsageError for any bad flag, naming it and what would be accepted.
 */
export function planForwarding(flags: RawForwardingFlags, env: Record<string, string | undefined>, socksFlag = '--socks', options: PlanOptions = {}): ForwardingPlan {
  const config = options.config ?? (flags.configFile === undefined ? undefined : loadConfigFile(flags.configFile));
  const targeting = planTargeting(flags, config);
  const forwards = parseForwardSpecs(flags.local ?? []);
  const bindAddress = parseBindAddress(flags.address ?? '127.0.0.1');
  const socks = flags.socks === undefined ? undefined : parseSocksSpec(flags.socks, bindAddress, socksFlag);
  if (!options.allowNothingToForward && forwards.length === 0 && socks === undefined && (targeting?.reverse.length ?? 0) === 0) {
    throw new UsageError('ENOFORWARD', 'nothing to forward: give at least one -L, -R or --socks', {
      hint: 'e.g. kubectl mirrord port-forward -L 8080:my-service:80 --socks 1080, or --target deployment/web -R 80:8080',
    });
  }
  const socksAuth = socksCredentials(flags, env);
  if ((flags.socksAuth !== undefined || flags.socksAuthFile !== undefined) && socks === undefined) {
    const flag = flags.socksAuth !== undefined ? '--socks-auth' : '--socks-auth-file';
    throw new UsageError('ESOCKSAUTH', `${flag} was given without --socks`, { hint: 'add --socks [addr:]port' });
  }
  if (socks && !isLoopbackAddress(socks.address) && socksAuth === undefined && flags.socksAllowUnauthenticated !== true) {
    throw new UsageError('ESOCKSOPEN', `${socksFlag} ${socks.text} listens on ${socks.address}, which other machines can reach, without authentication: it would be an open proxy into the cluster`, {
      hint: `set ${SOCKS_AUTH_ENV}=user:pass (or --socks-auth-file <path>), listen on 127.0.0.1, or add --socks-allow-unauthenticated`,
    });
  }
  const exposed = [...(forwards.length > 0 ? [bindAddress] : []), ...(socks ? [socks.address] : [])].filter((a) => !isLoopbackAddress(a));
  return {
    forwards,
    socks,
    socksAuth,
    insecureAgentLink: flags.insecureAgentLink === true,
    bindAddress,
    exposedWarning: exposed.length > 0 ? `listening on ${[...new Set(exposed)].join(', ')}: other machines on your network can reach the cluster through it` : undefined,
    kubeconfigPath: flags.kubeconfig,
    context: flags.context,
    namespace: targeting ? targeting.namespace : namespaceOf(flags, config?.agentNamespace),
    targeting,
    agentImage: flags.agentImage ?? config?.agentImage,
    agentImagePull: {
      policy: flags.agentImagePullPolicy !== undefined ? parsePullPolicy(flags.agentImagePullPolicy, '--agent-image-pull-policy') : config?.agentImagePullPolicy,
      secrets: flags.agentImagePullSecret !== undefined ? parsePullSecrets(flags.agentImagePullSecret, '--agent-image-pull-secret') : config?.agentImagePullSecrets ?? [],
    },
    agentIdleTimeoutMs: parseDuration(flags.agentIdleTimeout ?? '60s', '--agent-idle-timeout'),
    agentStartupTimeoutMs: parseDuration(flags.agentStartupTimeout ?? '60s', '--agent-startup-timeout'),
    exitOnDisconnect: flags.exitOnDisconnect === true,
    verbose: flags.verbose === true,
    udpIdleTimeoutMs: parseDuration(flags.udpIdleTimeout ?? '120s', '--udp-idle-timeout'),
  };
}

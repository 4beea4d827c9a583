/**
 * HELLO_OK: the configuration each process that loads the layer receives. Path rules are anchored
 * POSIX extended regexes (the layer compiles them with regcomp); the layer tries not_found, then
 * local, then remote, and anything else stays local.
 *
 * Remote by default (with a target, fs mode read or localwithoverrides): the target container's
 * volume mounts (as mirrord's feature.magic.auto_mount adds them), /etc/resolv.conf, /etc/hosts and
 * /etc/hostname, plus the user's read_only patterns. mirrord's long local-by-default list is
 * unnecessary here because a path is local unless a rule makes it remote.
 */
import { isIP } from 'node:net';
import { basename } from 'node:path';
import { ipv6ToBytes } from '../protocol/address.ts';
import { LayerFamily, LayerFilterKind, LayerFilterProto, LayerFilterSide, LayerFlag, LayerFsMode, type LayerMessageBody } from '../protocol/layer-messages.ts';
import type { FilterEntry, TrafficFilter } from '../config/traffic-filter.ts';
import { BUILD_TOOLS, type ExecFeatures } from './exec-plan.ts';

/** How long the layer waits for CONNECT_OK: the agent's connect, or a reconnect held up to 60 s. */
export const CONNECT_TIMEOUT_MS = 75_000;

export const DEFAULT_REMOTE_FILES: readonly string[] = ['/etc/resolv.conf', '/etc/hosts', '/etc/hostname'];

/** A literal path as an ERE that matches it and, with `tree`, everything under it. */
export function pathPattern(path: string, tree: boolean): string {
  const trimmed = path.length > 1 ? path.replace(/\/+$/, '') : path;
  const literal = trimmed.replace(/[.[\]\\()*+?{}|^$]/g, '\\$&');
  return tree ? `^${literal}(/.*)?$` : `^${literal}$`;
}

/** The remote rules for a target whose container mounts `mounts` (mountPath values). */
export function remotePatterns(features: ExecFeatures, mounts: readonly string[]): string[] {
  return [
    ...mounts.filter((m) => m.startsWith('/') && m !== '/').map((m) => pathPattern(m, true)),
    ...DEFAULT_REMOTE_FILES.map((f) => pathPattern(f, false)),
    ...features.fs.readOnly,
  ];
}

/** Whether a process is one the layer must leave alone (skip_processes, skip_build_tools). */
export function isSkipped(features: ExecFeatures, exe: string, argv0: string): boolean {
  const names = new Set([basename(exe), basename(argv0)]);
  if (features.skipProcesses.some((p) => names.has(p) || names.has(basename(p)))) return true;
  return features.skipBuildTools && BUILD_TOOLS.some((t) => names.has(t));
}

type NetFilterItem = LayerMessageBody<'helloOk'>['outgoing_filter'][number];

/** One checked filter entry as the layer reads it (traffic-filter.ts made sure it is valid). */
export function netFilterItem(e: FilterEntry): NetFilterItem {
  const item: NetFilterItem = { kind: LayerFilterKind[e.kind], proto: LayerFilterProto[e.protocol], family: 0, addr: new Uint8Array(0), prefix: 0, port: e.port, name: '' };
  if (e.kind === 'name') item.name = e.name;
  if (e.kind === 'address' || e.kind === 'subnet') {
    const v4 = isIP(e.address) === 4;
    item.family = v4 ? LayerFamily.ipv4 : LayerFamily.ipv6;
    item.addr = v4 ? Uint8Array.from(e.address.split('.').map(Number)) : ipv6ToBytes(e.address);
    item.prefix = e.kind === 'subnet' ? e.prefix : v4 ? 32 : 128;
  }
  return item;
}

function filterSide(filter: TrafficFilter | undefined): LayerFilterSide {
  return filter === undefined ? LayerFilterSide.none : LayerFilterSide[filter.side];
}

export interface HelloContext {
  features: ExecFeatures;
  /** The target's mounts; undefined without a target (then no remote files at all). */
  mounts: readonly string[] | undefined;
}

export function helloOk(ctx: HelloContext, exe: string, argv0: string): LayerMessageBody<'helloOk'> {
  const { features } = ctx;
  const remoteFs = ctx.mounts !== undefined && features.fs.mode !== 'local';
  let flags = 0;
  if (remoteFs) flags |= LayerFlag.remoteFs;
  if (features.dns) flags |= LayerFlag.remoteDns;
  if (features.outgoing.tcp) flags |= LayerFlag.outgoingTcp;
  if (features.outgoing.udp) flags |= LayerFlag.outgoingUdp;
  if (features.outgoing.ignoreLocalhost) flags |= LayerFlag.outgoingIgnoreLocalhost;
  if (features.incoming.mode !== 'off') flags |= LayerFlag.incoming;
  if (isSkipped(features, exe, argv0)) flags |= LayerFlag.skip;
  const mode = !remoteFs ? LayerFsMode.local : features.fs.mode === 'localwithoverrides' ? LayerFsMode.localWithOverrides : LayerFsMode.read;
  const list = (patterns: readonly string[]) => patterns.map((pattern) => ({ pattern }));
  return {
    flags,
    fs_mode: mode,
    max_file_bytes: BigInt(features.fs.maxFileBytes),
    remote_paths: list(remoteFs ? remotePatterns(features, ctx.mounts ?? []) : []),
    local_paths: list(features.fs.local),
    not_found_paths: list(features.fs.notFound),
    connect_timeout_ms: CONNECT_TIMEOUT_MS,
    outgoing_filter_side: filterSide(features.outgoing.filter),
    outgoing_filter: (features.outgoing.filter?.entries ?? []).map(netFilterItem),
    dns_filter_side: filterSide(features.dnsFilter),
    dns_filter: (features.dnsFilter?.entries ?? []).map(netFilterItem),
  };
}

/**
 * Removes everything any sandbox node ever put on the host, from what the host itself shows (no
 * in-memory state), so it works after a crash and is idempotent: processes in `kmsb-` network
 * namespaces, the namespaces, `kmsb*` links, `KMSB-` iptables chains and the jumps to them, the
 * bridge's routes/rule/sysctls, the containers' cgroups, and registered state directories.
 */
import { readdir, readFile, readlink, rm, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { sh } from './sh.ts';
import { CGROUP_PARENT, cgroupHierarchy, removeCgroupTree } from './container-cgroup.ts';
import { removeExecBlockCgroup } from './exec-block.ts';
import { teardownHostNetwork } from './host-network.ts';
import { CHAIN_PREFIX, NETNS_PREFIX, RUN_DIR } from './network-constants.ts';

const STATE_DIRS = `${RUN_DIR}/state-dirs`;

/** Remembers a node state directory so a later cleanup (even after a crash) removes it. */
export async function registerStateDir(dir: string): Promise<void> {
  await mkdir(RUN_DIR, { recursive: true });
  const known = await registeredStateDirs();
  if (!known.includes(dir)) await writeFile(STATE_DIRS, [...known, dir].join('\n') + '\n');
}

async function registeredStateDirs(): Promise<string[]> {
  const text = await readFile(STATE_DIRS, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean);
}

async function sandboxNetnses(): Promise<string[]> {
  const out = await sh('ip', ['netns', 'list'], { allowFail: true });
  return out.split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith(NETNS_PREFIX));
}

async function killNetnsProcesses(netns: string): Promise<void> {
  for (let round = 0; round < 20; round++) {
    const pids = (await sh('ip', ['netns', 'pids', netns], { allowFail: true })).split('\n').filter(Boolean).map(Number);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The iptables-restore script that removes every KMSB- chain of `table` and every jump to one. */
export function iptablesCleanupScript(table: string, saved: string): string | undefined {
  const lines: string[] = [];
  const chains: string[] = [];
  let inTable = false;
  for (const line of saved.split('\n')) {
    if (line.startsWith('*')) inTable = line === `*${table}`;
    if (!inTable) continue;
    if (line.startsWith(`:${CHAIN_PREFIX}`)) chains.push(line.slice(1).split(' ')[0]);
    else if (line.startsWith('-A ') && !line.startsWith(`-A ${CHAIN_PREFIX}`) && line.includes(` -j ${CHAIN_PREFIX}`)) lines.push(`-D ${line.slice(3)}`);
  }
  if (chains.length === 0 && lines.length === 0) return undefined;
  return [`*${table}`, ...lines, ...chains.map((c) => `-F ${c}`), ...chains.map((c) => `-X ${c}`), 'COMMIT', ''].join('\n');
}

async function cleanupIptables(): Promise<void> {
  // IPv6 too: the exec block (exec-block.ts) has an ip6tables chain.
  for (const tool of ['iptables', 'ip6tables']) {
    const saved = await sh(`${tool}-save`, [], { allowFail: true });
    for (const table of ['nat', 'filter', 'mangle', 'raw']) {
      const script = iptablesCleanupScript(table, saved);
      if (script) await sh(`${tool}-restore`, ['--noflush'], { input: script });
    }
  }
}

/**
 * Kills every process whose root directory (its container's chroot) lies in one of `dirs`: this
 * finds containers that no pod network namespace holds (hostNetwork pods).
 */
async function killContainersUnder(dirs: string[]): Promise<void> {
  if (dirs.length === 0) return;
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const root = await readlink(`/proc/${entry}/root`).catch(() => '');
    if (dirs.some((d) => root.startsWith(`${d}/`))) {
      try { process.kill(Number(entry), 'SIGKILL'); } catch { /* already gone */ }
    }
  }
}

/** See the file comment. Safe to call at any time, any number of times. */
export async function cleanupHost(): Promise<void> {
  const netnses = await sandboxNetnses();
  await Promise.all(netnses.map(killNetnsProcesses));
  await killContainersUnder(await registeredStateDirs());
  for (const netns of netnses) await sh('ip', ['netns', 'del', netns], { allowFail: true });
  const links = await sh('ip', ['-o', 'link', 'show'], { allowFail: true });
  for (const m of links.matchAll(/^\d+: (kmsb[^:@]*)[:@]/gm)) await sh('ip', ['link', 'del', m[1]], { allowFail: true });
  await cleanupIptables();
  await teardownHostNetwork();
  const hierarchy = cgroupHierarchy();
  if (hierarchy) removeCgroupTree(join(hierarchy, CGROUP_PARENT));
  removeExecBlockCgroup();
  for (const dir of await registeredStateDirs()) await rm(dir, { recursive: true, force: true });
  await rm(STATE_DIRS, { force: true });
}

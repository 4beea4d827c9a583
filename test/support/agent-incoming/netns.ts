/**
 * Test support for the incoming-traffic tests (root only): a network namespace playing the pod,
 * joined to the host by a veth pair on a /30 inside 10.250.0.0/16, with an `unreachable
 * 10.250.0.0/16` route in the host namespace as a backstop so that no misconfiguration can send
 * those packets to the real network. The pair is dual-stack, as a pod is: a /64 inside the unique
 * local range fd00:250::/32 (RFC 4193), with its own unreachable backstop. Processes run inside it
 * with `ip netns exec`.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';

export const BACKSTOP = '10.250.0.0/16';
export const BACKSTOP6 = 'fd00:250::/32';
const PREFIX = 'kmrd-t-';

export function run(cmd: string, args: string[], options: { allowFail?: boolean } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      if (code !== 0 && !options.allowFail) reject(new Error(`${cmd} ${args.join(' ')} failed (${code}): ${stderr.trim()}`));
      else resolve({ code, stdout, stderr });
    });
  });
}

export const isRoot = process.getuid?.() === 0;

/** A namespace that plays the pod. */
export class PodNetns {
  readonly name: string;
  readonly hostIp: string;
  readonly podIp: string;
  readonly hostIp6: string;
  readonly podIp6: string;
  readonly #hostVeth: string;
  readonly #children = new Set<ChildProcess>();

  private constructor(name: string, hostVeth: string, hostIp: string, podIp: string, net6: string) {
    this.name = name;
    this.#hostVeth = hostVeth;
    this.hostIp = hostIp;
    this.podIp = podIp;
    this.hostIp6 = `${net6}::1`;
    this.podIp6 = `${net6}::2`;
  }

  static async create(): Promise<PodNetns> {
    await run('ip', ['route', 'add', 'unreachable', BACKSTOP, 'metric', '9999'], { allowFail: true });
    await run('ip', ['-6', 'route', 'add', 'unreachable', BACKSTOP6, 'metric', '9999'], { allowFail: true });
    const tag = randomBytes(3).toString('hex');
    const base = randomInt(0, 64) * 4;
    const third = randomInt(1, 255);
    // Never a 0 group: the kernel (and so every address the tests read back) writes fd00:250:d4:0::2
    // as fd00:250:d4::2, and this string is compared with those.
    const net6 = `fd00:250:${third.toString(16)}:${(base / 4 + 1).toString(16)}`;
    const ns = new PodNetns(`${PREFIX}${tag}`, `kt${tag}h`, `10.250.${third}.${base + 1}`, `10.250.${third}.${base + 2}`, net6);
    const podVeth = `kt${tag}p`;
    await run('ip', ['netns', 'add', ns.name]);
    try {
      await run('ip', ['link', 'add', ns.#hostVeth, 'type', 'veth', 'peer', 'name', podVeth]);
      await run('ip', ['link', 'set', podVeth, 'netns', ns.name]);
      await run('ip', ['addr', 'add', `${ns.hostIp}/30`, 'dev', ns.#hostVeth]);
      // nodad: usable at once, not after duplicate address detection (there is nobody else on the pair).
      await run('ip', ['-6', 'addr', 'add', `${ns.hostIp6}/64`, 'dev', ns.#hostVeth, 'nodad']);
      await run('ip', ['link', 'set', ns.#hostVeth, 'up']);
      await ns.exec('ip', ['link', 'set', 'lo', 'up']);
      await ns.exec('ip', ['addr', 'add', `${ns.podIp}/30`, 'dev', podVeth]);
      await ns.exec('ip', ['-6', 'addr', 'add', `${ns.podIp6}/64`, 'dev', podVeth, 'nodad']);
      await ns.exec('ip', ['link', 'set', podVeth, 'up']);
    } catch (err) {
      await ns.destroy();
      throw err;
    }
    return ns;
  }

  /** Runs a command inside the namespace to completion. */
  exec(cmd: string, args: string[], options: { allowFail?: boolean } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], options);
  }

  /** `iptables-save -t nat` inside the namespace. */
  async natRules(): Promise<string> {
    return (await this.exec('iptables-save', ['-t', 'nat'])).stdout;
  }

  /** `iptables-save -t filter` inside the namespace. */
  async filterRules(): Promise<string> {
    return (await this.exec('iptables-save', ['-t', 'filter'])).stdout;
  }

  /** `ip6tables-save -t nat` and `-t filter` inside the namespace, one after the other. */
  async rules6(): Promise<string> {
    return `${(await this.exec('ip6tables-save', ['-t', 'nat'])).stdout}\n${(await this.exec('ip6tables-save', ['-t', 'filter'])).stdout}`;
  }

  /** The names of the namespace's ipsets. */
  async ipsets(): Promise<string[]> {
    return (await this.exec('ipset', ['list', '-n'])).stdout.split('\n').filter(Boolean);
  }

  /**
   * Starts a long-running process inside the namespace (`ip netns exec` execs it, so the child's
   * pid is the process's own) and resolves with it and its first stdout line parsed as JSON.
   */
  async start(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; ready: any; stderr: () => string }> {
    const child = spawn('ip', ['netns', 'exec', this.name, cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env },
    });
    this.#children.add(child);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    const lines = createInterface({ input: child.stdout! });
    const ready = await new Promise((resolve, reject) => {
      lines.once('line', (line) => { try { resolve(JSON.parse(line)); } catch (err) { reject(err); } });
      child.once('exit', (code) => reject(new Error(`${cmd} exited with ${code} before it was ready: ${stderr}`)));
    });
    return { child, ready, stderr: () => stderr };
  }

  /** Kills every process it started, then deletes the namespace (and with it the veth pair). */
  async destroy(): Promise<void> {
    for (const child of this.#children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    // Guards are detached from the agent: kill any process still inside the namespace.
    const pids = (await run('ip', ['netns', 'pids', this.name], { allowFail: true })).stdout.split('\n').filter(Boolean);
    for (const pid of pids) {
      try { process.kill(Number(pid), 'SIGKILL'); } catch { /* already gone */ }
    }
    await run('ip', ['link', 'del', this.#hostVeth], { allowFail: true });
    await run('ip', ['netns', 'del', this.name], { allowFail: true });
    const others = readdirSync('/run/netns').filter((n) => n.startsWith(PREFIX));
    if (others.length === 0) {
      await run('ip', ['route', 'del', 'unreachable', BACKSTOP, 'metric', '9999'], { allowFail: true });
      await run('ip', ['-6', 'route', 'del', 'unreachable', BACKSTOP6, 'metric', '9999'], { allowFail: true });
    }
  }
}

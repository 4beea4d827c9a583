/**
 * End-to-end support: runs the real CLI (bin/kubectl-mirrord, through kubectl's plugin mechanism
 * when asked) as a child process against the sandbox, and reads what it prints.
 */
import { spawn, execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(REPO, 'bin');
const run = promisify(execFile);

export interface CliProcess {
  child: ChildProcess;
  /** Everything printed on stderr so far. */
  output(): string;
  /** Resolves with the first match of `pattern` in stderr, or rejects after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  /** Sends SIGINT (Ctrl-C) and waits for the exit. */
  interrupt(): Promise<number | string>;
}

/** Starts `kubectl mirrord <args>` with the sandbox's kubeconfig. */
export function startCli(args: string[], kubeconfig: string, env: Record<string, string> = {}): CliProcess {
  return startCliCommand(['kubectl', 'mirrord'], args, kubeconfig, env);
}

/**
 * Starts the CLI through `command` (e.g. `[node, bundle]`, the CLI as it ships) with `args` and the
 * sandbox's kubeconfig.
 */
export function startCliCommand(command: string[], args: string[], kubeconfig: string, env: Record<string, string> = {}): CliProcess {
  const child = spawn(command[0], [...command.slice(1), ...args], {
    env: { ...process.env, PATH: `${BIN}:${process.env.PATH}`, KUBECONFIG: kubeconfig, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const listeners = new Set<() => void>();
  const onOutput = (chunk: Buffer) => {
    stderr += chunk.toString();
    for (const l of listeners) l();
  };
  child.stderr?.on('data', onOutput);
  child.stdout?.on('data', onOutput);
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const waitFor = (pattern: RegExp, timeoutMs = 30_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const m = stderr.match(pattern);
        if (m) {
          listeners.delete(check);
          clearTimeout(timer);
          resolve(m);
        }
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`timed out waiting for ${pattern} in CLI output:\n${stderr}`));
      }, timeoutMs);
      listeners.add(check);
      void exited.then(() => setTimeout(() => {
        if (listeners.has(check)) {
          listeners.delete(check);
          clearTimeout(timer);
          reject(new Error(`the CLI exited before printing ${pattern}:\n${stderr}`));
        }
      }, 50));
      check();
    });
  return {
    child,
    output: () => stderr,
    waitFor,
    exited,
    interrupt: async () => {
      child.kill('SIGINT');
      return await exited;
    },
  };
}

/** Runs the CLI to completion; resolves with its exit code and output. */
export async function runCli(args: string[], kubeconfig: string, env: Record<string, string> = {}): Promise<{ code: number | string; output: string }> {
  const cli = startCli(args, kubeconfig, env);
  const code = await cli.exited;
  return { code, output: cli.output() };
}

/**
 * What `kubectl mirrord status --json` printed (stdout and stderr are one stream here: warnings
 * may come before it): `{ sessions: [...], scaledDown: [...] }`.
 */
export function parseStatusJson(output: string): { sessions: any[]; scaledDown: any[] } {
  const at = output.indexOf('{\n  "sessions"');
  if (at < 0) throw new Error(`no status JSON in:\n${output}`);
  return JSON.parse(output.slice(at));
}

/** The local port the summary shows for a -L destination or for SOCKS5. */
export function summaryPort(output: string, what: string): number {
  const line = output.split('\n').find((l) => l.includes(what) && /127\.0\.0\.1:\d+/.test(l));
  if (!line) throw new Error(`no summary line for ${what} in:\n${output}`);
  return Number((line.match(/127\.0\.0\.1:(\d+)/) as RegExpMatchArray)[1]);
}

/** kubectl against the sandbox, JSON output parsed. */
export async function kubectlJson(kubeconfig: string, args: string[]): Promise<any> {
  const { stdout } = await run('kubectl', [...args, '-o', 'json'], { env: { ...process.env, KUBECONFIG: kubeconfig } });
  return JSON.parse(stdout);
}

export async function kubectl(kubeconfig: string, args: string[]): Promise<string> {
  const { stdout } = await run('kubectl', args, { env: { ...process.env, KUBECONFIG: kubeconfig } });
  return stdout;
}

/** Agent pods of one CLI run, by the pod name the CLI printed. */
export async function agentPods(kubeconfig: string, namespace = 'default'): Promise<any[]> {
  const list = await kubectlJson(kubeconfig, ['get', 'pods', '-n', namespace, '-l', 'app.kubernetes.io/name=kubectl-mirrord-agent']);
  return list.items;
}

/**
 * The host pid of an agent pod's process: the pod spec carries MIRRORD_AGENT_TOKEN_SHA256, unique per
 * agent, and the sandbox runs the container as a host process with that environment.
 */
export async function agentPid(kubeconfig: string, podName: string, namespace = 'default'): Promise<number> {
  const pod = await kubectlJson(kubeconfig, ['get', 'pod', podName, '-n', namespace]);
  const env = pod.spec.containers[0].env as Array<{ name: string; value: string }>;
  const marker = `MIRRORD_AGENT_TOKEN_SHA256=${env.find((e) => e.name === 'MIRRORD_AGENT_TOKEN_SHA256')?.value}`;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (environ.includes(marker) && /agent\/main\.ts|agent\.mjs/.test(cmdline)) return Number(entry);
    } catch {
      // processes come and go
    }
  }
  throw new Error(`no process found for agent pod ${podName}`);
}

export async function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('curl', ['-sS', '--max-time', '15', ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** The nat table of a sandbox pod, read in its network namespace (the sandbox names it kmsb-<pod uid>). */
export async function podNat(uid: string, families: 'ipv4' | 'both' = 'ipv4'): Promise<string> {
  const { stdout } = await run('ip', ['netns', 'exec', `kmsb-${uid}`, 'iptables-save', '-t', 'nat']);
  if (families === 'ipv4') return stdout;
  // The agent redirects IPv6 too (ip6tables): "nothing left" must look at both tables.
  const v6 = await run('ip', ['netns', 'exec', `kmsb-${uid}`, 'ip6tables-save', '-t', 'nat']);
  return `${stdout}# ip6tables-save -t nat\n${v6.stdout}`;
}

/** Polls `check` every 200 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * `kubectl mirrord exec -t deployment/ip-visit-counter -- PROGRAM` end to end on the sandbox, with
 * real programs (printenv, cat, ls, getent, curl, python3, psql, node, sh, tmux) and the real layer.
 *
 * Every program runs in the blocked context (test/support/exec-blocked.ts): no route to the
 * sandbox's pod and Service ranges, as on a laptop, so a call that bypassed the layer fails instead
 * of passing. Every network check also asserts that the server saw the TARGET POD's IP as the
 * source (http-echo's peerIp, PostgreSQL's inet_client_addr()).
 *
 * Needs root on Linux, make and a C compiler (the layer is built first), and the sandbox lock.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { startSandbox, type Sandbox } from '../sandbox/harness.ts';
import { BIN, REPO, kubectl, kubectlJson, parseStatusJson, runCli, waitUntil } from './cli-process.ts';
import { blockedArgv, runBlocked, spawnBlocked, watchChild, type BlockedResult } from '../support/exec-blocked.ts';
import { buildLayer } from '../support/layer-build.ts';
import { agentMainProcess } from '../faults/fault-env.ts';
import { CLI_NODE_OPTIONS } from '../../src/node-options.ts';
import { MEMORY_ADDON_FILE } from '../../src/cli/memory-addon.ts';
import { buildMemoryAddon } from '../../scripts/build.ts';

const TARGET = 'deployment/ip-visit-counter';
/** Every test ends within this, whatever hangs (a failed start-up, a proxy that never exits). */
const BOUND = { timeout: 600_000 };
const NODE = join(REPO, 'node_modules', '.bin', 'node');
let sandbox: Sandbox;
let podIp: string;
let podUid: string;
let ipInfoIp: string;
let scratch: string;

before(async () => {
  // A fresh checkout has no build/ yet (make is a no-op when the layer is up to date).
  buildLayer();
  buildMemoryAddon();
  sandbox = await startSandbox();
  await kubectl(sandbox.kubeconfigPath, ['apply', '-f', join(REPO, 'test/sandbox/demo.yaml')]);
  await kubectl(sandbox.kubeconfigPath, ['apply', '-f', join(REPO, 'test/e2e/fixtures/exec-backends.yaml')]);
  for (const d of ['ip-visit-counter', 'ip-info', 'echo', 'postgres']) {
    await kubectl(sandbox.kubeconfigPath, ['wait', '--for=condition=Available', `deployment/${d}`, '--timeout=120s']);
  }
  const pods = await kubectlJson(sandbox.kubeconfigPath, ['get', 'pods', '-l', 'app=ip-visit-counter']);
  const running = pods.items.filter((p: any) => p.status.phase === 'Running' && !p.metadata.deletionTimestamp);
  assert.equal(running.length, 1, 'one target pod');
  podIp = running[0].status.podIP;
  podUid = running[0].metadata.uid;
  ipInfoIp = (await kubectlJson(sandbox.kubeconfigPath, ['get', 'service', 'ip-info'])).spec.clusterIP;
  scratch = mkdtempSync(join(tmpdir(), 'exec-e2e-'));
});

after(async () => {
  await sandbox?.stop();
});

function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${BIN}:${process.env.PATH}`, KUBECONFIG: sandbox.kubeconfigPath, NO_COLOR: '1', ...extra };
}

/** Runs `kubectl mirrord exec -t TARGET [flags] -- argv` to its end (the proxy too: it holds stderr). */
async function exec(argv: string[], options: { flags?: string[]; env?: Record<string, string>; input?: string } = {}): Promise<BlockedResult> {
  const result = await runBlocked(['kubectl', 'mirrord', 'exec', '-t', TARGET, ...(options.flags ?? []), '--', ...argv], {
    env: cliEnv(options.env), input: options.input, timeoutMs: 150_000,
  });
  assertNothingLeft(result);
  return result;
}

/** The proxy is gone (it held stderr until it exited) and its socket directory with it. */
function assertNothingLeft(result: BlockedResult): void {
  assert.ok(result.drained, `the exec proxy still held stderr long after the program exited:\n${result.stderr}`);
  const log = /session log: (\S+)/.exec(result.stderr)?.[1];
  if (!log) return;
  const socket = /ready: layer socket (\S+)/.exec(readFileSync(log, 'utf8'))?.[1];
  assert.ok(socket, `the log names the layer socket:\n${readFileSync(log, 'utf8')}`);
  assert.ok(!existsSync(join(socket, '..')), `socket dir ${socket} removed`);
  assert.match(readFileSync(log, 'utf8'), /stopped\n$/);
}

function echoPeer(stdout: string): string {
  const line = stdout.split('\n').find((l) => l.includes('peerIp'));
  assert.ok(line, `an http-echo answer in ${JSON.stringify(stdout)}`);
  return JSON.parse(line).peerIp;
}

function ok(result: BlockedResult, what: string): void {
  assert.equal(result.code, 0, `${what}: exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
}

test('printenv GREETING prints the ConfigMap value; PATH and HOME stay local; the log path is printed', BOUND, async () => {
  const r = await exec(['sh', '-c', 'printenv GREETING; printenv PATH; printenv HOME']);
  ok(r, 'printenv');
  const [greeting, path, home] = r.stdout.split('\n');
  assert.equal(greeting, 'Hello from the sandbox cluster');
  assert.equal(path, cliEnv().PATH);
  assert.equal(home, process.env.HOME);
  assert.match(r.stderr, /kubectl-mirrord: session log: \/\S+\.log/);
  // The proxy runs with the CLI's Node options and its memory addon, and its log says so.
  const logPath = /kubectl-mirrord: session log: (\/\S+\.log)/.exec(r.stderr)![1];
  assert.match(readFileSync(logPath, 'utf8'), new RegExp(` runtime: Node ${process.version.replace(/\./g, '\\.')}, ${CLI_NODE_OPTIONS.join(' ')}; malloc_trim: ${join(REPO, 'build', 'native', MEMORY_ADDON_FILE)}\n`));
});

test('a TOML config file (mirrord.toml style) applies: an exclude and an override', BOUND, async () => {
  const config = join(scratch, 'mirrord.toml');
  writeFileSync(config, '[feature.env]\nexclude = ["GREETING"]\noverride = { FROM_TOML = "yes" }\n');
  const r = await exec(['sh', '-c', 'printenv GREETING || echo no-GREETING; printenv FROM_TOML'], { flags: ['-f', config] });
  ok(r, 'printenv with a TOML config');
  // The pod's GREETING (printed by the test above without a config) is left out; the override is set.
  assert.deepEqual(r.stdout.trim().split('\n'), ['no-GREETING', 'yes']);
});

test('cat and ls of the Secret volume (through its real ..data links), which the host does not have', BOUND, async () => {
  assert.ok(!existsSync('/etc/ip-visit-counter'), 'the host has no /etc/ip-visit-counter');
  const cat = await exec(['cat', '/etc/ip-visit-counter/api-key']);
  ok(cat, 'cat');
  assert.equal(cat.stdout, 'sandbox-demo-api-key');
  const ls = await exec(['ls', '/etc/ip-visit-counter']);
  ok(ls, 'ls');
  assert.deepEqual(ls.stdout.trim().split('\n'), ['api-key']);
  const link = await exec(['readlink', '/etc/ip-visit-counter/api-key']);
  ok(link, 'readlink');
  assert.equal(link.stdout.trim(), '..data/api-key');
});

test('getent hosts ip-info gives the Service\'s ClusterIP', BOUND, async () => {
  const r = await exec(['getent', 'hosts', 'ip-info']);
  ok(r, 'getent');
  assert.match(r.stdout, new RegExp(`^${ipInfoIp.replace(/\./g, '\\.')}\\s+ip-info`));
});

test('curl to the echo Service: the echo sees the target pod\'s IP', BOUND, async () => {
  const r = await exec(['curl', '-sS', '--max-time', '20', 'http://echo/']);
  ok(r, 'curl');
  assert.equal(echoPeer(r.stdout), podIp);
});

test('python3 reads the Secret, resolves a Service, fetches with urllib from the pod\'s IP', BOUND, async () => {
  const script = [
    'import json, socket, urllib.request',
    'print(open("/etc/ip-visit-counter/api-key").read())',
    'print(socket.gethostbyname("ip-info"))',
    'print(urllib.request.urlopen("http://echo/", timeout=20).read().decode().strip())',
  ].join('\n');
  const r = await exec(['python3', '-c', script]);
  ok(r, 'python3');
  const [key, ip] = r.stdout.split('\n');
  assert.equal(key, 'sandbox-demo-api-key');
  assert.equal(ip, ipInfoIp);
  assert.equal(echoPeer(r.stdout), podIp);
});

test('psql reaches PostgreSQL by its Service name, from the pod\'s IP', BOUND, async () => {
  const r = await exec(['psql', '-h', 'postgres', '-U', 'app', '-d', 'app', '-tAc', 'select host(inet_client_addr())'], { env: { PGPASSWORD: 'exec-test-password', PGCONNECT_TIMEOUT: '20' } });
  ok(r, 'psql');
  assert.equal(r.stdout.trim(), podIp);
});

test('node (ours) reads, stats and lists the Secret, and fetches from the pod\'s IP', BOUND, async () => {
  const script = `
    const fs = require('node:fs');
    const key = fs.readFileSync('/etc/ip-visit-counter/api-key', 'utf8');
    const st = fs.statSync('/etc/ip-visit-counter/api-key');
    const names = fs.readdirSync('/etc/ip-visit-counter');
    fetch('http://echo/').then((r) => r.json()).then((body) => {
      console.log(JSON.stringify({ key, size: st.size, isFile: st.isFile(), names, peerIp: body.peerIp }));
    });`;
  const r = await exec([NODE, '-e', script]);
  ok(r, 'node');
  const out = JSON.parse(r.stdout.trim());
  // The kubelet's AtomicWriter layout: the key links, ..data, and the timestamped directory.
  assert.ok(out.names.includes('..data'), `..data listed: ${out.names}`);
  out.names = out.names.filter((n: string) => !n.startsWith('..'));
  assert.deepEqual(out, { key: 'sandbox-demo-api-key', size: 20, isFile: true, names: ['api-key'], peerIp: podIp });
});

test("the program's exit code passes through: sh -c 'exit 7' is 7", BOUND, async () => {
  const r = await exec(['sh', '-c', 'exit 7']);
  assert.equal(r.code, 7, r.stderr);
});

test('a child spawned with env: {} still goes through the pod', BOUND, async () => {
  const script = `
    const { spawn } = require('node:child_process');
    const child = spawn('/usr/bin/curl', ['-sS', '--max-time', '20', 'http://echo/'], { env: {}, stdio: 'inherit' });
    child.on('exit', (code) => process.exit(code ?? 1));`;
  const r = await exec([NODE, '-e', script]);
  ok(r, 'node spawn env {}');
  assert.equal(echoPeer(r.stdout), podIp);
});

test('a raw UDP DNS query to the nameserver in the remote /etc/resolv.conf gets the cluster\'s answer', BOUND, async () => {
  const script = `
import socket, struct
ns = [l.split()[1] for l in open("/etc/resolv.conf") if l.startswith("nameserver")][0]
search = [l.split()[1:] for l in open("/etc/resolv.conf") if l.startswith("search")][0]
name = "ip-info." + search[0]
q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\\0" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
s.sendto(q, (ns, 53))
data, src = s.recvfrom(4096)
print(src[0] == ns, ".".join(str(b) for b in data[-4:]))
`;
  const r = await exec(['python3', '-c', script]);
  ok(r, 'python udp dns');
  assert.equal(r.stdout.trim(), `True ${ipInfoIp}`);
});

test('a static binary gets a warning naming it; the pod environment still applies', BOUND, async (t) => {
  const src = join(scratch, 'static.c');
  writeFileSync(src, '#include <stdio.h>\n#include <stdlib.h>\nint main(void){const char*g=getenv("GREETING");puts(g?g:"(none)");return 0;}\n');
  try {
    execFileSync('cc', ['-static', '-o', join(scratch, 'static-greeting'), src], { stdio: 'ignore' });
  } catch {
    t.skip('no static libc to link with');
    return;
  }
  const r = await runBlocked(['kubectl', 'mirrord', 'exec', '-t', TARGET, '--', join(scratch, 'static-greeting')], { env: cliEnv(), timeoutMs: 150_000 });
  ok(r, 'static');
  // No process loads the layer; the proxy notices the program's exit (its pid) and ends, releasing
  // stderr well within runBlocked's drain bound, not after its 60 s start-up window.
  assertNothingLeft(r);
  const log = readFileSync(/session log: (\S+)/.exec(r.stderr)![1], 'utf8');
  assert.match(log, /stopping: the program exited and no process loaded the layer/);
  assert.equal(r.stdout.trim(), 'Hello from the sandbox cluster');
  assert.match(r.stderr, new RegExp(`kubectl-mirrord: ${join(scratch, 'static-greeting').replace(/[/.]/g, '\\$&')} is statically linked: it cannot load the kubectl-mirrord layer`));
});

test('the demo in miniature: ip-visit-counter runs here with the pod\'s ConfigMap, Secret, ip-info and HOSTNAME', BOUND, async () => {
  const port = await freePort();
  const config = join(scratch, 'demo.json');
  // A JSON config with a comment and a trailing comma, as mirrord's docs write them.
  writeFileSync(config, `{\n  // the pod says PORT=8080; run on a free local port\n  "feature": { "env": { "override": { "PORT": "${port}" }, }, },\n}\n`);
  const child = spawnBlocked(['kubectl', 'mirrord', 'exec', '-t', TARGET, '-f', config, '--', NODE, join(REPO, 'test/sandbox/images/ip-visit-counter.ts')], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const watched = watchChild(child);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { output += d.toString(); });
  try {
    await waitUntil(async () => output.includes(`listening on :${port}`), 'the demo listens', 120_000);
    const res = await fetch(`http://127.0.0.1:${port}/count`);
    const body = await res.json() as { greeting: string; apiKeyLength: number; info: Record<string, unknown>; pod: string };
    assert.equal(body.greeting, 'Hello from the sandbox cluster');
    assert.equal(body.apiKeyLength, 20);
    assert.ok(!('error' in body.info), `ip-info answered: ${JSON.stringify(body.info)}`);
    const pods = await kubectlJson(sandbox.kubeconfigPath, ['get', 'pods', '-l', 'app=ip-visit-counter']);
    assert.ok(pods.items.some((p: any) => p.metadata.name === body.pod), `HOSTNAME ${body.pod} is the target pod's name`);
  } finally {
    await watched.stop();
  }
});

test('Ctrl-Z and fg in a real terminal (tmux): the program stops and resumes, and its session survives', BOUND, async () => {
  const socket = `kmexec${process.pid}`;
  const tmux = (...args: string[]) => spawnSync('tmux', ['-L', socket, ...args], { encoding: 'utf8', timeout: 10_000 });
  const script = join(scratch, 'ask.py');
  writeFileSync(script, 'import sys, json, urllib.request\nprint("ready>", flush=True)\nfor line in sys.stdin:\n    body = json.loads(urllib.request.urlopen("http://echo/", timeout=20).read())\n    print("peer", line.strip(), body["peerIp"], flush=True)\n');
  const runner = join(scratch, 'run.sh');
  writeFileSync(runner, `#!/bin/sh\nexport PATH='${cliEnv().PATH}' KUBECONFIG='${sandbox.kubeconfigPath}' NO_COLOR=1 PS1='$ '\nexec bash --norc --noprofile -i\n`);
  chmodSync(runner, 0o755);
  // The tmux server forks from this client, so it (and the shell in it) is in the blocked context.
  const [file, ...args] = blockedArgv(['tmux', '-L', socket, '-f', '/dev/null', 'new-session', '-d', '-x', '200', '-y', '50', runner]);
  const start = spawnSync(file, args, { encoding: 'utf8', timeout: 10_000 });
  assert.equal(start.status, 0, start.stderr);
  const screen = () => tmux('capture-pane', '-p', '-S', '-200').stdout;
  const waitScreen = async (text: string | RegExp, what: string, timeoutMs: number) => {
    try {
      await waitUntil(async () => {
        const shown = screen();
        // exec failed before the program ran: say so now instead of waiting out the bound.
        if (/^error: /m.test(shown)) throw new Error(`exec failed while waiting until ${what}`);
        return typeof text === 'string' ? shown.includes(text) : text.test(shown);
      }, what, timeoutMs);
    } catch (err) {
      throw new Error(`${(err as Error).message}; the terminal shows:\n${screen()}`);
    }
  };
  try {
    tmux('send-keys', `kubectl mirrord exec -t ${TARGET} -- python3 ${script}`, 'Enter');
    await waitScreen('ready>', 'the program runs', 120_000);
    tmux('send-keys', 'one', 'Enter');
    await waitScreen(`peer one ${podIp}`, 'the first request', 30_000);
    tmux('send-keys', 'C-z');
    await waitScreen(/Stopped/, 'bash reports the program stopped', 10_000);
    // Longer than the proxy's grace period: a stopped program keeps its layer link and its proxy.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    tmux('send-keys', 'fg', 'Enter');
    tmux('send-keys', 'two', 'Enter');
    await waitScreen(`peer two ${podIp}`, 'the request after fg', 30_000);
    tmux('send-keys', 'C-d');
    tmux('send-keys', 'echo "status=$?"', 'Enter');
    await waitScreen('status=0', 'the program exits 0', 30_000);
  } finally {
    tmux('kill-server');
  }
});

test('-L and --socks from the same command, served by the exec proxy while the program runs', BOUND, async () => {
  const child = spawnBlocked(['kubectl', 'mirrord', 'exec', '-t', TARGET, '-L', '0:echo:80', '--socks', '0', '--', 'sleep', '20'], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const watched = watchChild(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  try {
    const forward = (await waitUntilMatch(() => stderr, /kubectl-mirrord: -L 127\.0\.0\.1:(\d+) -> echo:80/))[1];
    const socks = (await waitUntilMatch(() => stderr, /kubectl-mirrord: SOCKS5 on 127\.0\.0\.1:(\d+)/))[1];
    // From this machine (not the blocked context): through the proxy's listeners and the agent.
    const viaL = spawnSync('curl', ['-sS', '--max-time', '20', `http://127.0.0.1:${forward}/`], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(echoPeer(viaL.stdout), podIp, viaL.stderr);
    const viaSocks = spawnSync('curl', ['-sS', '--max-time', '20', '--socks5-hostname', `127.0.0.1:${socks}`, 'http://echo/'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(echoPeer(viaSocks.stdout), podIp, viaSocks.stderr);
  } finally {
    await watched.stop();
  }
});

/** `exec -t TARGET -- python3 -c script` with piped stdio, and a wait for its stdout to say something. */
function spawnPython(script: string) {
  const child = spawnBlocked(['kubectl', 'mirrord', 'exec', '-t', TARGET, '--', 'python3', '-c', script], { env: cliEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  const watched = watchChild(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  return {
    child,
    watched,
    stdout: () => stdout,
    stderr: () => stderr,
    async waitForOut(pattern: RegExp, what: string, timeoutMs: number): Promise<void> {
      await waitUntil(async () => pattern.test(stdout), what, timeoutMs).catch((err: Error) => {
        throw new Error(`${err.message}\nstdout: ${stdout}\nstderr: ${stderr}`);
      });
    },
  };
}

test('pipes stay blocking for the program: input that arrives late is read, not seen as EAGAIN or an early end', BOUND, async () => {
  // Node makes a pipe non-blocking once it opens a stream on it, and the mode is shared with the
  // program through the open file; Python and sh then read an immediate end of input.
  const script = [
    'import fcntl, os, sys',
    'print("nonblocking", *[bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK) for fd in (0, 1, 2)], flush=True)',
    'print("got", repr(sys.stdin.readline()), flush=True)',
  ].join('\n');
  const py = spawnPython(script);
  try {
    await py.waitForOut(/nonblocking /, 'the program starts', 120_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    py.child.stdin?.end('late line\n');
    assert.equal(await py.watched.exited(60_000), 0, py.stderr());
    assert.match(py.stdout(), /^nonblocking False False False$/m, py.stdout());
    assert.match(py.stdout(), /^got 'late line\\n'$/m, py.stdout());
  } finally {
    await py.watched.stop();
  }
});

/** The pids of every running exec proxy (`kubectl-mirrord __exec-proxy`) on this machine. */
function proxyPids(): Set<string> {
  return new Set(readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('__exec-proxy');
    } catch {
      return false;
    }
  }));
}

/** The exec socket directories (kubectl-mirrord-XXXXXX) in the temporary directory. */
function socketDirs(): Set<string> {
  return new Set(readdirSync(tmpdir()).filter((n) => n.startsWith('kubectl-mirrord-') && n !== `kubectl-mirrord-${process.getuid?.()}`));
}

test('Ctrl-C while the agent starts: exit 130, and no proxy or socket directory is left', BOUND, async () => {
  // Only this run's proxy and directory are judged: an earlier test's may still be winding down.
  const proxiesBefore = proxyPids();
  const dirsBefore = socketDirs();
  const child = spawnBlocked(['kubectl', 'mirrord', 'exec', '-t', TARGET, '--', 'sleep', '60'], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const watched = watchChild(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  try {
    await waitUntil(async () => /resolving|adding agent container/.test(stderr), 'the agent starts', 60_000);
  } catch (err) {
    await watched.stop('SIGKILL');
    throw new Error(`${(err as Error).message}; stderr: ${stderr}`);
  }
  const ours = [...socketDirs()].filter((d) => !dirsBefore.has(d));
  // The proxy's second stage (--daemon) is what prints progress; its first stage may still be exiting.
  const proxies = [...proxyPids()].filter((p) => !proxiesBefore.has(p)).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes('--daemon');
    } catch {
      return false;
    }
  });
  // The CLI makes the directory before it starts the proxy.
  assert.equal(ours.length, 1, `one new socket directory while the agent starts: ${ours.join(', ')}`);
  assert.equal(proxies.length, 1, `one new exec proxy while the agent starts: ${proxies.join(', ')}`);
  child.kill('SIGINT');
  const code = await watched.exited(60_000).catch(async (err: Error) => {
    await watched.stop('SIGKILL');
    throw new Error(`${err.message} after Ctrl-C; stderr: ${stderr}`);
  });
  assert.equal(code, 130, stderr);
  await waitUntil(async () => !existsSync(`/proc/${proxies[0]}`), `the proxy (pid ${proxies[0]}) has exited`, 30_000);
  assert.ok(!existsSync(join(tmpdir(), ours[0], 'proxy.sock')), `${ours[0]} has no socket left`);
  assert.ok(!existsSync(join(tmpdir(), ours[0])), `${ours[0]} is removed`);
});

test('the agent is killed (SIGKILL) between two requests: the next request waits for the reconnect and completes from the pod', BOUND, async () => {
  // The second request's getaddrinfo and connect are held by the proxy while the link is down.
  const script = [
    'import sys, json, urllib.request',
    'peer = lambda: json.loads(urllib.request.urlopen("http://echo/", timeout=120).read())["peerIp"]',
    'print("first", peer(), flush=True)',
    'sys.stdin.readline()',
    'try:',
    '    print("second", peer(), flush=True)',
    'except Exception as e:',
    '    print("second-failed", type(e).__name__, e, flush=True)',
  ].join('\n');
  const py = spawnPython(script);
  try {
    await py.waitForOut(/^first /m, 'the first request', 120_000);
    assert.match(py.stdout(), new RegExp(`^first ${podIp.replace(/\./g, '\\.')}$`, 'm'));
    const agent = agentMainProcess(podUid);
    assert.ok(agent, 'the agent process in the target pod');
    process.kill(agent, 'SIGKILL');
    py.child.stdin?.write('\n');
    await py.waitForOut(/^second/m, 'the second request ends', 150_000);
    assert.match(py.stdout(), new RegExp(`^second ${podIp.replace(/\./g, '\\.')}$`, 'm'), `stdout: ${py.stdout()}\nstderr: ${py.stderr()}`);
    py.child.stdin?.end();
    assert.equal(await py.watched.exited(60_000), 0, py.stderr());
    const log = readFileSync(/session log: (\S+)/.exec(py.stderr())![1], 'utf8');
    assert.match(log, /agent connection lost/);
    assert.match(log, /reconnected to the agent/);
  } finally {
    await py.watched.stop();
  }
});

test('nothing is left behind: no exec proxy, and the agent ends with the proxy (not by its idle timeout): status lists nothing', BOUND, async () => {
  // An idle timeout far past the wait below: only the proxy's sessionEnd can end the agent in time.
  const r = await exec(['true'], { flags: ['--agent-idle-timeout', '30m'] });
  ok(r, 'true');
  assert.deepEqual([...proxyPids()], [], 'no exec proxy process remains');
  await waitUntil(async () => spawnSync('pgrep', ['-f', '/opt/kubectl-mirrord/agent.mjs']).status !== 0, 'every agent process has exited', 90_000);
  const status = await runCli(['status', '--json', '-A'], sandbox.kubeconfigPath);
  assert.equal(status.code, 0, status.output);
  assert.deepEqual(parseStatusJson(status.output).sessions, [], `kubectl mirrord status lists no session:\n${status.output}`);
});

async function waitUntilMatch(text: () => string, pattern: RegExp): Promise<RegExpMatchArray> {
  await waitUntil(async () => pattern.test(text()), `${pattern} in the output`, 90_000);
  return pattern.exec(text()) as RegExpMatchArray;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Faults of the agent link and of the CLI, with the targetless agent: the agent pod deleted, the
 * CLI killed with SIGKILL, Ctrl-C during agent start-up, the API server connection cut mid-transfer.
 */
import net from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { curl, kubectl, kubectlJson, startCli, summaryPort, type CliProcess } from '../e2e/cli-process.ts';
import { isBound, ourJobs, timeUntil, type FaultEnv, type FaultObservation } from './fault-env.ts';

async function startForward(env: FaultEnv, extra: string[] = [], kubeconfig = env.kubeconfig): Promise<{ cli: CliProcess; port: number; podName: string }> {
  const cli = startCli(['port-forward', '-L', '0:ip-info:80', ...extra], kubeconfig);
  const [, podName] = await cli.waitFor(/agent ready in [\d.]+ s \(pod (\S+)\)/, 90_000);
  await cli.waitFor(/Ctrl-C to stop/);
  return { cli, podName, port: summaryPort(cli.output(), '→ ip-info:80') };
}

async function healthOk(port: number): Promise<boolean> {
  return (await curl(['--max-time', '3', `http://127.0.0.1:${port}/health`])).stdout.trim() === 'ok';
}

async function jobsAfterExit(env: FaultEnv, before: string[]): Promise<string[]> {
  const left = () => ourJobs(env).then((jobs) => jobs.filter((j) => !before.includes(j)));
  await timeUntil(async () => (await left()).length === 0, 20_000);
  return await left();
}

export async function agentPodDeleted(env: FaultEnv): Promise<FaultObservation> {
  const before = await ourJobs(env);
  const { cli, port, podName } = await startForward(env);
  try {
    const deletedAt = Date.now();
    await kubectl(env.kubeconfig, ['delete', 'pod', podName, '--wait=false']);
    await cli.waitFor(/agent connection lost/, 60_000).catch(() => undefined);
    const recoveryMs = await timeUntil(() => healthOk(port), 120_000, deletedAt);
    const bound = await isBound(port);
    const code = await cli.interrupt();
    return {
      fault: 'the agent pod deleted', portsBound: bound ? '-L port stayed bound' : '-L port NOT bound',
      recoveryMs, recovery: 'GET /health through -L answers again',
      rulesLeft: [], jobsLeft: await jobsAfterExit(env, before), dataLoss: 'connections open at the delete are closed; new ones whole',
      notes: [`reconnected: ${/reconnected to the agent/.test(cli.output())}`, `CLI exit ${code}`],
    };
  } finally {
    cli.child.kill('SIGKILL');
  }
}

export async function cliKilled(env: FaultEnv): Promise<FaultObservation & { agentStoppedMs: number | undefined }> {
  const { cli, port, podName } = await startForward(env, ['--agent-idle-timeout', '2s']);
  const killedAt = Date.now();
  cli.child.kill('SIGKILL');
  await cli.exited;
  const bound = await isBound(port);
  const phase = async () => (await kubectlJson(env.kubeconfig, ['get', 'pods', '--field-selector', `metadata.name=${podName}`])).items[0]?.status?.phase ?? 'Gone';
  const agentStoppedMs = await timeUntil(async () => (await phase()) !== 'Running', 60_000, killedAt);
  const jobs = (await ourJobs(env)).filter((j) => podName.startsWith(j.split('/')[1]));
  return {
    fault: 'the CLI kill -9ed', portsBound: bound ? 'the -L port is STILL bound' : 'none (the process is gone)',
    recoveryMs: agentStoppedMs, recovery: 'the agent exits by its idle timeout (2 s here)',
    rulesLeft: [], jobsLeft: jobs, dataLoss: 'n/a (the user side is gone)',
    notes: ['its Job stays until the TTL controller removes it (ttlSecondsAfterFinished 60 s)'], agentStoppedMs,
  };
}

export async function interruptDuringStartup(env: FaultEnv): Promise<FaultObservation & { exitCode: number | string }> {
  const before = await ourJobs(env);
  const cli = startCli(['socks', '0'], env.kubeconfig);
  // Once the Job exists the start-up is under way: interrupt then.
  await timeUntil(async () => (await ourJobs(env)).some((j) => !before.includes(j)), 30_000);
  const exitCode = await cli.interrupt();
  return {
    fault: 'Ctrl-C during agent start-up', portsBound: 'none (the CLI exited)',
    recoveryMs: null, recovery: `the CLI exited with ${exitCode}`,
    rulesLeft: [], jobsLeft: await jobsAfterExit(env, before), dataLoss: 'n/a', notes: [], exitCode,
  };
}

/** A TCP proxy in front of the API server whose connections can all be cut at once. */
async function cuttableProxy(target: URL): Promise<{ port: number; cut(): number; close(): void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 443), target.hostname);
    for (const s of [client, upstream]) { sockets.add(s); s.on('close', () => sockets.delete(s)); s.on('error', () => {}); }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut: () => { const n = sockets.size; for (const s of sockets) s.resetAndDestroy(); return n; },
    close: () => { for (const s of sockets) s.destroy(); server.close(); },
  };
}

export async function apiConnectionCut(env: FaultEnv, scratch: string): Promise<FaultObservation> {
  // The sandbox writes its kubeconfig as JSON, which kubectl and client-node read as YAML.
  const config = JSON.parse(readFileSync(env.kubeconfig, 'utf8'));
  const cluster = config.clusters[0].cluster;
  const proxy = await cuttableProxy(new URL(cluster.server));
  cluster.server = `https://127.0.0.1:${proxy.port}`;
  const kubeconfig = join(scratch, 'kubeconfig-via-proxy');
  writeFileSync(kubeconfig, JSON.stringify(config), { mode: 0o600 });
  const before = await ourJobs(env);
  const { cli, port } = await startForward(env, [], kubeconfig);
  try {
    // Mid-transfer: a stream of requests on one keep-alive connection while the link is cut.
    const transfer = streamRequests(port);
    await new Promise((r) => setTimeout(r, 300));
    const cutAt = Date.now();
    const cut = proxy.cut();
    const recoveryMs = await timeUntil(() => healthOk(port), 120_000, cutAt);
    const inflight = await transfer.stop();
    const bound = await isBound(port);
    const code = await cli.interrupt();
    return {
      fault: 'API server connection cut mid-transfer', portsBound: bound ? '-L port stayed bound' : '-L port NOT bound',
      recoveryMs, recovery: 'GET /health through -L answers again',
      rulesLeft: [], jobsLeft: await jobsAfterExit(env, before),
      dataLoss: inflight.corrupt > 0 ? `${inflight.corrupt} answers corrupted: ${inflight.odd.join(', ')}` : `none: ${inflight.ok} answers whole before the cut, the connection then ${inflight.end}`,
      notes: [`${cut} TCP connections cut`, `reconnected: ${/reconnected to the agent/.test(cli.output())}`, `CLI exit ${code}`],
    };
  } finally {
    cli.child.kill('SIGKILL');
    proxy.close();
  }
}

/** Keeps sending GET /health on one connection; counts whole and corrupt answers (chunked or sized). */
function streamRequests(port: number): { stop(): Promise<{ ok: number; corrupt: number; end: string; odd: string[] }> } {
  const socket = net.connect(port, '127.0.0.1');
  let buffered = '';
  let ok = 0;
  let corrupt = 0;
  const odd: string[] = [];
  let end = 'stayed open';
  const send = () => socket.write('GET /health HTTP/1.1\r\nHost: ip-info\r\n\r\n');
  socket.on('connect', send);
  socket.on('data', (d: Buffer) => {
    buffered += d.toString('latin1');
    for (;;) {
      const answer = takeAnswer(buffered);
      if (!answer) break;
      buffered = buffered.slice(answer.length);
      if (answer.status === '200' && answer.body.trim() === 'ok') ok++;
      else { corrupt++; odd.push(JSON.stringify(answer.body.slice(0, 60))); }
      send();
    }
  });
  socket.on('error', (err: NodeJS.ErrnoException) => { end = `was reset (${err.code})`; });
  socket.on('close', () => { if (end === 'stayed open') end = 'was closed'; });
  return { stop: async () => { const seen = { ok, corrupt, end, odd }; socket.destroy(); return seen; } };
}

/** One whole HTTP/1.1 answer at the start of `text`, or undefined while it is incomplete. */
function takeAnswer(text: string): { status: string; body: string; length: number } | undefined {
  const head = /^HTTP\/1\.1 (\d+)[^\r]*\r\n([\s\S]*?)\r\n\r\n/.exec(text);
  if (!head) return undefined;
  let at = head[0].length;
  if (!/transfer-encoding:\s*chunked/i.test(head[2])) {
    const size = Number(/content-length:\s*(\d+)/i.exec(head[2])?.[1] ?? 0);
    return text.length < at + size ? undefined : { status: head[1], body: text.slice(at, at + size), length: at + size };
  }
  let body = '';
  for (;;) {
    const line = text.indexOf('\r\n', at);
    if (line < 0) return undefined;
    const size = parseInt(text.slice(at, line), 16);
    if (!Number.isFinite(size)) return { status: 'bad chunk', body: text.slice(at, at + 60), length: text.length };
    if (text.length < line + 2 + size + 2) return undefined;
    if (size === 0) return { status: head[1], body, length: line + 4 };
    body += text.slice(line + 2, line + 2 + size);
    at = line + 2 + size + 2;
  }
}

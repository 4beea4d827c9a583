/**
 * Load and garbage: 1,000 concurrent SOCKS5 connections through one CLI, and random bytes written
 * into the SOCKS port, the agent's own port (from inside its pod) and a -L port.
 */
import net from 'node:net';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { curl, kubectlJson, startCli, summaryPort, type CliProcess } from '../e2e/cli-process.ts';
import { isBound, ourJobs, type FaultEnv, type FaultObservation } from './fault-env.ts';

const run = promisify(execFile);

async function startSocksAndForward(env: FaultEnv): Promise<{ cli: CliProcess; socksPort: number; forwardPort: number; podName: string }> {
  const cli = startCli(['port-forward', '-L', '0:ip-info:80', '--socks', '0'], env.kubeconfig);
  const [, podName] = await cli.waitFor(/agent ready in [\d.]+ s \(pod (\S+)\)/, 90_000);
  await cli.waitFor(/Ctrl-C to stop/);
  return { cli, podName, socksPort: summaryPort(cli.output(), 'SOCKS5'), forwardPort: summaryPort(cli.output(), '→ ip-info:80') };
}

/** One SOCKS5 CONNECT to ip-info:80 and GET /health; resolves with the body, rejects on failure. */
function socksHealth(socksPort: number, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socksPort, '127.0.0.1');
    const timer = setTimeout(() => { socket.destroy(); reject(new Error('timed out')); }, timeoutMs);
    let stage = 0;
    let buffer = Buffer.alloc(0);
    const host = Buffer.from('ip-info');
    socket.on('connect', () => socket.write(Buffer.from([5, 1, 0])));
    socket.on('data', (d: Buffer) => {
      buffer = Buffer.concat([buffer, d]);
      if (stage === 0 && buffer.length >= 2) {
        buffer = buffer.subarray(2);
        stage = 1;
        socket.write(Buffer.concat([Buffer.from([5, 1, 0, 3, host.length]), host, Buffer.from([0, 80])]));
      }
      if (stage === 1 && buffer.length >= 10) {
        if (buffer[1] !== 0) { socket.destroy(); clearTimeout(timer); reject(new Error(`SOCKS reply ${buffer[1]}`)); return; }
        buffer = buffer.subarray(10);
        stage = 2;
        // HTTP/1.0: the answer ends with the connection, in one piece (no chunked encoding).
        socket.write('GET /health HTTP/1.0\r\nHost: ip-info\r\n\r\n');
      }
    });
    socket.on('end', () => {
      clearTimeout(timer);
      const text = buffer.toString();
      resolve(text.slice(text.indexOf('\r\n\r\n') + 4));
    });
    socket.on('error', (err) => { clearTimeout(timer); reject(err); });
  });
}

export async function thousandSocksConnections(env: FaultEnv, count = 1000): Promise<FaultObservation & { ok: number; failed: number }> {
  const before = await ourJobs(env);
  const { cli, socksPort } = await startSocksAndForward(env);
  try {
    const started = Date.now();
    const results = await Promise.allSettled(Array.from({ length: count }, () => socksHealth(socksPort)));
    const ms = Date.now() - started;
    const ok = results.filter((r) => r.status === 'fulfilled' && r.value.trim() === 'ok').length;
    const reasons = new Map<string, number>();
    for (const r of results) {
      const why = r.status === 'rejected' ? (r.reason as Error).message : r.value.trim() === 'ok' ? undefined : `body ${JSON.stringify(r.value.slice(0, 40))}`;
      if (why) reasons.set(why, (reasons.get(why) ?? 0) + 1);
    }
    const after = (await curl(['--max-time', '5', '--socks5-hostname', `127.0.0.1:${socksPort}`, 'http://ip-info/health'])).stdout.trim();
    const code = await cli.interrupt();
    return {
      fault: `${count} concurrent SOCKS5 connections`, portsBound: 'SOCKS port bound throughout',
      recoveryMs: ms, recovery: `all ${count} done (ok or failed) after this long`,
      rulesLeft: [], jobsLeft: (await ourJobs(env)).filter((j) => !before.includes(j)),
      dataLoss: ok === count ? 'none: every answer whole' : `${count - ok} of ${count} failed: ${[...reasons].map(([w, n]) => `${n}x ${w}`).join('; ')}`,
      notes: [`curl through SOCKS after the burst: ${JSON.stringify(after)}`, `CLI exit ${code}`], ok, failed: count - ok,
    };
  } finally {
    cli.child.kill('SIGKILL');
  }
}

/** Writes 64 KiB of random bytes into host:port (from inside `netns` when given); resolves how it ended. */
async function garbage(port: number, netns?: string): Promise<string> {
  const script = `const s=require('net').connect(${port},'127.0.0.1');s.on('error',e=>{console.log('reset '+e.code);process.exit(0)});` +
    `s.on('connect',()=>{s.write(require('crypto').randomBytes(65536));setTimeout(()=>{console.log(s.destroyed?'closed':'left open');process.exit(0)},2000)});` +
    `s.on('close',()=>{console.log('closed by the server');process.exit(0)})`;
  const cmd = netns ? ['ip', ['netns', 'exec', netns, process.execPath, '-e', script]] as const : [process.execPath, ['-e', script]] as const;
  return (await run(cmd[0], [...cmd[1]], { timeout: 30_000 })).stdout.trim();
}

export async function randomBytesIntoPorts(env: FaultEnv): Promise<FaultObservation & { allWorkAfter: boolean }> {
  const before = await ourJobs(env);
  const { cli, socksPort, forwardPort, podName } = await startSocksAndForward(env);
  try {
    const pod = await kubectlJson(env.kubeconfig, ['get', 'pod', podName]);
    const listen = pod.spec.containers[0].env.find((e: { name: string }) => e.name === 'MIRRORD_AGENT_LISTEN').value as string;
    const agentPort = Number(listen.split(':').pop());
    const ends = {
      socks: await garbage(socksPort),
      agent: await garbage(agentPort, `kmsb-${pod.metadata.uid}`),
      forward: await garbage(forwardPort),
    };
    const viaSocks = (await curl(['--max-time', '10', '--socks5-hostname', `127.0.0.1:${socksPort}`, 'http://ip-info/health'])).stdout.trim();
    const viaForward = (await curl(['--max-time', '10', `http://127.0.0.1:${forwardPort}/health`])).stdout.trim();
    const samePod = (await kubectlJson(env.kubeconfig, ['get', 'pod', podName])).status.phase === 'Running';
    const lost = /agent connection lost/.test(cli.output());
    const bound = (await isBound(socksPort)) && (await isBound(forwardPort));
    const code = await cli.interrupt();
    return {
      fault: 'random bytes into the SOCKS, agent and -L ports', portsBound: bound ? 'both local ports stayed bound' : 'a local port was lost',
      recoveryMs: null, recovery: `traffic never stopped; after: SOCKS ${JSON.stringify(viaSocks)}, -L ${JSON.stringify(viaForward)}`,
      rulesLeft: [], jobsLeft: (await ourJobs(env)).filter((j) => !before.includes(j)),
      dataLoss: lost ? 'the agent connection dropped' : 'none: the session went on',
      notes: [`the garbage connection to SOCKS: ${ends.socks}; agent: ${ends.agent}; -L: ${ends.forward}`, `agent pod still running: ${samePod}`, `CLI exit ${code}`],
      allWorkAfter: viaSocks === 'ok' && viaForward === 'ok' && samePod && !lost,
    };
  } finally {
    cli.child.kill('SIGKILL');
  }
}

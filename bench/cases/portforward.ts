/**
 * port-forward -L and the SOCKS server through the sandbox's real portforward path: the CLI's one
 * WebSocket to the API server, the kubelet's dial into the agent pod, the agent's dial to the
 * target pod. Compared, in the same run, with going straight to the target pod, with a plain
 * two-hop relay, and (for SOCKS) with microsocks running in a pod behind the same -L path.
 */
import { existsSync } from 'node:fs';
import { startSandbox } from '../../test/sandbox/harness.ts';
import { startCli } from '../../test/e2e/cli-process.ts';
import { freePort, kubectl, ProcGroup, repoRoot } from '../procs.ts';
import { emptyReport, type CaseReport } from '../report.ts';

const GB = 1e9;
const NAMESPACE = 'kmbench';
const SINK_PORT = 9000;
const ECHO_PORT = 9001;
const SOCKS_PORT = 1080;
const MICROSOCKS = '/usr/bin/microsocks';

export interface PortForwardBenchOptions {
  bytes: number;
  latencyCount: number;
}

function manifest(): string {
  const traffic = `${repoRoot}bench/traffic.ts`;
  const pod = (name: string, image: string, command: string[]) => ({
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace: NAMESPACE, labels: { app: name } },
    spec: { containers: [{ name, image, command }] },
  });
  const items: object[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } },
    pod('bench-sink', 'node', ['node', traffic, 'sink', '--listen-host', '0.0.0.0', '--listen-port', String(SINK_PORT)]),
    pod('bench-echo', 'node', ['node', traffic, 'echo', '--listen-host', '0.0.0.0', '--listen-port', String(ECHO_PORT)]),
  ];
  if (existsSync(MICROSOCKS)) items.push(pod('bench-microsocks', 'debian', [MICROSOCKS, '-i', '0.0.0.0', '-p', String(SOCKS_PORT)]));
  // One YAML document per object (JSON is YAML).
  return items.map((item) => `---\n${JSON.stringify(item)}\n`).join('');
}



export async function benchPortForward(options: PortForwardBenchOptions, log: (line: string) => void): Promise<CaseReport> {
  const report = emptyReport();
  const sandbox = await startSandbox();
  const group = new ProcGroup();
  const kubeconfig = sandbox.kubeconfigPath;
  let cli: ReturnType<typeof startCli> | undefined;
  try {
    log('sandbox: starting the target pods');
    await kubectl(kubeconfig, ['apply', '-f', '-'], manifest());
    await kubectl(kubeconfig, ['wait', '-n', NAMESPACE, '--for=condition=Ready', 'pod', '--all', '--timeout=60s']);
    const ip = async (name: string) => (await kubectl(kubeconfig, ['get', 'pod', '-n', NAMESPACE, name, '-o', 'jsonpath={.status.podIP}'])).trim();
    const sinkIp = await ip('bench-sink');
    const echoIp = await ip('bench-echo');
    const withMicrosocks = existsSync(MICROSOCKS);
    const microsocksIp = withMicrosocks ? await ip('bench-microsocks') : '';

    const [sinkL, echoL, microL, socksL] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const forwards = ['-L', `${sinkL}:${sinkIp}:${SINK_PORT}`, '-L', `${echoL}:${echoIp}:${ECHO_PORT}`];
    if (withMicrosocks) forwards.push('-L', `${microL}:${microsocksIp}:${SOCKS_PORT}`);
    cli = startCli(['port-forward', '-n', NAMESPACE, ...forwards, '--socks', `127.0.0.1:${socksL}`], kubeconfig);
    await cli.waitFor(/agent ready/, 60_000);

    const relayB = group.start('bench/relay.ts', ['--to', String(SINK_PORT), '--to-host', sinkIp]);
    const relayA = group.start('bench/relay.ts', ['--to', String(await relayB.port())]);
    const relayPort = await relayA.port();

    const send = async (args: string[]) => {
      const sender = group.start('bench/traffic.ts', ['send', '--bytes', String(options.bytes), ...args]);
      const sent = await sender.next('sent', 300_000);
      return Number(sent.bytes) / (Number(sent.ms) / 1000) / GB;
    };
    log('-L throughput: direct, two-hop relay, -L');
    const direct = await send(['--host', sinkIp, '--port', String(SINK_PORT)]);
    const relay = await send(['--port', String(relayPort)]);
    const forward = await send(['--port', String(sinkL)]);
    report.measurements.push(
      { name: 'sandbox: straight to the pod', value: direct, unit: 'GB/s' },
      { name: 'sandbox: plain two-hop relay to the pod', value: relay, unit: 'GB/s' },
      { name: 'sandbox: port-forward -L', value: forward, unit: 'GB/s' },
    );
    report.ratios.portforward_vs_relay_throughput = forward / relay;
    report.goals.push({ name: '-L throughput ≥ 0.8 × two-hop relay', met: forward >= 0.8 * relay, detail: `${(forward / relay).toFixed(2)} ×` });

    log('new-connection latency through -L');
    const latency = async (args: string[]) => {
      const prober = group.start('bench/traffic.ts', ['latency', '--count', String(options.latencyCount), ...args]);
      return prober.next('latency', 120_000);
    };
    const directLatency = await latency(['--host', echoIp, '--port', String(ECHO_PORT)]);
    const forwardLatency = await latency(['--port', String(echoL)]);
    report.measurements.push(
      { name: 'sandbox: connect + 1-byte echo, straight to the pod, p50', value: Number(directLatency.p50), unit: 'ms' },
      { name: 'sandbox: connect + 1-byte echo through -L, p50', value: Number(forwardLatency.p50), unit: 'ms' },
      { name: 'sandbox: connect + 1-byte echo through -L, p99', value: Number(forwardLatency.p99), unit: 'ms' },
    );
    report.goals.push({ name: '-L new-connection latency p50 < 2 ms', met: Number(forwardLatency.p50) < 2, detail: `${Number(forwardLatency.p50).toFixed(3)} ms` });

    log('SOCKS throughput: ours against microsocks behind the same -L path');
    const ours = await send(['--socks', `127.0.0.1:${socksL}`, '--host', sinkIp, '--port', String(SINK_PORT)]);
    report.measurements.push({ name: 'sandbox: SOCKS5, kubectl-mirrord', value: ours, unit: 'GB/s' });
    if (withMicrosocks) {
      const micro = await send(['--socks', `127.0.0.1:${microL}`, '--host', sinkIp, '--port', String(SINK_PORT)]);
      report.measurements.push({ name: 'sandbox: SOCKS5, microsocks in a pod behind -L', value: micro, unit: 'GB/s' });
      report.ratios.socks_vs_microsocks_throughput = ours / micro;
      report.goals.push({ name: 'SOCKS throughput ≥ microsocks', met: ours >= micro, detail: `${(ours / micro).toFixed(2)} ×` });
    } else {
      report.goals.push({ name: 'SOCKS throughput ≥ microsocks', met: false, detail: `not measured: ${MICROSOCKS} is not installed` });
    }
  } finally {
    group.killAll();
    if (cli) await cli.interrupt();
    await kubectl(kubeconfig, ['delete', 'namespace', NAMESPACE, '--wait=false']).catch(() => '');
    await sandbox.stop();
  }
  return report;
}

/**
 * UDP through `-L .../udp` on the sandbox: the CLI's one portforward WebSocket, the agent's
 * connected UDP socket, a UDP echo pod. Compared, in the same run, with the same echo straight to
 * the pod's IP from the host. Rate: 512-byte datagrams with 32 in flight on one stream. Round trip:
 * one datagram in flight, so the figure is the path's own latency, not queueing.
 */
import { startSandbox } from '../../test/sandbox/harness.ts';
import { startCli, summaryPort } from '../../test/e2e/cli-process.ts';
import { percentile, pingPong, type PingPongResult } from '../../test/support/udp-traffic.ts';
import { kubectl } from '../procs.ts';
import { emptyReport, type CaseReport } from '../report.ts';

const NAMESPACE = 'kmbench-udp';
const ECHO_PORT = 9000;
const SIZE = 512;
const IN_FLIGHT = 32;

export interface UdpBenchOptions {
  /** Datagrams in the rate run. */
  count: number;
  /** Datagrams in the round-trip run (one in flight). */
  latencyCount: number;
}

const MANIFEST = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } },
  {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bench-udp-echo', namespace: NAMESPACE },
    spec: { containers: [{ name: 'echo', image: 'udp-echo', env: [{ name: 'PORT', value: String(ECHO_PORT) }] }] },
  },
].map((item) => `---\n${JSON.stringify(item)}\n`).join('');


function rate(r: PingPongResult): number {
  return r.answered / (r.elapsedMs / 1000);
}

export async function benchUdp(options: UdpBenchOptions, log: (line: string) => void): Promise<CaseReport> {
  const report = emptyReport();
  const sandbox = await startSandbox();
  const kubeconfig = sandbox.kubeconfigPath;
  let cli: ReturnType<typeof startCli> | undefined;
  try {
    log('sandbox: starting the UDP echo pod');
    await kubectl(kubeconfig, ['apply', '-f', '-'], MANIFEST);
    await kubectl(kubeconfig, ['wait', '-n', NAMESPACE, '--for=condition=Ready', 'pod/bench-udp-echo', '--timeout=60s']);
    const echoIp = (await kubectl(kubeconfig, ['get', 'pod', '-n', NAMESPACE, 'bench-udp-echo', '-o', 'jsonpath={.status.podIP}'])).trim();
    cli = startCli(['port-forward', '-n', NAMESPACE, '-L', `0:${echoIp}:${ECHO_PORT}/udp`], kubeconfig);
    await cli.waitFor(/Ctrl-C to stop/, 60_000);
    const port = summaryPort(cli.output(), `→ ${echoIp}:${ECHO_PORT} udp`);

    log(`UDP echo rate: ${options.count} datagrams of ${SIZE} B, ${IN_FLIGHT} in flight, straight to the pod and through -L /udp`);
    // A short warm-up on each path, so neither pays for first-use costs inside the measurement.
    await pingPong(echoIp, ECHO_PORT, 500, SIZE, IN_FLIGHT);
    await pingPong('127.0.0.1', port, 500, SIZE, IN_FLIGHT);
    const direct = await pingPong(echoIp, ECHO_PORT, options.count, SIZE, IN_FLIGHT);
    const forward = await pingPong('127.0.0.1', port, options.count, SIZE, IN_FLIGHT);
    log('UDP echo round trip, one datagram in flight');
    const directRtt = await pingPong(echoIp, ECHO_PORT, options.latencyCount, SIZE, 1);
    const forwardRtt = await pingPong('127.0.0.1', port, options.latencyCount, SIZE, 1);

    const [directRate, forwardRate] = [rate(direct), rate(forward)];
    const p = (r: PingPongResult, q: number) => percentile(r.rttMs, q);
    report.measurements.push(
      { name: 'sandbox UDP: echo straight to the pod, 32 in flight', value: directRate, unit: 'datagrams/s' },
      { name: 'sandbox UDP: echo through -L /udp, 32 in flight', value: forwardRate, unit: 'datagrams/s' },
      { name: 'sandbox UDP: -L /udp datagrams lost in the rate run', value: forward.sent - forward.answered, unit: 'datagrams' },
      { name: 'sandbox UDP: round trip straight to the pod, p50', value: p(directRtt, 50), unit: 'ms' },
      { name: 'sandbox UDP: round trip straight to the pod, p99', value: p(directRtt, 99), unit: 'ms' },
      { name: 'sandbox UDP: round trip through -L /udp, p50', value: p(forwardRtt, 50), unit: 'ms' },
      { name: 'sandbox UDP: round trip through -L /udp, p99', value: p(forwardRtt, 99), unit: 'ms' },
    );
    report.ratios.udp_forward_vs_direct_rate = forwardRate / directRate;
    report.ratios.udp_forward_vs_direct_p50 = p(forwardRtt, 50) / p(directRtt, 50);
    report.ratios.udp_forward_vs_direct_p99 = p(forwardRtt, 99) / p(directRtt, 99);
    report.goals.push(
      { name: '-L /udp ≥ 20,000 datagrams/s of 512 B, 32 in flight', met: forwardRate >= 20_000, detail: `${forwardRate.toFixed(0)} datagrams/s` },
      {
        name: '-L /udp adds < 1 ms to the p50 round trip',
        met: p(forwardRtt, 50) - p(directRtt, 50) < 1,
        detail: `+${(p(forwardRtt, 50) - p(directRtt, 50)).toFixed(3)} ms`,
      },
    );
  } finally {
    if (cli) await cli.interrupt();
    await kubectl(kubeconfig, ['delete', 'namespace', NAMESPACE, '--wait=false']).catch(() => '');
    await sandbox.stop();
  }
  return report;
}

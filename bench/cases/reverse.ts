/**
 * port-forward -R (steal) through the sandbox's real path: an HTTP/1.1 client in the cluster's
 * network (this machine, through the pod IP) → the pod's iptables → the ephemeral agent → the
 * CLI's one portforward WebSocket → the user's app on loopback. Compared, in the same run, with
 * the same client going straight to the user's app: requests per second with keep-alive, and the
 * latency each request gains (p50, p99).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startSandbox } from '../../test/sandbox/harness.ts';
import { startCli } from '../../test/e2e/cli-process.ts';
import { repoRoot } from '../procs.ts';
import { emptyReport, type CaseReport } from '../report.ts';
import { latency, throughput } from '../http-load.ts';

const run = promisify(execFile);
const POD_PORT = 8080;

export interface ReverseBenchOptions {
  /** Sequential requests for the latency figures. */
  latencyCount: number;
  /** How long the requests-per-second run lasts, ms, and how many requests are in flight. */
  durationMs: number;
  concurrency: number;
}

export async function benchReverse(options: ReverseBenchOptions, log: (line: string) => void): Promise<CaseReport> {
  const report = emptyReport();
  const sandbox = await startSandbox();
  const kc = sandbox.kubeconfigPath;
  const env = { ...process.env, KUBECONFIG: kc };
  const app = http.createServer((_req, res) => res.end('local'));
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  const appPort = (app.address() as AddressInfo).port;
  try {
    log('applying the demo workload');
    await run('kubectl', ['apply', '-f', join(repoRoot, 'test/sandbox/demo.yaml')], { env });
    await run('kubectl', ['wait', '--for=condition=Available', 'deployment/ip-visit-counter', '--timeout=60s'], { env });
    const podIp = JSON.parse((await run('kubectl', ['get', 'pods', '-l', 'app=ip-visit-counter', '-o', 'json'], { env })).stdout)
      .items.find((p: any) => p.status.phase === 'Running' && !p.metadata.deletionTimestamp).status.podIP as string;

    log('direct to the user app');
    const directLatency = await latency('127.0.0.1', appPort, options.latencyCount);
    const directRps = await throughput('127.0.0.1', appPort, options.durationMs, options.concurrency);

    log('through -R (steal)');
    const cli = startCli(['port-forward', '-t', 'deployment/ip-visit-counter', '-R', `${POD_PORT}:${appPort}`, '--steal', '--agent-idle-timeout', '5s'], kc);
    try {
      await cli.waitFor(/Ctrl-C to stop/, 60_000);
      const reverseLatency = await latency(podIp, POD_PORT, options.latencyCount);
      const reverseRps = await throughput(podIp, POD_PORT, options.durationMs, options.concurrency);
      const addedP50 = reverseLatency.p50 - directLatency.p50;
      const addedP99 = reverseLatency.p99 - directLatency.p99;
      report.measurements.push(
        { name: 'HTTP/1.1 keep-alive, direct to the user app', value: directRps, unit: 'req/s' },
        { name: 'HTTP/1.1 keep-alive, stolen through -R', value: reverseRps, unit: 'req/s' },
        { name: 'request latency p50, direct', value: directLatency.p50, unit: 'ms' },
        { name: 'request latency p50, through -R', value: reverseLatency.p50, unit: 'ms' },
        { name: 'request latency p99, direct', value: directLatency.p99, unit: 'ms' },
        { name: 'request latency p99, through -R', value: reverseLatency.p99, unit: 'ms' },
        { name: '-R added latency p50', value: addedP50, unit: 'ms' },
        { name: '-R added latency p99', value: addedP99, unit: 'ms' },
      );
      report.ratios.reverse_rps_vs_direct = reverseRps / directRps;
      report.ratios.reverse_latency_p50_vs_direct = reverseLatency.p50 / directLatency.p50;
      report.ratios.reverse_latency_p99_vs_direct = reverseLatency.p99 / directLatency.p99;
      report.goals.push({ name: '-R added latency p50 under 1 ms', met: addedP50 < 1, detail: `${addedP50.toFixed(3)} ms` });
    } finally {
      await cli.interrupt();
    }
  } finally {
    app.closeAllConnections();
    app.close();
    await sandbox.stop();
  }
  return report;
}

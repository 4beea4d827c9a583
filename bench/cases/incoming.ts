/**
 * Stolen HTTP requests through `kubectl mirrord exec` incoming traffic, next to `port-forward -R
 * --steal` and next to going straight to the user's app, in the same run. The client is this
 * machine going to the ip-visit-counter pod's IP (the cluster's network), as in reverse.ts:
 *
 * - direct: client → the app on loopback (a plain process);
 * - -R:     client → the pod's iptables → the agent → the CLI's portforward WebSocket → the same
 *           plain app on loopback;
 * - exec:   client → the pod's iptables → the agent → the exec proxy's portforward WebSocket →
 *           the app run under `kubectl mirrord exec --steal`, listening on the pod's port (the
 *           layer's listen and accept).
 *
 * Each path: requests per second with keep-alive connections, and latency p50/p99 of sequential
 * requests; the added latency is the path's minus direct's. Each app answers with its label, and
 * the path is checked to reach the app it should before it is measured.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startSandbox } from '../../test/sandbox/harness.ts';
import { startCli, type CliProcess } from '../../test/e2e/cli-process.ts';
import { Proc, repoRoot } from '../procs.ts';
import { emptyReport, type CaseReport } from '../report.ts';
import { buildLayer } from '../../scripts/build.ts';
import { addedLatencyRatio, latency, throughput, type Latency } from '../http-load.ts';

const run = promisify(execFile);
const TARGET = 'deployment/ip-visit-counter';
const POD_PORT = 8080;
const APP = join(repoRoot, 'bench/incoming-app.ts');
/** How much slower than -R exec incoming may add, by the goal. */
const GOAL_FACTOR = 1.1;

export interface IncomingBenchOptions {
  /** Sequential requests for the latency figures. */
  latencyCount: number;
  /** How long the requests-per-second run lasts, ms, and how many requests are in flight. */
  durationMs: number;
  concurrency: number;
}

interface PathFigures {
  latency: Latency;
  rps: number;
}

/** Fails unless one request to host:port is answered by the app labelled `label`. */
async function assertReaches(host: string, port: number, label: string, path: string): Promise<void> {
  const res = await fetch(`http://${host}:${port}/bench`, { signal: AbortSignal.timeout(15_000) });
  const body = await res.text();
  if (res.status !== 200 || body !== label) throw new Error(`${path}: ${host}:${port} answered ${res.status} "${body.slice(0, 200)}", not the ${label} app`);
}

async function measure(host: string, port: number, options: IncomingBenchOptions): Promise<PathFigures> {
  const lat = await latency(host, port, options.latencyCount);
  const rps = await throughput(host, port, options.durationMs, options.concurrency);
  return { latency: lat, rps };
}

async function podIp(kubeconfig: string): Promise<string> {
  const { stdout } = await run('kubectl', ['get', 'pods', '-l', 'app=ip-visit-counter', '-o', 'json'], { env: { ...process.env, KUBECONFIG: kubeconfig } });
  const pod = JSON.parse(stdout).items.find((p: any) => p.status.phase === 'Running' && !p.metadata.deletionTimestamp);
  if (!pod) throw new Error('no running ip-visit-counter pod');
  return pod.status.podIP as string;
}

export async function benchIncoming(options: IncomingBenchOptions, log: (line: string) => void): Promise<CaseReport> {
  const report = emptyReport();
  buildLayer();
  const sandbox = await startSandbox();
  const kc = sandbox.kubeconfigPath;
  const plainApp = new Proc(APP, ['plain', '127.0.0.1', '0']);
  let cli: CliProcess | undefined;
  try {
    log('applying the demo workload');
    await run('kubectl', ['apply', '-f', join(repoRoot, 'test/sandbox/demo.yaml')], { env: { ...process.env, KUBECONFIG: kc } });
    await run('kubectl', ['wait', '--for=condition=Available', TARGET, '--timeout=60s'], { env: { ...process.env, KUBECONFIG: kc } });
    const ip = await podIp(kc);
    const appPort = await plainApp.port();

    log('incoming: direct to the user app');
    await assertReaches('127.0.0.1', appPort, 'plain', 'direct');
    const direct = await measure('127.0.0.1', appPort, options);

    log('incoming: through port-forward -R --steal');
    cli = startCli(['port-forward', '-t', TARGET, '-R', `${POD_PORT}:${appPort}`, '--steal', '--agent-idle-timeout', '5s'], kc);
    await cli.waitFor(/Ctrl-C to stop/, 60_000);
    await assertReaches(ip, POD_PORT, 'plain', '-R');
    const reverse = await measure(ip, POD_PORT, options);
    await cli.interrupt();
    cli = undefined;

    log('incoming: through kubectl mirrord exec --steal');
    cli = startCli(['exec', '-t', TARGET, '--steal', '--agent-idle-timeout', '5s', '--', process.execPath, APP, 'exec', '0.0.0.0', String(POD_PORT)], kc);
    await cli.waitFor(/"event":"listening"/, 120_000);
    await assertReaches(ip, POD_PORT, 'exec', 'exec');
    const exec = await measure(ip, POD_PORT, options);

    const added = (f: PathFigures) => ({ p50: f.latency.p50 - direct.latency.p50, p99: f.latency.p99 - direct.latency.p99 });
    const reverseAdded = added(reverse);
    const execAdded = added(exec);
    report.measurements.push(
      { name: 'incoming: HTTP/1.1 keep-alive, direct to the user app', value: direct.rps, unit: 'req/s' },
      { name: 'incoming: HTTP/1.1 keep-alive, stolen through -R', value: reverse.rps, unit: 'req/s' },
      { name: 'incoming: HTTP/1.1 keep-alive, stolen through exec', value: exec.rps, unit: 'req/s' },
      { name: 'incoming: request latency p50, direct', value: direct.latency.p50, unit: 'ms' },
      { name: 'incoming: request latency p99, direct', value: direct.latency.p99, unit: 'ms' },
      { name: 'incoming: -R added latency p50', value: reverseAdded.p50, unit: 'ms' },
      { name: 'incoming: -R added latency p99', value: reverseAdded.p99, unit: 'ms' },
      { name: 'incoming: exec added latency p50', value: execAdded.p50, unit: 'ms' },
      { name: 'incoming: exec added latency p99', value: execAdded.p99, unit: 'ms' },
    );
    report.ratios.exec_incoming_added_latency_p50_vs_reverse = addedLatencyRatio(exec.latency.p50, reverse.latency.p50, direct.latency.p50);
    report.ratios.exec_incoming_added_latency_p99_vs_reverse = addedLatencyRatio(exec.latency.p99, reverse.latency.p99, direct.latency.p99);
    report.ratios.exec_incoming_rps_vs_reverse = exec.rps / reverse.rps;
    for (const q of ['p50', 'p99'] as const) {
      const ratio = report.ratios[`exec_incoming_added_latency_${q}_vs_reverse`];
      const figures = `exec adds ${execAdded[q].toFixed(3)} ms, -R ${reverseAdded[q].toFixed(3)} ms`;
      report.goals.push({
        name: `exec incoming added latency ${q} within ${GOAL_FACTOR}x of -R`,
        met: ratio <= GOAL_FACTOR,
        // NaN: -R measured no slower than direct at this quantile (noise), so there is nothing to compare with.
        detail: Number.isNaN(ratio) ? `not measurable in this run: ${figures} (direct ${direct.latency[q].toFixed(3)} ms)` : `${ratio.toFixed(2)}x (${figures})`,
      });
    }
  } finally {
    if (cli) await cli.interrupt();
    plainApp.kill();
    await sandbox.stop();
  }
  return report;
}

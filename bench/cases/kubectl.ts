/**
 * The anchor: `kubectl port-forward`, the tool a user would otherwise pick, next to our `-L` in the
 * same run, on the sandbox, to the same pods, through the same API server and kubelet. Our path has
 * one hop more (the agent pod, which is what lets -L reach any address); kubectl's goes straight to
 * the pod's port.
 *
 * Besides throughput it records the CPU seconds each process spends per GB moved (proc(5),
 * /proc/<pid>/stat utime + stime): our CLI and agent, kubectl, and the sandbox daemon (API server and
 * kubelet in one process). On a 2-core machine every process on the path competes for the same
 * cores, so CPU per byte is the figure that stays meaningful on a laptop with a far-away cluster.
 *
 * Our CLI runs as it ships: the single executable's bundle (scripts/release/sea.ts), run by this
 * Node with the executable's options (src/node-options.ts). Run from source, type stripping and
 * ~1,000 module files of client-node add ~75 MB of RSS and a larger heap that every garbage
 * collection must mark.
 *
 * Then a memory sequence through a fresh CLI: 1 GiB down, 1 GiB up, 8 connections doing 10,000
 * round trips, 1,000 concurrent SOCKS connections; its RSS idle before the sequence (connected, no
 * traffic yet), its peak RSS, and its RSS 10 s later.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { startSandbox } from '../../test/sandbox/harness.ts';
import { readState } from '../../test/sandbox/lifecycle.ts';
import { startCliCommand, type CliProcess } from '../../test/e2e/cli-process.ts';
import { bundleCli } from '../../scripts/release/sea.ts';
import { buildMemoryAddon } from '../../scripts/build.ts';
import { CLI_NODE_OPTIONS } from '../../src/node-options.ts';
import { mkdirSync } from 'node:fs';
import { cpuSeconds, findPidsWithEnv, freePort, kubectl, peakRssBytes, ProcGroup, repoRoot, rssBytes } from '../procs.ts';
import { emptyReport, type CaseReport } from '../report.ts';

const GB = 1e9;
const MB = 1024 * 1024;
const NAMESPACE = 'kmanchor';
const SOURCE_PORT = 9100;
const SINK_PORT = 9101;
const ECHO_PORT = 9102;

export interface KubectlBenchOptions {
  /** Bytes per transfer. */
  bytes: number;
  rounds: number;
  /** Round trips per connection of the request/response workload (8 connections). */
  roundTrips: number;
  latencyCount: number;
  /** Bytes each way in the memory sequence; 0 skips the sequence. */
  memoryBytes: number;
  /** Run the CLI from source (bin/kubectl-mirrord, type stripping) instead of as it ships. */
  cliFromSource?: boolean;
}



function manifest(bytes: number): string {
  const traffic = `${repoRoot}bench/traffic.ts`;
  const pod = (name: string, args: string[]) => ({
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace: NAMESPACE, labels: { app: name } },
    spec: { containers: [{ name, image: 'node', command: ['node', traffic, ...args, '--listen-host', '0.0.0.0'] }] },
  });
  const items = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } },
    pod('anchor-source', ['source', '--bytes', String(bytes), '--listen-port', String(SOURCE_PORT)]),
    pod('anchor-sink', ['sink', '--listen-port', String(SINK_PORT)]),
    pod('anchor-echo', ['echo', '--listen-port', String(ECHO_PORT)]),
  ];
  return items.map((item) => `---\n${JSON.stringify(item)}\n`).join('');
}

/** One `kubectl port-forward pod/NAME LOCAL:PORT`, running until killed. */
async function kubectlForward(kubeconfig: string, pod: string, port: number): Promise<{ child: ChildProcess; localPort: number }> {
  const localPort = await freePort();
  const child = spawn('kubectl', ['port-forward', '-n', NAMESPACE, `pod/${pod}`, `${localPort}:${port}`], {
    env: { ...process.env, KUBECONFIG: kubeconfig }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`kubectl port-forward ${pod} did not start: ${out}`)), 30_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (/Forwarding from 127\.0\.0\.1/.test(out)) { clearTimeout(timer); resolve(); }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`kubectl port-forward exited (${code}): ${out}`)); });
  });
  return { child, localPort };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** CPU seconds used by a set of processes (summed), read now. */
type CpuSnapshot = Record<string, number>;

export async function benchKubectl(options: KubectlBenchOptions, log: (line: string) => void): Promise<CaseReport> {
  const report = emptyReport();
  const sandbox = await startSandbox();
  const group = new ProcGroup();
  const kubeconfig = sandbox.kubeconfigPath;
  const forwards: ChildProcess[] = [];
  const bundleDir = `${repoRoot}dist/bench-cli`;
  mkdirSync(bundleDir, { recursive: true });
  const cliCommand = options.cliFromSource
    ? ['kubectl', 'mirrord']
    : [process.execPath, ...CLI_NODE_OPTIONS, await bundleCli(repoRoot, bundleDir)];
  // As it ships, the CLI has its memory addon beside it (src/cli/memory-addon.ts); from the
  // checkout it finds build/native/.
  buildMemoryAddon();
  log(`anchor: our CLI runs ${options.cliFromSource ? 'from source (bin/kubectl-mirrord)' : 'as it ships (bundled)'}`);
  const startCli = (args: string[]) => startCliCommand(cliCommand, args, kubeconfig);
  let cli: CliProcess | undefined;
  let memoryCli: CliProcess | undefined;
  try {
    log('anchor: starting the target pods');
    await kubectl(kubeconfig, ['apply', '-f', '-'], manifest(options.bytes));
    await kubectl(kubeconfig, ['wait', '-n', NAMESPACE, '--for=condition=Ready', 'pod', '--all', '--timeout=60s']);
    const ip = async (name: string) => (await kubectl(kubeconfig, ['get', 'pod', '-n', NAMESPACE, name, '-o', 'jsonpath={.status.podIP}'])).trim();
    const [sourceIp, sinkIp, echoIp] = [await ip('anchor-source'), await ip('anchor-sink'), await ip('anchor-echo')];

    const ours = { source: await freePort(), sink: await freePort(), echo: await freePort() };
    cli = startCli(['port-forward', '-n', NAMESPACE,
      '-L', `${ours.source}:${sourceIp}:${SOURCE_PORT}`, '-L', `${ours.sink}:${sinkIp}:${SINK_PORT}`, '-L', `${ours.echo}:${echoIp}:${ECHO_PORT}`]);
    await cli.waitFor(/agent ready/, 60_000);
    const theirs = {
      source: await kubectlForward(kubeconfig, 'anchor-source', SOURCE_PORT),
      sink: await kubectlForward(kubeconfig, 'anchor-sink', SINK_PORT),
      echo: await kubectlForward(kubeconfig, 'anchor-echo', ECHO_PORT),
    };
    forwards.push(theirs.source.child, theirs.sink.child, theirs.echo.child);

    const daemonPid = readState()?.pid ?? NaN;
    const agentPids = findPidsWithEnv('MIRRORD_AGENT_TOKEN_SHA256');
    const cliPid = cli.child.pid ?? NaN;
    const kubectlPids = forwards.map((f) => f.pid ?? NaN);
    const snapshot = (): CpuSnapshot => ({
      cli: cpuSeconds(cliPid),
      agent: agentPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0),
      kubectl: kubectlPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0),
      daemon: cpuSeconds(daemonPid),
    });
    const spent = (before: CpuSnapshot, after: CpuSnapshot): CpuSnapshot =>
      Object.fromEntries(Object.keys(before).map((k) => [k, after[k] - before[k]]));

    /** Runs `rounds` transfers; returns the median GB/s and the CPU seconds per GB of each process. */
    const transfers = async (what: string, transfer: () => Promise<{ bytes: number; ms: number }>) => {
      const rates: number[] = [];
      let bytes = 0;
      const cpu: CpuSnapshot = { cli: 0, agent: 0, kubectl: 0, daemon: 0 };
      for (let round = 0; round < options.rounds; round++) {
        const before = snapshot();
        const result = await transfer();
        const used = spent(before, snapshot());
        for (const k of Object.keys(cpu)) cpu[k] += used[k];
        bytes += result.bytes;
        rates.push(result.bytes / (result.ms / 1000) / GB);
      }
      const perGb = Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, v / (bytes / GB)]));
      log(`${what}: ${median(rates).toFixed(3)} GB/s; CPU s/GB ${JSON.stringify(perGb, (_, v: unknown) => (typeof v === 'number' ? Number(v.toFixed(2)) : v))}`);
      return { rate: median(rates), perGb };
    };
    const download = (port: number) => async () => {
      const receiver = group.start('bench/traffic.ts', ['recv', '--port', String(port)]);
      const got = await receiver.next('received', 300_000);
      return { bytes: Number(got.bytes), ms: Number(got.ms) };
    };
    const upload = (port: number) => async () => {
      const sender = group.start('bench/traffic.ts', ['send', '--bytes', String(options.bytes), '--port', String(port)]);
      const sent = await sender.next('sent', 300_000);
      return { bytes: Number(sent.bytes), ms: Number(sent.ms) };
    };

    log(`anchor: ${options.rounds} × ${Math.round(options.bytes / MB)} MiB down and up, through -L and through kubectl port-forward`);
    const downOurs = await transfers('download, -L', download(ours.source));
    const downTheirs = await transfers('download, kubectl port-forward', download(theirs.source.localPort));
    const upOurs = await transfers('upload, -L', upload(ours.sink));
    const upTheirs = await transfers('upload, kubectl port-forward', upload(theirs.sink.localPort));

    log('anchor: 8 connections of small request/response');
    const requests = async (port: number) => {
      const client = group.start('bench/traffic.ts', ['pingpong', '--port', String(port), '--connections', '8', '--count', String(options.roundTrips)]);
      const done = await client.next('pingpong', 300_000);
      return Number(done.roundTrips) / (Number(done.ms) / 1000);
    };
    const rpsOurs = await requests(ours.echo);
    const rpsTheirs = await requests(theirs.echo.localPort);

    log('anchor: connection setup latency');
    const latency = async (port: number) => {
      const prober = group.start('bench/traffic.ts', ['latency', '--count', String(options.latencyCount), '--port', String(port)]);
      return prober.next('latency', 120_000);
    };
    const latOurs = await latency(ours.echo);
    const latTheirs = await latency(theirs.echo.localPort);

    report.measurements.push(
      { name: 'anchor: download through -L, median', value: downOurs.rate, unit: 'GB/s' },
      { name: 'anchor: download through kubectl port-forward, median', value: downTheirs.rate, unit: 'GB/s' },
      { name: 'anchor: upload through -L, median', value: upOurs.rate, unit: 'GB/s' },
      { name: 'anchor: upload through kubectl port-forward, median', value: upTheirs.rate, unit: 'GB/s' },
      { name: 'anchor: 8-connection request/response through -L', value: rpsOurs, unit: 'round trips/s' },
      { name: 'anchor: 8-connection request/response through kubectl port-forward', value: rpsTheirs, unit: 'round trips/s' },
      { name: 'anchor: connect + 1-byte echo through -L, p50', value: Number(latOurs.p50), unit: 'ms' },
      { name: 'anchor: connect + 1-byte echo through kubectl port-forward, p50', value: Number(latTheirs.p50), unit: 'ms' },
    );
    for (const [direction, oursRun, theirsRun] of [['download', downOurs, downTheirs], ['upload', upOurs, upTheirs]] as const) {
      report.measurements.push(
        { name: `anchor CPU per GB, ${direction}: our CLI`, value: oursRun.perGb.cli, unit: 's/GB' },
        { name: `anchor CPU per GB, ${direction}: our agent`, value: oursRun.perGb.agent, unit: 's/GB' },
        { name: `anchor CPU per GB, ${direction}: sandbox daemon on our path`, value: oursRun.perGb.daemon, unit: 's/GB' },
        { name: `anchor CPU per GB, ${direction}: kubectl`, value: theirsRun.perGb.kubectl, unit: 's/GB' },
        { name: `anchor CPU per GB, ${direction}: sandbox daemon on kubectl's path`, value: theirsRun.perGb.daemon, unit: 's/GB' },
      );
    }
    report.ratios.portforward_vs_kubectl_download = downOurs.rate / downTheirs.rate;
    report.ratios.portforward_vs_kubectl_upload = upOurs.rate / upTheirs.rate;
    report.ratios.portforward_vs_kubectl_requests = rpsOurs / rpsTheirs;
    report.ratios.cli_cpu_per_gb_vs_kubectl_download = downOurs.perGb.cli / downTheirs.perGb.kubectl;
    report.ratios.cli_cpu_per_gb_vs_kubectl_upload = upOurs.perGb.cli / upTheirs.perGb.kubectl;
    report.ratios.sandbox_cpu_per_gb_vs_kubectl = (downOurs.perGb.daemon + upOurs.perGb.daemon) / (downTheirs.perGb.daemon + upTheirs.perGb.daemon);
    const ratioGoal = (name: string, value: number, limit: number) =>
      report.goals.push({ name, met: value <= limit, detail: `${value.toFixed(2)} ×` });
    ratioGoal('CLI CPU per GB ≤ 1.5 × kubectl, download', report.ratios.cli_cpu_per_gb_vs_kubectl_download, 1.5);
    ratioGoal('CLI CPU per GB ≤ 1.5 × kubectl, upload', report.ratios.cli_cpu_per_gb_vs_kubectl_upload, 1.5);
    ratioGoal('sandbox daemon CPU per GB on our path ≤ 1.1 × kubectl\'s', report.ratios.sandbox_cpu_per_gb_vs_kubectl, 1.1);
    for (const name of ['portforward_vs_kubectl_download', 'portforward_vs_kubectl_upload', 'portforward_vs_kubectl_requests']) {
      const value = report.ratios[name];
      report.goals.push({ name: `${name} ≥ 1.0 (where CPU is not the limit)`, met: value >= 1, detail: `${value.toFixed(2)} ×` });
    }

    if (options.memoryBytes > 0) {
      log('memory: a fresh CLI through one -L and SOCKS: down, up, 8 × 10,000 round trips, 1,000 SOCKS connections');
      const socksPort = await freePort();
      const memory = { source: await freePort(), sink: await freePort(), echo: await freePort() };
      memoryCli = startCli(['port-forward', '-n', NAMESPACE,
        '-L', `${memory.source}:${sourceIp}:${SOURCE_PORT}`, '-L', `${memory.sink}:${sinkIp}:${SINK_PORT}`, '-L', `${memory.echo}:${echoIp}:${ECHO_PORT}`,
        '--socks', `127.0.0.1:${socksPort}`]);
      await memoryCli.waitFor(/agent ready/, 60_000);
      const pid = memoryCli.child.pid ?? NaN;
      // The floor the settled figure is judged against: the same CLI, connected and idle, before any
      // traffic (most of it is the Kubernetes client library's load, not the session).
      await sleep(2_000);
      const idle = rssBytes(pid) / MB;
      for (let moved = 0; moved < options.memoryBytes; moved += options.bytes) await download(memory.source)();
      for (let moved = 0; moved < options.memoryBytes; moved += options.bytes) await upload(memory.sink)();
      const client = group.start('bench/traffic.ts', ['pingpong', '--port', String(memory.echo), '--connections', '8', '--count', '10000']);
      await client.next('pingpong', 600_000);
      const socks = group.start('bench/traffic.ts', ['send', '--socks', `127.0.0.1:${socksPort}`, '--host', sinkIp, '--port', String(SINK_PORT),
        '--connections', '1000', '--bytes', String(1000 * 64 * 1024)]);
      await socks.next('sent', 300_000);
      const peak = peakRssBytes(pid) / MB;
      await sleep(10_000);
      const settled = rssBytes(pid) / MB;
      report.measurements.push(
        { name: 'memory sequence: CLI RSS idle, before it', value: idle, unit: 'MB' },
        { name: 'memory sequence: CLI peak RSS', value: peak, unit: 'MB' },
        { name: 'memory sequence: CLI RSS 10 s after', value: settled, unit: 'MB' },
      );
      report.ratios.cli_rss_idle_mb = idle;
      report.ratios.cli_rss_peak_mb = peak;
      report.ratios.cli_rss_settled_mb = settled;
      report.goals.push(
        { name: 'CLI peak RSS < 150 MB over the memory sequence', met: peak < 150, detail: `${peak.toFixed(0)} MB` },
        { name: 'CLI RSS < 100 MB 10 s after the sequence', met: settled < 100, detail: `${settled.toFixed(0)} MB` },
      );
    }
  } finally {
    group.killAll();
    for (const child of forwards) child.kill('SIGKILL');
    if (cli) await cli.interrupt();
    if (memoryCli) await memoryCli.interrupt();
    await kubectl(kubeconfig, ['delete', 'namespace', NAMESPACE, '--wait=false']).catch(() => '');
    await sandbox.stop();
  }
  return report;
}

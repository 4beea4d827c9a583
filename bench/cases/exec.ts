/**
 * `kubectl mirrord exec` on the sandbox: one python3 program under exec measures, through the
 * layer, the proxy and the agent,
 * - opening, reading and closing a 4 KiB remote file 1,000 times (p50 per file);
 * - reading a 64 MiB remote file (throughput);
 * - 1,000 getaddrinfo calls of a Service name (p50);
 * - 1,000 outgoing connects with a 1-byte echo each (p50), to the echo Service's address resolved
 *   once before the loop,
 * and the same connect loop runs from this machine through `port-forward -L` to the same echo
 * Service, for the ratio: both loops connect to an address, so neither pays a name lookup per
 * connection (-L's is 127.0.0.1, and its spec names the Service's ClusterIP, since the agent
 * resolves a name in the spec for every connection). The same loop by name (Python's `create_connection`, which looks
 * the name up with AF_UNSPEC on every call) is reported beside it, outside the goal. The target is a debian pod whose emptyDir volume (remote, as every mount
 * of the target is) holds the two files, with a one-process echo server beside it.
 */
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSandbox } from '../../test/sandbox/harness.ts';
import { BIN, startCli, summaryPort } from '../../test/e2e/cli-process.ts';
import { kubectl } from '../procs.ts';
import { emptyReport, type CaseReport } from '../report.ts';
import { buildLayer } from '../../scripts/build.ts';

const NAMESPACE = 'kmbench-exec';
const ECHO_PORT = 7000;
const BIG = 64 * 1024 * 1024;

export interface ExecBenchOptions {
  /** Opens of the small file, getaddrinfo calls, connects. */
  count: number;
}

/**
 * The echo beside the files: one asyncio process for every connection. A forking echo (socat's
 * fork + EXEC:cat) would charge each connect a fork and an exec, which -L's byte waits out while
 * exec's overlaps with its OPEN_OK wait, and the ratio would measure socat rather than us.
 */
const ECHO_SERVER = [
  'import asyncio',
  'async def echo(r, w):',
  '    while data := await r.read(65536):',
  '        w.write(data)',
  '        await w.drain()',
  '    w.close()',
  'async def main():',
  `    server = await asyncio.start_server(echo, "0.0.0.0", ${ECHO_PORT})`,
  '    await server.serve_forever()',
  'asyncio.run(main())',
].join('\n');

const MANIFEST = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } },
  {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'bench-exec', namespace: NAMESPACE },
    spec: {
      replicas: 1, selector: { matchLabels: { app: 'bench-exec' } },
      template: {
        metadata: { labels: { app: 'bench-exec' } },
        spec: {
          containers: [{
            name: 'app', image: 'debian:bookworm', command: ['/bin/sh', '-c'],
            args: [`head -c 4096 /dev/urandom > /data/small && head -c ${BIG} /dev/urandom > /data/big && touch /data/ready && exec python3 -c '${ECHO_SERVER}'`],
            readinessProbe: { exec: { command: ['test', '-f', '/data/ready'] }, periodSeconds: 1 },
            volumeMounts: [{ name: 'data', mountPath: '/data' }],
          }],
          volumes: [{ name: 'data', emptyDir: {} }],
        },
      },
    },
  },
  {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'bench-echo', namespace: NAMESPACE },
    spec: { selector: { app: 'bench-exec' }, ports: [{ port: ECHO_PORT, targetPort: ECHO_PORT }] },
  },
].map((item) => `---\n${JSON.stringify(item)}\n`).join('');

/** The measuring program: prints one JSON line. argv: mode (all | connect), host, port, count. */
const PROGRAM = `
import json, socket, sys, time
mode, host, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
p50 = lambda xs: sorted(xs)[len(xs) // 2]
out = {}
def connects(by_name):
    addr = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)[0][4]
    times = []
    for _ in range(n):
        t = time.perf_counter()
        if by_name:
            s = socket.create_connection((host, port))
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.connect(addr)
        s.sendall(b"x")
        assert s.recv(1) == b"x"
        s.close()
        times.append((time.perf_counter() - t) * 1000)
    return p50(times)
if mode == "all":
    times = []
    for _ in range(n):
        t = time.perf_counter()
        with open("/data/small", "rb") as f:
            assert len(f.read()) == 4096
        times.append((time.perf_counter() - t) * 1000)
    out["small_p50_ms"] = p50(times)
    t = time.perf_counter()
    with open("/data/big", "rb") as f:
        size = len(f.read())
    out["big_mb_s"] = size / (time.perf_counter() - t) / 1e6
    out["big_bytes"] = size
    times = []
    for _ in range(n):
        t = time.perf_counter()
        socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)
        times.append((time.perf_counter() - t) * 1000)
    out["gai_p50_ms"] = p50(times)
    out["connect_by_name_p50_ms"] = connects(True)
out["connect_p50_ms"] = connects(False)
if mode == "connect":
    # One open connection: 1-byte round trips, the path's own latency once no open is in the way.
    addr = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)[0][4]
    s = socket.create_connection(addr)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        s.sendall(b"x")
        assert s.recv(1) == b"x"
        times.append((time.perf_counter() - t) * 1000)
    s.close()
    out["round_trip_p50_ms"] = p50(times)
print(json.dumps(out))
`;

export async function benchExec(options: ExecBenchOptions, log: (line: string) => void): Promise<CaseReport> {
  const report = emptyReport();
  // The program below preloads the layer: build it, as the tests do (a no-op when up to date).
  buildLayer();
  const sandbox = await startSandbox();
  const kubeconfig = sandbox.kubeconfigPath;
  let cli: ReturnType<typeof startCli> | undefined;
  try {
    log('sandbox: starting the exec bench target (64 MiB + 4 KiB files, TCP echo)');
    await kubectl(kubeconfig, ['apply', '-f', '-'], MANIFEST);
    await kubectl(kubeconfig, ['wait', '-n', NAMESPACE, '--for=condition=Available', 'deployment/bench-exec', '--timeout=120s']);
    const env = { ...process.env, PATH: `${BIN}:${process.env.PATH}`, KUBECONFIG: kubeconfig, NO_COLOR: '1' };
    log(`exec: ${options.count} small-file reads, one 64 MiB read, ${options.count} getaddrinfo, ${options.count} connects`);
    const config = JSON.stringify({ feature: { fs: { max_file_size: 2 * BIG } } });
    const configPath = join(process.env.TMPDIR ?? '/tmp', `kmbench-exec-${process.pid}.json`);
    writeFileSync(configPath, config);
    const run = spawnSync('kubectl', ['mirrord', 'exec', '-n', NAMESPACE, '-t', 'deployment/bench-exec', '-f', configPath, '--', 'python3', '-c', PROGRAM, 'all', 'bench-echo', String(ECHO_PORT), String(options.count)], { env, encoding: 'utf8', timeout: 600_000 });
    if (run.status !== 0) throw new Error(`exec bench program failed (${run.status}): ${run.stderr}`);
    const viaExec = JSON.parse(run.stdout.trim().split('\n').pop() as string) as { small_p50_ms: number; big_mb_s: number; big_bytes: number; gai_p50_ms: number; connect_p50_ms: number; connect_by_name_p50_ms: number };
    if (viaExec.big_bytes !== BIG) throw new Error(`the 64 MiB read returned ${viaExec.big_bytes} bytes`);

    // -L to the Service's address, not its name: a name in -L's spec is resolved by the agent for
    // every connection, while exec's loop resolved it once.
    const echoIp = (await kubectl(kubeconfig, ['get', 'service', '-n', NAMESPACE, 'bench-echo', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    cli = startCli(['port-forward', '-n', NAMESPACE, '-L', `0:${echoIp}:${ECHO_PORT}`], kubeconfig);
    await cli.waitFor(/Ctrl-C to stop/, 60_000);
    const port = summaryPort(cli.output(), `→ ${echoIp}:${ECHO_PORT}`);
    log(`-L: ${options.count} connects with a 1-byte echo`);
    const direct = spawnSync('python3', ['-c', PROGRAM, 'connect', '127.0.0.1', String(port), String(options.count)], { encoding: 'utf8', timeout: 600_000 });
    if (direct.status !== 0) throw new Error(`-L connect loop failed: ${direct.stderr}`);
    const viaL = JSON.parse(direct.stdout.trim()) as { connect_p50_ms: number; round_trip_p50_ms: number };

    report.measurements.push(
      { name: 'exec: open+read+close of a 4 KiB remote file, p50', value: viaExec.small_p50_ms, unit: 'ms' },
      { name: 'exec: read of a 64 MiB remote file', value: viaExec.big_mb_s, unit: 'MB/s' },
      { name: 'exec: getaddrinfo of a Service name, p50', value: viaExec.gai_p50_ms, unit: 'ms' },
      { name: 'exec: connect + 1-byte echo, p50', value: viaExec.connect_p50_ms, unit: 'ms' },
      { name: 'exec: create_connection by name (getaddrinfo + connect) + 1-byte echo, p50', value: viaExec.connect_by_name_p50_ms, unit: 'ms' },
      { name: 'port-forward -L: connect + 1-byte echo, p50', value: viaL.connect_p50_ms, unit: 'ms' },
    );
    report.ratios.exec_connect_vs_forward_p50 = viaExec.connect_p50_ms / viaL.connect_p50_ms;
    // Where exec's extra goes: its connect waits for the agent's OPEN_OK before it returns (the
    // program sees the pod's real result), while -L sends the first byte right behind its OPEN. So
    // exec should cost about -L plus one round trip to the agent, measured here as a 1-byte echo on
    // an open -L connection. A ratio near 1 says the difference is that wait; well above 1, that
    // something else costs.
    const extra = viaExec.connect_p50_ms - viaL.connect_p50_ms;
    report.measurements.push(
      { name: 'port-forward -L: 1-byte round trip on an open connection, p50', value: viaL.round_trip_p50_ms, unit: 'ms' },
      { name: 'exec connect p50 − -L connect p50 (the OPEN_OK wait and the proxy hop)', value: extra, unit: 'ms' },
    );
    report.ratios.exec_connect_extra_vs_round_trip = extra / viaL.round_trip_p50_ms;
    report.goals.push(
      { name: 'exec: remote small-file open and read p50 < 2 ms', met: viaExec.small_p50_ms < 2, detail: `${viaExec.small_p50_ms.toFixed(2)} ms` },
      { name: 'exec: getaddrinfo p50 < 1 ms', met: viaExec.gai_p50_ms < 1, detail: `${viaExec.gai_p50_ms.toFixed(2)} ms` },
      { name: 'exec: outgoing connect p50 within 1.2x of -L', met: viaExec.connect_p50_ms <= 1.2 * viaL.connect_p50_ms, detail: `${report.ratios.exec_connect_vs_forward_p50.toFixed(2)}x` },
    );
    rmSync(configPath, { force: true });
  } finally {
    if (cli) await cli.interrupt();
    await kubectl(kubeconfig, ['delete', 'namespace', NAMESPACE, '--wait=false']).catch(() => '');
    await sandbox.stop();
  }
  return report;
}

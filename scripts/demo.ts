/**
 * `npm run demo`: the sandbox cluster with the demo workload, and kubectl-mirrord forwarding
 * 127.0.0.1:8080 to the ip-visit-counter Service and a SOCKS5 server on 127.0.0.1:1080, in the
 * foreground. Ctrl-C removes the agent (the CLI does that), then brings the sandbox down if this
 * script started it (a sandbox someone else started is left running).
 */
import { spawn, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { PATHS } from '../test/sandbox/apiserver/paths.ts';
import { down, requireRoot, up, withLock } from '../test/sandbox/lifecycle.ts';
import { REPO } from '../test/e2e/cli-process.ts';

const env = { ...process.env, KUBECONFIG: PATHS.kubeconfig, PATH: `${join(REPO, 'bin')}:${process.env.PATH}` };

function kubectl(...args: string[]): void {
  execFileSync('kubectl', args, { env, stdio: ['ignore', 'ignore', 'inherit'] });
}

const USAGE = `
Try it:
  curl http://127.0.0.1:8080/count                                         # -L to the ip-visit-counter Service
  curl --socks5-hostname 127.0.0.1:1080 http://ip-info/info?ip=10.0.0.1    # SOCKS5: names resolve in the cluster
  curl --socks5-hostname 127.0.0.1:1080 http://ip-visit-counter.default.svc.cluster.local/
  chromium --proxy-server=socks5://127.0.0.1:1080 http://ip-visit-counter.default/
    (Chromium resolves names through the SOCKS proxy; it never proxies 127.0.0.1 or localhost)

The same with your own tools:  export KUBECONFIG=${PATHS.kubeconfig}
                               kubectl get pods
Ctrl-C stops the demo.
`;

async function main(): Promise<number> {
  requireRoot();
  // The sandbox runs the agent from the release's image, built offline from inputs fetched once
  // (the platforms' Node from npm, the image's .debs from Debian); fetching again is a no-op.
  process.stderr.write('fetching the agent image\'s inputs (once; npm and Debian packages)...\n');
  execFileSync(process.execPath, [join(REPO, 'scripts/release.ts'), '--fetch'], { stdio: ['ignore', 'ignore', 'inherit'] });
  process.stderr.write('starting the sandbox cluster (the first start builds the agent image, about a minute)...\n');
  const { started } = await withLock(up);
  try {
    process.stderr.write('deploying the demo workload (test/sandbox/demo.yaml)...\n');
    kubectl('apply', '-f', join(REPO, 'test/sandbox/demo.yaml'));
    kubectl('wait', '--for=condition=Available', 'deployment/ip-info', 'deployment/ip-visit-counter', '--timeout=90s');
    process.stderr.write(USAGE);
    // The CLI runs in its own process group and gets exactly one SIGINT from us: a second one would
    // tell it to skip removing the agent.
    const cli = spawn('kubectl', ['mirrord', 'port-forward', '-L', '8080:ip-visit-counter:80', '--socks', '1080'], { env, stdio: 'inherit', detached: true });
    process.on('SIGINT', () => cli.kill('SIGINT'));
    process.on('SIGTERM', () => cli.kill('SIGINT'));
    const code = await new Promise<number>((resolve) => cli.on('exit', (c, signal) => resolve(c ?? (signal ? 130 : 1))));
    return code;
  } finally {
    if (started) {
      process.stderr.write('stopping the sandbox cluster...\n');
      await withLock(down);
    }
  }
}

process.exitCode = await main();

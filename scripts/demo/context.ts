/**
 * Where the demo runs: the sandbox cluster (brought up here unless it already runs, and brought
 * down at the end only if the demo started it), its kubeconfig, the environment every CLI
 * process gets (kubectl-mirrord from this checkout's bin/ on PATH), the demo workload, and what
 * the cluster holds for the checks (the ConfigMap's greeting, the Secret's API key).
 */
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PATHS } from '../../test/sandbox/apiserver/paths.ts';
import { down, requireRoot, up, withLock } from '../../test/sandbox/lifecycle.ts';
import { REPO } from '../../test/e2e/cli-process.ts';
import { buildLayer } from '../build.ts';

const run = promisify(execFile);

export { REPO };
export const KUBECONFIG = PATHS.kubeconfig;

/** The environment of every process the demo starts. */
export const DEMO_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  KUBECONFIG,
  PATH: `${join(REPO, 'bin')}:${process.env.PATH}`,
  NO_COLOR: '1',
};

export const WORKLOAD = 'test/sandbox/demo.yaml';
export const TARGET = 'deployment/ip-visit-counter';

/** What the cluster holds for the ip-visit-counter, read with kubectl (the checks compare against it). */
export interface ClusterTruth {
  /** The ConfigMap's GREETING, which the pod gets as an environment variable. */
  greeting: string;
  /** The Secret's api-key, which the pod reads from a mounted file. */
  apiKey: string;
}

export async function kubectl(args: string[]): Promise<string> {
  const { stdout } = await run('kubectl', args, { env: DEMO_ENV, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/**
 * Builds the exec layer and fetches the agent image's inputs (each a no-op once done), and starts
 * the sandbox unless a healthy one runs. @returns whether this call started it (then only the demo may bring it down).
 * @throws Error when not root on Linux, or when the layer does not build or the sandbox does not come up.
 */
export async function bringUpSandbox(say: (line: string) => void): Promise<{ started: boolean }> {
  requireRoot();
  say('building the exec layer (make -C layer; a no-op once built)...');
  buildLayer();
  // The sandbox runs the agent from the release's image, built offline from inputs fetched once
  // (the platforms' Node from npm, the image's .debs from Debian); fetching again is a no-op.
  say('fetching the agent image\'s inputs (once; npm and Debian packages)...');
  execFileSync(process.execPath, [join(REPO, 'scripts/release.ts'), '--fetch'], { stdio: ['ignore', 'ignore', 'inherit'] });
  say('starting the sandbox cluster, unless it runs (the first start builds the agent image, about a minute)...');
  const { started } = await withLock(up);
  say(started ? 'the sandbox cluster is up (the demo started it and stops it at the end)' : 'a sandbox cluster already runs: the demo uses it and leaves it running');
  return { started };
}

export async function bringDownSandbox(): Promise<void> {
  await withLock(down);
}

/** Applies the demo workload and waits until both Deployments are available. */
export async function deployWorkload(say: (line: string) => void): Promise<void> {
  say(`deploying the demo workload (${WORKLOAD}: ip-visit-counter, which calls ip-info)...`);
  await kubectl(['apply', '-f', join(REPO, WORKLOAD)]);
  await kubectl(['wait', '--for=condition=Available', 'deployment/ip-info', 'deployment/ip-visit-counter', '--timeout=120s']);
}

export async function clusterTruth(): Promise<ClusterTruth> {
  const greeting = await kubectl(['get', 'configmap', 'ip-visit-counter', '-o', 'jsonpath={.data.GREETING}']);
  const apiKey64 = await kubectl(['get', 'secret', 'ip-visit-counter', '-o', 'jsonpath={.data.api-key}']);
  return { greeting, apiKey: Buffer.from(apiKey64, 'base64').toString('utf8').trim() };
}

/** The ip-visit-counter pod's log so far (every pod of the Deployment; there is one). */
export async function podLog(): Promise<string> {
  return await kubectl(['logs', '-l', 'app=ip-visit-counter', '--tail=-1']);
}
